"""``c2 publish metric``: the C2-Eval ``evaluate`` module as a Hub Space, so ``evaluate.load("ORG/NAME")`` works.

``evaluate.load("ORG/NAME")`` downloads ``NAME.py`` from the Space ``ORG/NAME`` plus the files it imports
relatively, so the Space holds the module files chosen by ``c2_eval_metric.space_files`` (the module renamed
to ``NAME.py`` and its sibling ``corr.py``), its ``requirements.txt``, an ``app.py`` with ``evaluate``'s Gradio
widget, and a Space card. Before anything is uploaded the staged module is loaded with ``evaluate.load`` and
run on a small example, whose real output goes into the card.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from c2kit.protocol import DEFAULT_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P

from .cards import METRIC_TEMPLATE, parse_card, render_card
from .hub import FileSource, PublishError, PublishResult, check_repo_id, publish_files, stage_files

# evaluate's Gradio widget (evaluate.utils.launch_gradio_widget) uses the Gradio 3 API; evaluate's own
# module template pins the same SDK version.
GRADIO_SDK_VERSION = "3.19.1"
APP_FILE = "app.py"
APP_SOURCE = '''import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("{repo_id}")
launch_gradio_widget(module)
'''
MODULE_CARD = "README.md"  # the module's own card, shipped by c2_eval_metric; its text opens the Space card
REQUIRED_TAGS = ("evaluate", "metric")

# Two items, two k values, two paths each: Corr@10 = mean(1/2, 0/2) = 0.25, Corr@20 = mean(2/2, 1/2) = 0.75.
EXAMPLE_INPUTS: dict[str, Any] = {
    "predictions": [True, False, True, True, False, False, True, False],
    "item_ids": ["a", "a", "a", "a", "b", "b", "b", "b"],
    "ks": [10, 10, 20, 20, 10, 10, 20, 20],
}


def _example_call(judge: str) -> str:
    arguments = {**EXAMPLE_INPUTS, "judge": judge}
    return ", ".join(f"{name}={value!r}" for name, value in arguments.items())


def run_staged_module(module_files: dict[str, Path], space_name: str, judge: str):
    """Load the module files as ``evaluate`` will from the Space and compute the example; returns (module, result)."""
    import evaluate

    with tempfile.TemporaryDirectory(prefix="c2-metric-") as tmp:
        folder = Path(tmp) / space_name  # evaluate.load(DIR) runs DIR/<DIR name>.py, like NAME.py on the Space
        stage_files(module_files, folder)
        try:
            module = evaluate.load(str(folder))
            result = module.compute(**EXAMPLE_INPUTS, judge=judge)
        except Exception as error:
            raise PublishError(f"the metric module does not load or run with evaluate: {error}") from error
    return module, result


def _compact_json(result: dict) -> str:
    """JSON with one top-level key per line: readable in a card without one line per list element."""
    return "{\n" + ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in result.items()) + "\n}"


def judge_lines() -> list[str]:
    """One line per built-in judge, with the facts that identify it (pattern count and hash, prompt version)."""
    from c2kit.judges.keyword import NAME, PATTERNS, patterns_hash
    from c2kit.judges.openai_judge import PROMPT_VERSION

    return [
        f"`{NAME}` (default, offline): a documented list of {len(PATTERNS)} refusal/correction patterns "
        f"(hash `{patterns_hash()}`) applied to the continuation only; bare words such as \"However\" or "
        "\"illegal\" do not count.",
        f"`openai:MODEL` (e.g. `openai:gpt-4o`, the paper's judge at temperature 0): a yes/no question "
        f"(prompt `{PROMPT_VERSION}`) to any OpenAI-compatible chat API; the key comes from `OPENAI_API_KEY`.",
        "Your own: `c2kit.judges.register_judge(prefix, factory)` or a `c2kit.judges` entry point.",
    ]


def metric_card(module_card_text: str, module, result: dict, *, repo_id: str, module_file: str, judge: str) -> str:
    """The Space card: the module card's text and metadata, plus Space settings, judges and the computed example."""
    from huggingface_hub import SpaceCard, SpaceCardData

    module_card = parse_card(SpaceCard, module_card_text, source=f"c2_eval_metric/{MODULE_CARD}")
    metadata = module_card.data.to_dict()
    metadata.update(sdk="gradio", sdk_version=GRADIO_SDK_VERSION, app_file=APP_FILE)
    metadata["tags"] = list(dict.fromkeys([*REQUIRED_TAGS, *(metadata.get("tags") or [])]))
    features = module.features[0] if isinstance(module.features, list) else module.features
    card = render_card(
        SpaceCard,
        SpaceCardData(**metadata),
        METRIC_TEMPLATE,
        repo_id=repo_id,
        module_file=module_file,
        module_card=module_card.text.strip(),
        features=[(name, getattr(feature, "dtype", type(feature).__name__)) for name, feature in features.items()],
        inputs_description=module.inputs_description.strip(),
        ks=", ".join(str(k) for k in DEFAULT_KS),
        paths=DEFAULT_PATHS,
        max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
        temperature=DEFAULT_TEMPERATURE,
        top_p=DEFAULT_TOP_P,
        judges=judge_lines(),
        example_call=_example_call(judge),
        example_result=_compact_json(result),
    )
    return str(card)


def publish_metric(
    *,
    repo_id: str,
    public: bool = False,
    dry_run: bool = False,
    preview_dir: str | Path | None = None,
) -> PublishResult:
    """Check, preview or upload the C2-Eval metric module as the Space ``repo_id``."""
    from c2_eval_metric import METRIC_PATH, space_files

    from c2kit.judges.keyword import NAME as KEYWORD_JUDGE

    check_repo_id(repo_id)
    space_name = repo_id.split("/")[1]
    try:
        module_files = space_files(space_name)
    except ValueError as error:
        raise PublishError(f"--repo-id {repo_id!r}: {error}") from None
    card_source = module_files.pop(MODULE_CARD, None)
    if card_source is None:
        raise PublishError(f"c2_eval_metric.space_files() lists no {MODULE_CARD}: the Space card starts from it")
    module, result = run_staged_module(module_files, space_name, KEYWORD_JUDGE)
    files: dict[str, FileSource] = dict(module_files)
    files[APP_FILE] = APP_SOURCE.format(repo_id=repo_id).encode("utf-8")
    files[MODULE_CARD] = metric_card(
        card_source.read_text(encoding="utf-8"), module, result,
        repo_id=repo_id, module_file=f"{space_name}.py", judge=KEYWORD_JUDGE,
    ).encode("utf-8")
    return publish_files(
        files,
        repo_id=repo_id,
        repo_type="space",
        space_sdk="gradio",
        public=public,
        dry_run=dry_run,
        preview_dir=preview_dir,
        commit_message="Publish the C2-Eval evaluate metric with c2-toolkit",
        roots=[Path(METRIC_PATH)],
    )
