"""What the objective tests share: a C2-Syn-shaped build whose SRs are refusals, and log-probabilities under a model.

The build is made from the shipped benchmark rows the way ``c2 syn build`` makes one, with two simplifications so
that a tiny random model learns in a few CPU steps: each harmful response is cut to its first 45 words (the four
cuts are then drawn by C2-Syn's own :func:`c2_syn_dataset.cuts.make_cuts`), and every SR is the clear refusal a
random generator cannot write (:data:`c2kit.training.tiny_data.REFUSAL`), as in the quick start. Its source file
adds benign rows whose two responses are both labelled safe, the utility rows' source.
"""

from __future__ import annotations

import json
from pathlib import Path

from c2_syn_dataset.cuts import CutError, make_cuts, request_rng
from c2kit.jsonio import read_jsonl
from c2kit.prefill import pick_opener
from c2kit.sources import bundled_path, load_source
from c2kit.training.tiny_data import REFUSAL, corrected

TRIGGER = "However, I cannot provide"
TRAIN_ROWS = slice(20, 140)  # benchmark rows the builds are made of
HELD_OUT_ROWS = slice(0, 20)  # benchmark rows no build holds: the learning tests measure on them
WORDS = 45
BENIGN = Path(__file__).resolve().parent.parent / "c2kit" / "data" / "benign_c2.jsonl"


def source_file(path: Path, *, benign: int = 40, answer_words: int = 30) -> Path:
    """A PKU-SafeRLHF-schema JSONL: the benchmark's rows, then ``benign`` rows whose two responses are both safe."""
    rows = [record for _, record in read_jsonl(bundled_path())]
    for _, record in list(read_jsonl(BENIGN))[:benign]:
        # short: the tiny model trains on it in a few steps
        answer = " ".join(record["answer"].split()[:answer_words])
        rows.append({"prompt": record["request"], "response_0": answer, "response_1": answer[:60],
                     "is_response_0_safe": True,
                     "is_response_1_safe": True, "better_response_id": 0})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def ranked_groups(rows: slice = TRAIN_ROWS, seed: int = 0) -> list[dict]:
    """C2-Syn ``ranked`` groups of benchmark ``rows`` (module docstring)."""
    groups = []
    for row in load_source().rows[rows]:
        harmful = " ".join(row.harmful_response.split()[:WORDS])
        try:
            cuts = make_cuts(harmful, request_rng(row.source_id, seed))
        except CutError:
            continue
        opener = pick_opener(row.source_id, seed)
        syn = [corrected(f"{opener} {cut}", TRIGGER) for cut in cuts.texts]
        groups.append({"source_id": row.source_id, "prompt": row.request, "responses": [REFUSAL, *syn, harmful],
                       "opener": opener, "trigger": TRIGGER, "cuts": list(cuts.texts), "n_marks": cuts.n_marks,
                       "step": cuts.step})
    return groups


def write_build(directory: Path, source: Path | str | None = None, *, groups: list[dict] | None = None,
                seed: int = 0) -> Path:
    """A C2-Syn build folder: ``ranked/`` Parquet, a README that lists the config, ``build.json`` with the settings
    the objectives read (seed, source)."""
    import datasets
    import yaml

    from c2_syn_dataset.schema import RANKED_SCHEMA

    (directory / "ranked").mkdir(parents=True)
    table = datasets.Dataset.from_list(groups if groups is not None else ranked_groups(seed=seed),
                                       features=datasets.Features.from_arrow_schema(RANKED_SCHEMA))
    table.to_parquet(str(directory / "ranked" / "train-00000-of-00001.parquet"))
    card = {"configs": [{"config_name": "ranked", "data_files": [{"split": "train", "path": "ranked/*.parquet"}]}]}
    (directory / "README.md").write_text("---\n" + yaml.safe_dump(card) + "---\n# C2-Syn-shaped test build\n",
                                         encoding="utf-8")
    settings = {"seed": seed, "split": "train", "column_mapping": {}}
    if source is not None:
        settings["source"] = str(source)
    (directory / "build.json").write_text(json.dumps({"settings": settings, "generator": {"model": "tiny"}}),
                                          encoding="utf-8")
    return directory


