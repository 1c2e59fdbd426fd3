"""Reference runs for the engine seam: what a run records must not change when code moves.

``python tests/seam_reference.py --write`` made ``tests/fixtures/seam_reference/`` with the code *before* the
engine layer was split (commit in ``manifest.json``); ``tests/test_seam.py`` makes the same runs with the code of
today and compares every recorded file byte for byte. The runs use the committed tiny model in
``fixtures/seam_reference/tiny`` (weights, tokenizer and chat template fixed on disk, so its content hash, the
cache keys and every prompt hash are the same on any machine) through the ``c2`` CLI:

* ``eval-transformers``: ``c2 eval run`` on the transformers engine, seeded sampling (top-p 1.0), judged by
  ``hf:tiny`` (greedy, through the same engine, with its own generation cache);
* ``eval-openai``: ``c2 eval run --engine openai --preset paper`` against ``fake_completions`` (an opener per
  path, the generation-config top-k);
* ``syn-transformers``: ``c2 syn build`` (greedy) on the transformers engine. The model's greedy SRs are blank,
  so C2-Syn generates them again, sampled with the next seed: that cache and the SRs in the rows were recorded
  later, when this was added (``manifest.json`` "syn_sr_regeneration", with the margins of those draws).

Recorded per run: ``generations.jsonl``, every generation cache's ``key.json`` and ``rows.jsonl`` under its key
hash, the judge's generation cache, the settings parts of ``config.json`` / ``build.json`` that generation
depends on, and the C2-Syn rows (parquet, as JSON lines). C2-Syn's build id (its fingerprint, the name of its
cache folder and data files) is left out: the reference was made when the id named a local generator by its
absolute path, which differs between work directories (it now names it ``local:<folder name>`` with its content
hash); the rows of its generation cache are compared under the name ``BUILD``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REFERENCE = Path(__file__).parent / "fixtures" / "seam_reference"
MODEL = "tiny"  # the committed model, copied into the work directory and named by this relative path
RECORD = "record"  # REFERENCE / RECORD holds the recorded files, by run

# Parts of config.json / build.json that generation depends on (the rest holds versions, ports and times).
CONFIG_KEYS = ("sampling", "model_identity", "chat_template_sha256", "batch_tokens_used", "generation_config")
ENGINE_INFO_KEYS = ("name", "sampler", "served_model", "decoded_by", "batch_tokens")
BUILD_KEYS = ("sampling", "chat_template_sha256", "chunk_ids_sha256")
GENERATOR_KEYS = ("content_sha256", "dtype", "is_tiny", "load_in_4bit")  # not "model": an absolute path

EVAL_ARGS = ["eval", "run", "--model", MODEL, "--limit", "2", "--ks", "10,20", "--max-new-tokens", "8"]


def _cli(args: list[str]) -> None:
    from c2kit.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    if code != 0:
        raise RuntimeError(f"c2 {' '.join(args)} exited with {code}")


def _run_all(work: Path) -> None:
    """The reference runs, made in ``work`` (the current directory) with the model at ``work/tiny``."""
    from fake_completions import FakeCompletionsServer
    from transformers import AutoTokenizer

    _cli([*EVAL_ARGS, "--paths", "2", "--top-p", "1.0", "--judge", f"hf:{MODEL}", "--accept-unparsed",
          "--out", "eval-transformers"])
    with FakeCompletionsServer(AutoTokenizer.from_pretrained(MODEL)) as server:
        _cli([*EVAL_ARGS, "--paths", "3", "--engine", "openai", "--base-url", server.url, "--preset", "paper",
              "--no-load-in-4bit", "--out", "eval-openai"])
    _cli(["syn", "build", "--source", "c2eval-500", "--generator", MODEL, "--limit", "2", "--chunk-size", "2",
          "--max-new-tokens", "6", "--no-progress", "--out", "syn-transformers"])


def _json_text(value) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _config_record(path: Path) -> str:
    config = json.loads(path.read_text(encoding="utf-8"))
    record = {key: config[key] for key in CONFIG_KEYS if key in config}
    record["engine_info"] = {key: config["engine_info"][key] for key in ENGINE_INFO_KEYS
                             if key in config["engine_info"]}
    return _json_text(record)


def _syn_cache_name(folder: Path) -> str:
    """A C2-Syn generation cache by what it holds: ``BUILD``, or ``BUILD-regeneration-seed-N`` for the cache of
    the blank SRs generated again with seed N (their key names the build id, left out as said above)."""
    regeneration = json.loads((folder / "key.json").read_text(encoding="utf-8")).get("regeneration")
    return "BUILD" if regeneration is None else f"BUILD-regeneration-seed-{regeneration['seed']}"


def _records(work: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of every recorded file of the runs in ``work``."""
    import pyarrow.parquet as pq

    for run in sorted(path for path in work.iterdir() if path.is_dir() and path.name != MODEL):
        syn = (run / "build.json").exists()
        for path in sorted(run.rglob("*")):
            name = path.relative_to(work).as_posix()
            if syn and path.parent.parent.name.startswith("shard-"):  # cache/shard-i-of-n/<build id>/...
                name = (path.parent.parent / _syn_cache_name(path.parent) / path.name).relative_to(work).as_posix()
            if path.name in ("generations.jsonl", "rows.jsonl") or (path.name == "key.json" and not syn):
                yield name, path.read_text(encoding="utf-8")
            elif path.name == "config.json" and path.parent == run:
                yield name, _config_record(path)
            elif path.name == "build.json":
                build = json.loads(path.read_text(encoding="utf-8"))
                record = {key: build[key] for key in BUILD_KEYS}
                record["generator"] = {key: build["generator"][key] for key in GENERATOR_KEYS}
                yield name, _json_text(record)
            elif path.suffix == ".parquet" and path.parent.name in ("ranked", "pairs"):
                rows = pq.read_table(path).to_pylist()
                yield f"{run.name}/{path.parent.name}.jsonl", "".join(
                    json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)


