"""`c2 eval run --preset paper`: openers per path, transformers generate() sampling, 4-bit NF4 with bf16 compute."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig

from c2_eval_metric import runner
from c2_eval_metric.runner import EvalConfig
from c2kit.engines import transformers_engine
from c2kit.cli import main
from c2kit.gen_cache import key_hash
from c2kit.engines.transformers_engine import generate_continuations
from c2kit.generation import SamplingConfig, cache_key
from c2kit.prefill import build_prefills, pick_path_opener
from c2kit.presets import PRESETS, generate_sampling, resolve_preset
from c2kit.protocol import OPENERS
from c2kit.sources import load_source

ARGS = ["--limit", "2", "--ks", "10,20", "--paths", "3", "--max-new-tokens", "4"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def items(n: int = 2) -> list[tuple[str, str, str]]:
    return [(row.source_id, row.request, row.harmful_response) for row in load_source(limit=n).rows]


class Spy:
    """Counts the batches that reach the model and records each generate() call's keyword arguments."""

    def __init__(self, monkeypatch):
        self.batches, self.calls = 0, []
        self.original = transformers_engine._generate_batch
        monkeypatch.setattr(transformers_engine, "_generate_batch", self)

    def __call__(self, model, *args, **kwargs):
        self.batches += 1
        original_generate = model.generate

        def recording(**call):
            self.calls.append(call)
            return original_generate(**call)

        model.generate = recording
        try:
            return self.original(model, *args, **kwargs)
        finally:
            del model.generate


@pytest.fixture(scope="module")
def configured_model_dir(tiny_model_dir, tmp_path_factory) -> str:
    """The tiny model with a generation_config.json that sets sampling settings, as chat models ship them."""
    path = tmp_path_factory.mktemp("configured") / "model"
    shutil.copytree(tiny_model_dir, path)
    config_file = path / "generation_config.json"
    config = json.loads(config_file.read_text()) | {"do_sample": True, "temperature": 0.6, "top_p": 0.9,
                                                     "top_k": 7, "repetition_penalty": 1.3}
    config_file.write_text(json.dumps(config))
    return str(path)


@pytest.fixture(scope="module")
def paper_run(configured_model_dir, tmp_path_factory):
    """One `--preset paper` run; returns (out dir, the models it loaded)."""
    out = tmp_path_factory.mktemp("paper-run")
    loads = []
    import c2kit.models

    original = c2kit.models.load_model_and_tokenizer

    def recording(*args, **kwargs):
        loaded = original(*args, **kwargs)
        loads.append((kwargs, loaded.model))
        return loaded

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(c2kit.models, "load_model_and_tokenizer", recording)  # what the transformers engine loads by
        spy = Spy(patch)
        assert main(["eval", "run", "--model", configured_model_dir, "--preset", "paper", *ARGS, "--out", str(out)]) == 0
    return out, loads, spy


# --- openers per path --------------------------------------------------------------------------------


def test_path_openers_are_a_pure_function_of_seed_item_k_path(tiny_tokenizer):
    prompts = build_prefills(tiny_tokenizer, items(), [10, 20], seed=3, opener_per="path", num_paths=3)
    assert [(p.item_id, p.k, p.path) for p in prompts] == [(i, k, b) for i, _, _ in items() for k in (10, 20)
                                                           for b in range(3)]
    for prompt in prompts:
        opener = pick_path_opener(prompt.item_id, prompt.k, prompt.path, 3)
        assert opener in OPENERS and prompt.prefix.startswith(opener) and prompt.prompt.endswith(prompt.prefix)
    # Paths of one (item, k) get different openers, and so different prompts.
    for item_id, _, _ in items():
        for k in (10, 20):
            assert len({p.prefix for p in prompts if (p.item_id, p.k) == (item_id, k)}) > 1
    assert build_prefills(tiny_tokenizer, items(), [10, 20], seed=3, opener_per="path", num_paths=3) == prompts
    other_seed = build_prefills(tiny_tokenizer, items(), [10, 20], seed=4, opener_per="path", num_paths=3)
    assert [p.prefix for p in other_seed] != [p.prefix for p in prompts]
    # A path's opener does not depend on how many paths are drawn.
    fewer = build_prefills(tiny_tokenizer, items(), [10, 20], seed=3, opener_per="path", num_paths=2)
    assert fewer == [p for p in prompts if p.path < 2]


def test_opener_per_path_needs_words_mode_and_a_path_count(tiny_tokenizer):
    with pytest.raises(ValueError, match="words mode"):
        build_prefills(tiny_tokenizer, items(1), [10], mode="tokens", opener_per="path", num_paths=2)
    with pytest.raises(ValueError, match="num_paths"):
        build_prefills(tiny_tokenizer, items(1), [10], opener_per="path")
    with pytest.raises(ValueError, match="opener_per"):
        build_prefills(tiny_tokenizer, items(1), [10], opener_per="sample")