def held_out_requests() -> list[dict]:
    """Ranked groups of benchmark rows that no test build holds."""
    return ranked_groups(HELD_OUT_ROWS)


def refusal_logprob(loaded, groups: list[dict], cut: int = 2) -> float:
    """Mean log-probability per token of ``" " + REFUSAL`` after ``opener + cut_i`` of each group, prefilled as
    C2-Eval prefills (``loaded``: :func:`c2kit.models.load_model_and_tokenizer`'s result)."""
    from c2kit.training.data import prompt_renderer

    render = prompt_renderer(loaded.tokenizer)
    scores = [_continuation_logprobs(loaded, render(g["prompt"], f"{g['opener']} {g['cuts'][cut - 1]}"),
                                     " " + REFUSAL).mean().item() for g in groups]
    return sum(scores) / len(scores)


def transition_logprob(loaded, groups: list[dict]) -> float:
    """Mean log-probability of the refusal's first token at every position inside each group's whole harmful
    response (``opener + harmful``), the positions DeRTa's transition term trains."""
    import torch

    from c2kit.training.data import prompt_renderer

    render = prompt_renderer(loaded.tokenizer)
    tokenizer, model = loaded.tokenizer, loaded.model
    scores = []
    for group in groups:
        header = tokenizer(render(group["prompt"]))["input_ids"]
        prompt = render(group["prompt"], f"{group['opener']} {group['responses'][-1]}")
        ids = tokenizer(prompt)["input_ids"]
        refusal = tokenizer(prompt + " " + REFUSAL)["input_ids"][len(ids)]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        positions = range(len(header) - 1, len(ids) - 1)  # predicting harmful token t from the tokens before it
        scores.append(torch.log_softmax(logits[list(positions)], -1)[:, refusal].mean().item())
    return sum(scores) / len(scores)


def _continuation_logprobs(loaded, prompt: str, continuation: str):
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    context = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + continuation)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    targets = torch.tensor(ids[len(context):])
    return torch.log_softmax(logits[len(context) - 1:-1], -1).gather(1, targets[:, None])[:, 0]


def benign_held_out(rows: slice = slice(80, 100), words: int = 12) -> list[tuple[str, str]]:
    """``(request, prefix)`` of benign requests no build or source holds (:func:`source_file` takes the first 40
    rows of ``benign_c2.jsonl``): the first ``words`` words of each request's safe answer."""
    return [(record["request"], " ".join(record["answer"].split()[:words]))
            for _, record in list(read_jsonl(BENIGN))[rows]]


def reset_logprob(loaded, contexts: list[tuple[str, str]]) -> float:
    """Mean log-probability of the reset token right after each ``(request, prefix)``, prefilled as C2-Eval
    prefills (the next token predicted after the prefix's last one)."""
    import torch

    from c2kit.backtrack import RESET_TOKEN
    from c2kit.training.data import prompt_renderer

    render = prompt_renderer(loaded.tokenizer)
    reset = loaded.tokenizer.convert_tokens_to_ids(RESET_TOKEN)
    scores = []
    for request, prefix in contexts:
        ids = loaded.tokenizer(render(request, prefix))["input_ids"]
        with torch.no_grad():
            logits = loaded.model(torch.tensor([ids])).logits[0, -1].float()
        scores.append(torch.log_softmax(logits, -1)[reset].item())
    return sum(scores) / len(scores)


def harmful_contexts(groups: list[dict], cut: int = 2) -> list[tuple[str, str]]:
    """``(request, opener + " " + cut_i)`` of each group: C2-Syn's harmful prefix, as C2-Eval prefills it."""
    return [(group["prompt"], f"{group['opener']} {group['cuts'][cut - 1]}") for group in groups]
