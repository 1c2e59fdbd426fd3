"""The same prompts and the same numbers through ``c2 eval run``, the lm-eval task and the Inspect task.

* Prompts: the same (item, k) rendered for two tiny chat models of different templates (ChatML, and Llama-2's
  ``[INST]`` with a BOS token) has identical token ids in all three: c2's own rendering, lm-eval's context encoded as
  its HF backend encodes it, and the ``c2/`` Inspect provider's input (the prompt it recorded in a real run).
* Numbers: given the same continuations, each harness's Corr@k and Corr_mean equal ``c2 eval score``'s.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is installed with the 'harness' extra (pip install -e .[harness])")
pytest.importorskip("inspect_ai", reason="inspect-ai is installed with the 'harness' extra")

from c2kit.cli import main  # noqa: E402
from c2kit.harness import lm_eval_path  # noqa: E402
from c2kit.harness.items import prefill_items  # noqa: E402
from c2kit.prefill import build_prefills  # noqa: E402
from c2kit.sources import load_source  # noqa: E402

ITEMS = 3
KS = [10, 80]
LLAMA2_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)
CORRECTING = ("However, I cannot help with this: it is illegal and dangerous.",
              "I'm sorry, but I can't continue with this request.")
COMPLYING = ("Step one is to gather the materials and wait for the night.",
             "Then you add the second part and mix it well.")


@pytest.fixture(scope="module")
def llama2_model_dir(tiny_model_dir, tmp_path_factory) -> str:
    """The tiny model with a Llama-2 style template and a BOS token (which the template writes)."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-llama2") / "model"
    shutil.copytree(tiny_model_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.bos_token = "<|endoftext|>"
    tokenizer.chat_template = LLAMA2_TEMPLATE
    tokenizer.save_pretrained(folder)
    return str(folder)


def _c2_prompts(model_dir: str) -> dict[tuple[str, int], tuple[str, tuple[int, ...]]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = load_source(limit=ITEMS).rows
    prompts = build_prefills(tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows], KS)
    return {(p.item_id, p.k): (p.prompt, p.prompt_ids) for p in prompts}


def _lm_eval_prompt_ids(model_dir: str) -> dict[tuple[str, int], tuple[int, ...]]:
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager, get_task_dict

    lm = HFLM(pretrained=model_dir, device="cpu", dtype="float32")
    manager = TaskManager(include_path=str(lm_eval_path()), include_defaults=False)
    found = {}
    for task in get_task_dict([f"c2_eval_k{k}" for k in KS], manager).values():
        task.build_all_requests(limit=ITEMS, apply_chat_template=True, chat_template=lm.apply_chat_template)
        for instance in task.instances:
            ids, _ = lm.tok_batch_encode([instance.args[0]])  # what HFLM.generate_until encodes
            found[(instance.doc["item_id"], instance.doc["k"])] = tuple(ids[0].tolist())
    return found


def _inspect_prompts(model_dir: str, log_dir) -> dict[tuple[str, int], tuple[str, tuple[int, ...]]]:
    from inspect_ai import eval as inspect_eval

    from c2_toolkit.c2_eval import c2_eval
    from c2_toolkit.provider import C2ModelAPI

    (log,) = inspect_eval(c2_eval(k=KS, items=ITEMS), model=f"c2/{model_dir}", epochs=1, log_dir=str(log_dir),
                          display="none", max_tokens=2, log_realtime=False)
    assert log.status == "success"
    provider = C2ModelAPI(model_dir)
    found = {}
    for sample in log.samples:
        text, ids = provider.render(sample.messages[:2])  # the input the run sent: [user, assistant prefix]
        assert text == sample.output.metadata["prompt"]
        found[(sample.metadata["item_id"], sample.metadata["k"])] = (text, ids)
    return found


@pytest.mark.parametrize("template", ["chatml", "llama2"])
def test_prompt_token_ids_are_identical_in_c2_lm_eval_and_inspect(template, tiny_model_dir, llama2_model_dir,
                                                                  tmp_path):
    model_dir = tiny_model_dir if template == "chatml" else llama2_model_dir
    c2 = _c2_prompts(model_dir)
    assert len(c2) == ITEMS * len(KS)
    marker = "<|im_start|>assistant\n" if template == "chatml" else " [/INST] "
    assert all(marker in text for text, _ in c2.values())
    if template == "llama2":  # the BOS is written by the template once, never added a second time
        assert all(text.startswith("<|endoftext|>[INST]") and ids.count(ids[0]) == 1 for text, ids in c2.values())
    assert _lm_eval_prompt_ids(model_dir) == {key: ids for key, (_, ids) in c2.items()}
    assert _inspect_prompts(model_dir, tmp_path) == c2


def _continuations() -> dict[tuple[str, int], list[str]]:
    """20 paths per (item, k) of the first ITEMS items at every k, with a share of corrections that varies by cell."""
    table = {}
    for item in prefill_items(limit=ITEMS):
        corrected = int(hashlib.sha256(f"{item.item_id}:{item.k}".encode()).hexdigest(), 16) % 21
        table[(item.item_id, item.k)] = [CORRECTING[p % 2] if p < corrected else COMPLYING[p % 2] for p in range(20)]
    return table


def _c2_score(tmp_path) -> dict:
    """c2 eval score on the continuations, written as a results directory's generations.jsonl."""
    source = tmp_path / "generations"
    source.mkdir()
    continuations = _continuations()
    rows = [{"item_id": item.item_id, "k": item.k, "path": path, "request": item.request, "prefix": item.prefix,
             "continuation": text}
            for item in prefill_items(limit=ITEMS) for path, text in enumerate(continuations[(item.item_id, item.k)])]
    (source / "generations.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["eval", "score", "--results", str(source), "--judge", "keyword", "--out", str(tmp_path / "c2")]) == 0
    return json.loads((tmp_path / "c2" / "scores.json").read_text())


def _lm_eval_scores() -> dict[str, float]:
    """lm-eval's whole pipeline (repeats, the task's filter, process_results, aggregation, the group) on a model
    that answers each (item, k)'s repeats with its continuations."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    class Replay(LM):
        def __init__(self):
            super().__init__()
            self.left = {key: list(paths) for key, paths in _continuations().items()}

        def generate_until(self, requests, disable_tqdm: bool = False):
            return [self.left[(r.doc["item_id"], r.doc["k"])].pop() for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    manager = TaskManager(include_path=str(lm_eval_path()), include_defaults=False)
    results = simple_evaluate(model=Replay(), tasks=["c2_eval"], task_manager=manager, limit=ITEMS,
                              bootstrap_iters=0)
    figures = {k: results["results"][f"c2_eval_k{k}"]["corr,all_paths"] for k in range(10, 90, 10)}
    return {**{str(k): value for k, value in figures.items()}, "mean": results["groups"]["c2_eval"]["corr,all_paths"]}


def _inspect_scores(tmp_path) -> dict[str, float]:
    """Inspect's run of the task (epochs, the mean reducer, the scorer, the grouped metric) on a model that answers
    each (item, k)'s epochs with its continuations."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from c2_toolkit.c2_eval import c2_eval

    left = {key: list(paths) for key, paths in _continuations().items()}
    by_text = {(item.request, item.prefix): (item.item_id, item.k) for item in prefill_items(limit=ITEMS)}

    def answer(messages, tools, tool_choice, config):
        key = by_text[(messages[0].text, messages[1].text)]
        output = ModelOutput.from_content(model="replay", content=left[key].pop())
        # Usage given, so mockllm does not count tokens with tiktoken (whose tables it would download).
        return output.model_copy(update={"usage": ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)})

    model = get_model("mockllm/replay", custom_outputs=answer)
    # No sample log: the metrics are computed from the scores in memory, and writing 480 samples doubles the time.
    (log,) = inspect_eval(c2_eval(items=ITEMS), model=model, log_dir=str(tmp_path / "inspect"), display="none",
                          log_samples=False)
    assert log.status == "success", log.error
    assert all(not paths for paths in left.values())
    metrics = log.results.scores[0].metrics
    return {**{str(k): metrics[f"Corr@{k}"].value for k in range(10, 90, 10)}, "mean": metrics["Corr_mean"].value}


def test_given_the_same_continuations_each_harness_gives_c2_eval_scores_numbers(tmp_path):
    c2 = _c2_score(tmp_path)
    expected = {**c2["corr_at_k"], "mean": c2["corr_mean"]}
    assert 0 < c2["corr_mean"] < 1 and len(set(c2["corr_at_k"].values())) > 1  # a design that can tell them apart
    assert _lm_eval_scores() == pytest.approx(expected, abs=1e-12)
    assert _inspect_scores(tmp_path) == pytest.approx(expected, abs=1e-12)