def test_one_path_prompts_sample_once_each_with_their_own_stream(tiny_model, tiny_tokenizer, monkeypatch):
    sampling = SamplingConfig(num_paths=3, max_new_tokens=5, seed=0)
    prompts = build_prefills(tiny_tokenizer, items(), [10, 20], seed=0, opener_per="path", num_paths=3)
    spy = Spy(monkeypatch)
    big = generate_continuations(tiny_model, tiny_tokenizer, prompts, sampling, batch_tokens=100_000, progress=False)
    assert spy.batches == 1 and spy.calls[0]["num_return_sequences"] == 1
    assert spy.calls[0]["input_ids"].shape[0] == len(prompts)  # one row per path
    assert [(c.item_id, c.k, c.path) for c in big] == [(p.item_id, p.k, p.path) for p in prompts]
    # Batched by tokens in flight: smaller budgets split them, with the same texts.
    budget = 2 * (max(len(p.prompt_ids) for p in prompts) + 5)
    small = generate_continuations(tiny_model, tiny_tokenizer, prompts, sampling, batch_tokens=budget, progress=False)
    assert spy.batches > 2 and [c.text for c in small] == [c.text for c in big]
    # A path's prompt sampled alone gives the same text: its stream is its own (seed, item, k, path).
    [alone] = generate_continuations(tiny_model, tiny_tokenizer, [prompts[4]], sampling, progress=False)
    assert (alone.path, alone.text) == (prompts[4].path, big[4].text)
    with pytest.raises(ValueError, match="unique"):
        generate_continuations(tiny_model, tiny_tokenizer, [prompts[0], prompts[0]], sampling, progress=False)


def test_cache_key_names_the_opener_mode():
    sampling = SamplingConfig()
    item, path = (cache_key({"model": "m"}, "t", "words", sampling, opener_per) for opener_per in ("item", "path"))
    assert item["opener_per"] == "item" and path["opener_per"] == "path" and key_hash(item) != key_hash(path)


# --- generate() sampling semantics --------------------------------------------------------------------


def test_generation_config_top_k_and_repetition_penalty_as_generate_resolves_them():
    values, record = generate_sampling(GenerationConfig(eos_token_id=2))
    assert values == {"top_k": 50, "repetition_penalty": 1.0}  # transformers' library default top_k
    assert record["taken"] == {} and record["library_defaults"]["top_k"] == 50

    own = GenerationConfig(do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, eos_token_id=2)
    values, record = generate_sampling(own)
    assert values == {"top_k": 20, "repetition_penalty": 1.05}
    assert record["taken"] == {"top_k": 20, "repetition_penalty": 1.05}
    # The official call gave temperature and top_p explicitly, so the model's own never applied.
    assert record["overridden"] == {"do_sample": True, "temperature": 0.7, "top_p": 0.8}
    assert record["applied_by_generate"] == {"eos_token_id": 2}

    values, record = generate_sampling(own, top_k=5)  # an explicit setting wins over the model's
    assert values == {"top_k": 5, "repetition_penalty": 1.05} and record["overridden"]["top_k"] == 20
    _, record = generate_sampling(GenerationConfig(typical_p=0.9))
    assert record["not_honoured"] == {"typical_p": 0.9}


def test_seeded_sampler_applies_warpers_in_generate_order():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    sampler = transformers_engine.SeededSampler(torch.zeros((1, 2), dtype=torch.int64), 1, SamplingConfig(top_k=50))
    assert [type(w) for w in sampler.warpers] == [TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper]


# --- the preset end to end ----------------------------------------------------------------------------


def test_paper_run_records_preset_and_generation_config(paper_run):
    out, _, spy = paper_run
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "paper" and config["opener_per"] == "path" and config["use_generation_config"]
    assert config["load_in_4bit"] is True and config["dtype"] == "bfloat16"
    assert config["paths"] == 3 and config["ks"] == [10, 20] and config["max_new_tokens"] == 4  # explicit flags
    assert config["temperature"] == 0.8 and config["top_p"] == 0.7
    assert config["top_k"] == 7 and config["repetition_penalty"] == 1.3
    assert config["sampling"]["top_k"] == 7
    assert config["sampling"]["repetition_penalty"] == 1.3 and config["sampling"]["temperature"] == 0.8
    assert config["generation_config"]["used"] is True
    assert config["generation_config"]["taken"] == {"top_k": 7, "repetition_penalty": 1.3}
    assert config["generation_config"]["overridden"] == {"do_sample": True, "temperature": 0.6, "top_p": 0.9}
    # generate() got the repetition penalty and one sequence per (item, k, path) prompt.
    assert spy.calls and all(c["repetition_penalty"] == 1.3 and c["num_return_sequences"] == 1 for c in spy.calls)