def make_records(work: Path) -> dict[str, str]:
    """Make the reference runs in the empty directory ``work`` with the code of today; their recorded files."""
    shutil.copytree(REFERENCE / MODEL, work / MODEL)
    with contextlib.chdir(work):
        _run_all(work)
    return dict(_records(work))


def reference_records() -> dict[str, str]:
    base = REFERENCE / RECORD
    return {path.relative_to(base).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(base.rglob("*")) if path.is_file()}


# ---------------------------------------------------------------------------------------------------------
# Writing the reference (once, with the code before the change)


@contextlib.contextmanager
def measuring_margins() -> Iterator[dict[str, float]]:
    """How far every generated token was from changing: recorded so the reference is known to be stable.

    Seeded sampling: the distance of each draw's target from the nearest edge of its token's cumulative
    probability interval. Greedy: the gap between the two largest logits (relative to the largest magnitude).
    A float32 forward pass can differ in its last bits between CPUs (kernel choice); a token changes only when
    such a difference exceeds these margins.
    """
    import torch
    from transformers import LlamaForCausalLM

    from c2kit.engines.transformers_engine import SeededSampler, uniform_draws

    margins = {"sampled": float("inf"), "greedy": float("inf"), "sampled_draws": 0, "greedy_steps": 0}
    greedy = {"on": False}
    original_call, original_generate, original_forward = (SeededSampler.__call__, LlamaForCausalLM.generate,
                                                          LlamaForCausalLM.forward)

    def call(self, input_ids, scores):
        warped = self.warpers(input_ids, scores)
        cdf = torch.softmax(warped.float(), dim=-1).cumsum(dim=-1)
        target = uniform_draws(self.keys.to(scores.device), input_ids.shape[1] - self.prompt_length) * cdf[:, -1:]
        choice = torch.searchsorted(cdf, target).clamp_(max=scores.shape[-1] - 1)
        upper = cdf.gather(1, choice)
        lower = torch.where(choice > 0, cdf.gather(1, (choice - 1).clamp_(min=0)), torch.zeros_like(upper))
        margin = torch.minimum(target - lower, upper - target).min().item()
        margins["sampled"] = min(margins["sampled"], margin)
        margins["sampled_draws"] += len(input_ids)
        return original_call(self, input_ids, scores)

    def generate(self, *args, **kwargs):
        greedy["on"] = not kwargs.get("do_sample", False)
        try:
            return original_generate(self, *args, **kwargs)
        finally:
            greedy["on"] = False

    def forward(self, *args, **kwargs):
        output = original_forward(self, *args, **kwargs)
        if greedy["on"]:
            last = output.logits[:, -1, :].float()
            top = last.topk(2, dim=-1).values
            gap = ((top[:, 0] - top[:, 1]) / last.abs().amax(dim=-1)).min().item()
            margins["greedy"] = min(margins["greedy"], gap)
            margins["greedy_steps"] += len(last)
        return output

    SeededSampler.__call__, LlamaForCausalLM.generate, LlamaForCausalLM.forward = call, generate, forward
    try:
        yield margins
    finally:
        SeededSampler.__call__, LlamaForCausalLM.generate, LlamaForCausalLM.forward = (
            original_call, original_generate, original_forward)


def write_reference(work: Path) -> dict:
    """Build the tiny model (if absent), make the runs, and write their records and ``manifest.json``."""
    import torch
    import transformers

    from c2kit.tiny import build_tiny_chat_model

    if not (REFERENCE / MODEL).exists():
        build_tiny_chat_model(REFERENCE / MODEL, hidden_size=16, num_layers=1, vocab_size=512, num_heads=2,
                              num_kv_heads=1)
    with measuring_margins() as margins:
        records = make_records(work)
    shutil.rmtree(REFERENCE / RECORD, ignore_errors=True)
    for name, text in records.items():
        path = REFERENCE / RECORD / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=REFERENCE).stdout.strip()
    manifest = {"made_with_commit": commit, "torch": torch.__version__, "transformers": transformers.__version__,
                "margins": margins, "files": len(records)}
    (REFERENCE / "manifest.json").write_text(_json_text(manifest), encoding="utf-8")
    return manifest


if __name__ == "__main__":
    import os
    import tempfile

    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="(re)write the reference with the code checked out")
    if not parser.parse_args().write:
        parser.error("the comparison is tests/test_seam.py; --write makes the reference")
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(write_reference(Path(tmp)), indent=1))
    sys.exit(0)