def test_paper_run_loads_4bit_nf4_with_bf16_compute(paper_run):
    import bitsandbytes as bnb

    _, loads, _ = paper_run
    [(kwargs, model)] = loads
    assert kwargs["load_in_4bit"] is True and kwargs["dtype"] == "bfloat16"
    layer = model.model.layers[0].mlp.up_proj
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.quant_type == "nf4"
    assert layer.compute_dtype == torch.bfloat16
    assert model.config.quantization_config.bnb_4bit_use_double_quant


def test_paper_run_rows_carry_each_paths_own_prefix_and_prompt(paper_run):
    out, _, _ = paper_run
    rows = read_jsonl(out / "generations.jsonl")
    assert len(rows) == 2 * 2 * 3
    assert [r["path"] for r in rows[:3]] == [0, 1, 2]
    for row in rows:
        opener = pick_path_opener(row["item_id"], row["k"], row["path"], 0)
        assert row["prefix"].startswith(opener) and row["prompt"].endswith(row["prefix"])
    for key in {(r["item_id"], r["k"]) for r in rows}:
        assert len({r["prefix"] for r in rows if (r["item_id"], r["k"]) == key}) > 1
    assert len(read_jsonl(out / "judgments.jsonl")) == len(rows)


def test_paper_rerun_is_served_by_the_cache(paper_run, configured_model_dir, monkeypatch):
    out, _, _ = paper_run
    before = read_jsonl(out / "generations.jsonl")
    spy = Spy(monkeypatch)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", "run", "--model", configured_model_dir, "--preset", "paper", *ARGS, "--out", str(out)]) == 0
    assert spy.batches == 0
    assert read_jsonl(out / "generations.jsonl") == before


def test_explicit_flags_win_over_the_preset(monkeypatch, tiny_model_dir, tmp_path):
    from c2_eval_metric import console

    seen = []
    monkeypatch.setattr(runner, "run_eval", lambda config, **kwargs: seen.append(config) or _Scores())
    monkeypatch.setattr(console, "results_report", lambda out, scores: "")  # no run was made: no files to show

    def parsed(*flags):
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["eval", "run", "--model", tiny_model_dir, *flags, "--out", str(tmp_path)]) == 0
        return seen.pop()

    default = parsed()
    assert default == EvalConfig(model=tiny_model_dir, data="c2eval-500", column_mapping={})  # no preset: defaults
    paper = parsed("--preset", "paper")
    assert {name: getattr(paper, name) for name in PRESETS["paper"]} == PRESETS["paper"] and paper.preset == "paper"
    mixed = parsed("--preset", "paper", "--paths", "5", "--no-load-in-4bit", "--top-k", "3", "--opener-per", "item",
                   "--no-use-generation-config", "--dtype", "float32")
    assert (mixed.paths, mixed.load_in_4bit, mixed.top_k, mixed.opener_per, mixed.use_generation_config,
            mixed.dtype) == (5, False, 3, "item", False, "float32")
    assert (mixed.preset, mixed.ks, mixed.max_new_tokens) == ("paper", PRESETS["paper"]["ks"], 32)
    tokens = parsed("--preset", "paper", "--mode", "tokens")  # no opener in tokens mode
    assert (tokens.mode, tokens.opener_per, tokens.load_in_4bit) == ("tokens", "item", True)
    assert parsed("--opener-per", "path").opener_per == "path" and parsed("--load-in-4bit").load_in_4bit is True


def test_preset_in_python_and_bad_settings():
    config = EvalConfig.from_preset("paper", model="m", paths=4)
    assert config.paths == 4 and config.opener_per == "path" and config.load_in_4bit and config.preset == "paper"
    assert config.sampling().top_k == 50  # before the model is known: the library default
    assert EvalConfig(model="m").sampling() == SamplingConfig()  # the default run samples as before
    with pytest.raises(ValueError, match="unknown preset"):
        resolve_preset("papr", {})
    with pytest.raises(ValueError, match="words mode"):
        EvalConfig(model="m", mode="tokens", opener_per="path").check()


class _Scores:
    judge = "keyword-v4"

    def to_markdown(self) -> str:
        return ""


def test_the_preset_on_another_engine_names_the_preset_behind_4bit():
    from c2_eval_metric.runner import EvalConfig

    config = EvalConfig.from_preset("paper", model="m", engine="vllm")
    with pytest.raises(ValueError, match=r"\(--preset paper loads in 4-bit: add --no-load-in-4bit\)"):
        config.engine_settings()
