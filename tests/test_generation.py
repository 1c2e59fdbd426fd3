"""Model loading, seeded batched generation and the generation cache, on the tiny offline model (CPU)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from c2kit.gen_cache import CacheError, CachedRow, GenerationCache, key_hash, prompt_fingerprint
from c2kit.engines.transformers_engine import (
    CPU_BATCH_TOKENS,
    SeededSampler,
    default_batch_tokens,
    generate_continuations,
    kv_bytes_per_token,
    plan_batches,
    uniform_draws,
)
from c2kit.generation import SamplingConfig, path_key
from c2kit.models import adapter_hash, dir_content_hash, load_model_and_tokenizer
from c2kit.prefill import PrefillPrompt, build_prefills
from c2kit.sources import load_source

SAMPLING = SamplingConfig(num_paths=3, max_new_tokens=6, seed=0)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model_and_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def prompts(loaded):
    """3 items x 2 prefix lengths: 6 prompts of different lengths."""
    rows = load_source(limit=3).rows
    items = [(row.source_id, row.request, row.harmful_response) for row in rows]
    return build_prefills(loaded.tokenizer, items, [10, 30], seed=0)


class CountingGenerate:
    """Wraps ``model.generate`` to count calls, record inputs and optionally fail on a given call."""

    def __init__(self, model, fail_on_call: int | None = None, error: type[BaseException] = KeyboardInterrupt):
        self.model, self.original = model, model.generate
        self.fail_on_call, self.error = fail_on_call, error
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise self.error("simulated failure")
        return self.original(**kwargs)

    def __enter__(self):
        self.model.generate = self
        return self

    def __exit__(self, *exc):
        del self.model.generate  # back to the class method


def texts(continuations) -> list[tuple[str, int, int, str]]:
    return [(c.item_id, c.k, c.path, c.text) for c in continuations]


# --- loading -------------------------------------------------------------------------------------------


def test_load_sets_left_padding_pad_token_and_identity(loaded, tiny_model_dir):
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token == "<|pad|>"  # the tiny tokenizer has its own; eos is not reused
    identity = loaded.identity
    assert identity["model"] == tiny_model_dir and identity["is_tiny"] is True
    assert identity["content_sha256"] == dir_content_hash(Path(tiny_model_dir))
    assert "adapter" not in identity


def test_content_hash_changes_with_weights_not_with_path(tiny_model_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "copy"))
    assert dir_content_hash(copy) == dir_content_hash(Path(tiny_model_dir))
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert dir_content_hash(copy) != dir_content_hash(Path(tiny_model_dir))


def test_hub_id_identity_is_the_resolved_commit(tiny_model_dir, tmp_path, monkeypatch):
    # A Hub model served from the local cache (offline): the real from_pretrained/hub code path.
    from huggingface_hub import constants

    from conftest import hub_cache_with_tiny_model

    commit = hub_cache_with_tiny_model(tiny_model_dir, tmp_path / "hub")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    result = load_model_and_tokenizer("c2kit/tiny-chat")
    assert result.identity == {"model": "c2kit/tiny-chat", "revision": commit, "is_tiny": False,
                               "load_in_4bit": False, "dtype": "auto"}


def test_unknown_dtype_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ValueError, match="dtype 'fp8'"):
        load_model_and_tokenizer(tiny_model_dir, dtype="fp8")


def test_4bit_nf4_model_loads_and_generates_on_cpu(tiny_model_dir, prompts):
    import bitsandbytes as bnb

    result = load_model_and_tokenizer(tiny_model_dir, load_in_4bit=True)
    layer = result.model.model.layers[0].mlp.up_proj
    assert isinstance(layer, bnb.nn.Linear4bit)
    assert layer.weight.quant_type == "nf4" and result.model.config.quantization_config.bnb_4bit_use_double_quant
    assert result.identity["load_in_4bit"] is True
    out = generate_continuations(result.model, result.tokenizer, prompts[:2], SAMPLING, progress=False)
    assert [(c.item_id, c.k, c.path) for c in out] == [(p.item_id, p.k, i) for p in prompts[:2] for i in range(3)]
    assert all(c.text for c in out)


def test_peft_adapter_on_base(tiny_model_dir, tmp_path, loaded, prompts):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(1)
    # init_lora_weights=False: random A and B, so the adapter really changes the outputs.
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter_dir = tmp_path / "adapter"
    lora.save_pretrained(adapter_dir)

    result = load_model_and_tokenizer(tiny_model_dir, adapter=str(adapter_dir))
    assert isinstance(result.model, PeftModel)
    expected = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        expected.update(name.encode() + b"\0" + hashlib.sha256((adapter_dir / name).read_bytes()).digest())
    assert result.identity["adapter"] == str(adapter_dir)
    assert result.identity["adapter_sha256"] == adapter_hash(adapter_dir) == expected.hexdigest()
    with_adapter = generate_continuations(result.model, result.tokenizer, prompts[:2], SAMPLING, progress=False)
    without = generate_continuations(loaded.model, loaded.tokenizer, prompts[:2], SAMPLING, progress=False)
    assert texts(with_adapter) != texts(without)


# --- sampling and batching -----------------------------------------------------------------------------


def test_sampling_config_validation_and_dict():
    assert SamplingConfig().as_dict() == {"num_paths": 20, "max_new_tokens": 32, "do_sample": True, "temperature": 0.8,
                                          "top_p": 0.7, "seed": 0, "top_k": 0, "repetition_penalty": 1.0}
    with pytest.raises(ValueError, match="greedy"):
        SamplingConfig(do_sample=False, num_paths=2)
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=0)


def test_plan_batches_by_tokens_in_flight():
    def prompt(item_id, length):
        return PrefillPrompt(item_id, 10, "", "", tuple(range(length)))

    sampling = SamplingConfig(num_paths=2, max_new_tokens=2)
    # Cost of a batch = prompts x (longest prompt + 2 new tokens) x 2 paths; budget 50.
    # Longest first: 10 -> 24 per prompt, so 10 and 8 share a batch (48); 5 -> 14 per prompt: 5 and 3 (28).
    batches = plan_batches([prompt("a", 5), prompt("b", 10), prompt("c", 3), prompt("d", 8)], sampling, 50)
    assert [[p.item_id for p in batch] for batch in batches] == [["b", "d"], ["a", "c"]]
    # A prompt over budget on its own still gets its own batch.
    assert [[p.item_id for p in batch] for batch in plan_batches([prompt("x", 100)], sampling, 50)] == [["x"]]


def test_batch_size_defaults(loaded):
    # tiny config: 2 layers, 2 KV heads, head dim 64/4 = 16, float32: 2 * 2 * 2 * 16 * 4 bytes.
    assert kv_bytes_per_token(loaded.model) == 512
    assert default_batch_tokens(loaded.model) == CPU_BATCH_TOKENS


def test_seeded_sampler_matches_the_top_p_distribution():
    # probs 0.5/0.3/0.2 at temperature 1; top-p 0.7 keeps {0.5, 0.3} -> 0.625 / 0.375, never the third.
    rows = 20_000
    keys = torch.tensor([path_key(7, "item", 10, path) for path in range(rows)], dtype=torch.int64)
    sampling = SamplingConfig(num_paths=1, temperature=1.0, top_p=0.7)
    sampler = SeededSampler(keys, prompt_length=4, sampling=sampling)
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.2]])).repeat(rows, 1)
    drawn = sampler(torch.zeros(rows, 4, dtype=torch.long), scores)
    assert torch.isneginf(drawn).sum(dim=1).eq(2).all() and drawn.max(dim=1).values.eq(0).all()
    freq = torch.bincount(drawn.argmax(dim=1), minlength=3).float() / rows
    assert abs(freq[0] - 0.625) < 0.015 and abs(freq[1] - 0.375) < 0.015 and freq[2] == 0
    # A filtered token before the kept ones (top-k 2 drops the 0.1 at id 0): kept 0.6/0.3 -> 2/3 and 1/3.
    sampler = SeededSampler(keys, prompt_length=4, sampling=SamplingConfig(num_paths=1, temperature=1.0, top_p=1.0,
                                                                            top_k=2))
    drawn = sampler(torch.zeros(rows, 4, dtype=torch.long), torch.log(torch.tensor([[0.1, 0.6, 0.3]])).repeat(rows, 1))
    freq = torch.bincount(drawn.argmax(dim=1), minlength=3).float() / rows
    assert freq[0] == 0 and abs(freq[1] - 2 / 3) < 0.015 and abs(freq[2] - 1 / 3) < 0.015


def test_uniform_draws_are_a_function_of_key_and_step():
    keys = torch.tensor([path_key(0, "a", 10, path) for path in range(100_000)], dtype=torch.int64)
    draws = uniform_draws(keys, 3)
    assert draws.shape == (100_000, 1) and torch.equal(draws, uniform_draws(keys, 3))
    assert torch.equal(draws[5:9], uniform_draws(keys[5:9], 3))  # does not depend on the other rows
    assert not torch.equal(draws, uniform_draws(keys, 4))
    # Uniform on (0, 1): mean 1/2, variance 1/12 = 0.0833, and independent of the next step's draw.
    assert 0 < draws.min() and draws.max() < 1
    assert abs(draws.mean() - 0.5) < 0.005 and abs(draws.var() - 1 / 12) < 0.002
    assert abs(torch.corrcoef(torch.cat([draws, uniform_draws(keys, 4)], dim=1).T)[0, 1]) < 0.01


def test_left_padding_and_b_paths_per_prompt_in_one_call(loaded, prompts):
    with CountingGenerate(loaded.model) as spy:
        out = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=10**6, progress=False)
    assert len(spy.calls) == 1  # every prompt and path in one generate call
    call = spy.calls[0]
    assert call["num_return_sequences"] == 3
    lengths = sorted(len(p.prompt_ids) for p in prompts)
    mask = call["attention_mask"]
    shortest = mask.sum(dim=1).argmin()
    assert mask.shape == (6, lengths[-1]) and mask[shortest].sum() == lengths[0]
    assert mask[shortest, -lengths[0]:].all() and not mask[shortest, : lengths[-1] - lengths[0]].any()  # pads left
    assert (call["input_ids"][shortest, : lengths[-1] - lengths[0]] == loaded.tokenizer.pad_token_id).all()
    assert len(out) == 18 and [(c.item_id, c.k, c.path) for c in out] == [
        (p.item_id, p.k, path) for p in prompts for path in range(3)
    ]
    per_prompt = [[c.text for c in out[i * 3:(i + 1) * 3]] for i in range(6)]
    assert all(len(set(paths)) == 3 for paths in per_prompt)  # the paths are different samples


def test_same_seed_same_output_other_seed_other_output(loaded, prompts):
    first = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, progress=False)
    second = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, progress=False)
    other = SamplingConfig(num_paths=3, max_new_tokens=6, seed=1)
    assert texts(first) == texts(second)
    assert texts(first) != texts(generate_continuations(loaded.model, loaded.tokenizer, prompts, other, progress=False))


def test_batch_composition_does_not_change_samples(loaded, prompts):
    one_batch = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=10**6, progress=False)
    with CountingGenerate(loaded.model) as spy:
        one_each = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=1, progress=False)
    assert len(spy.calls) == 6
    assert texts(one_batch) == texts(one_each)


def test_greedy_single_path(loaded, prompts):
    greedy = SamplingConfig(num_paths=1, max_new_tokens=6, do_sample=False)
    a = generate_continuations(loaded.model, loaded.tokenizer, prompts[:2], greedy, batch_tokens=1, progress=False)
    b = generate_continuations(loaded.model, loaded.tokenizer, prompts[:2], greedy, batch_tokens=10**6, progress=False)
    assert texts(a) == texts(b) and len(a) == 2


def test_out_of_memory_halves_the_batch_and_gives_the_same_output(loaded, prompts, caplog):
    reference = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=10**6, progress=False)
    with CountingGenerate(loaded.model, fail_on_call=1, error=torch.cuda.OutOfMemoryError) as spy:
        out = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=10**6, progress=False)
    assert texts(out) == texts(reference)
    assert spy.calls[0]["input_ids"].shape[0] == 6 and spy.calls[1]["input_ids"].shape[0] < 6
    assert "out of memory" in caplog.text
    with CountingGenerate(loaded.model, fail_on_call=1, error=torch.cuda.OutOfMemoryError):
        with pytest.raises(RuntimeError, match="single"):
            generate_continuations(loaded.model, loaded.tokenizer, prompts[:1], SAMPLING, progress=False)


def test_duplicate_prompts_are_rejected(loaded, prompts):
    with pytest.raises(ValueError, match="unique"):
        generate_continuations(loaded.model, loaded.tokenizer, [prompts[0], prompts[0]], SAMPLING, progress=False)


# --- cache and resume ----------------------------------------------------------------------------------


KEY = {"model": {"model": "m", "content_sha256": "abc"}, "chat_template_sha256": "t", "prefix_mode": "words",
       "sampling": SAMPLING.as_dict()}


def test_resume_after_interruption_regenerates_nothing_finished(loaded, prompts, tmp_path):
    budget = 2 * (max(len(p.prompt_ids) for p in prompts) + 6) * 3  # at least two prompts per batch
    with CountingGenerate(loaded.model) as uninterrupted:
        reference = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=budget,
                                           progress=False)
    assert len(uninterrupted.calls) >= 3 and uninterrupted.calls[0]["input_ids"].shape[0] == 2

    cache = GenerationCache(tmp_path, KEY)
    with CountingGenerate(loaded.model, fail_on_call=2) as spy, pytest.raises(KeyboardInterrupt):
        generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=budget, cache=cache,
                               progress=False)
    assert len(spy.calls) == 2 and len(cache) == 2 * 3  # the first batch (2 prompts x 3 paths) was saved

    resumed_cache = GenerationCache(tmp_path, KEY)  # a new process reads the file back
    assert len(resumed_cache) == 6
    with CountingGenerate(loaded.model) as spy:
        resumed = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=budget,
                                         cache=resumed_cache, progress=False)
    # Only the unfinished batches ran, exactly as in the uninterrupted run.
    assert len(spy.calls) == len(uninterrupted.calls) - 1
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(spy.calls, uninterrupted.calls[1:]))
    assert texts(resumed) == texts(reference)

    with CountingGenerate(loaded.model) as spy:  # a finished run generates nothing
        again = generate_continuations(loaded.model, loaded.tokenizer, prompts, SAMPLING, batch_tokens=budget,
                                       cache=GenerationCache(tmp_path, KEY), progress=False)
    assert spy.calls == [] and texts(again) == texts(reference)
    lines = (resumed_cache.file).read_text().splitlines()
    assert len(lines) == 18 and set(json.loads(lines[0])) == {"item_id", "k", "path", "prompt_sha256", "text", "sha256"}


def test_cache_key_change_never_serves_old_rows(tmp_path):
    row = CachedRow("0", 10, 0, "fp", "text")
    GenerationCache(tmp_path, KEY).add([row])
    assert GenerationCache(tmp_path, KEY).lookup("0", 10, "fp", 1) == ["text"]
    other_seed = {**KEY, "sampling": {**KEY["sampling"], "seed": 1}}
    other = GenerationCache(tmp_path, other_seed)
    assert other.dir != GenerationCache(tmp_path, KEY).dir and len(other) == 0
    assert other.lookup("0", 10, "fp", 1) is None
    stored = json.loads((tmp_path / key_hash(KEY) / "key.json").read_text())
    assert stored == json.loads(json.dumps(KEY, sort_keys=True))


def test_cache_serves_only_the_same_prompt_and_complete_groups(tmp_path):
    cache = GenerationCache(tmp_path, KEY)
    fingerprint = prompt_fingerprint([1, 2, 3])
    assert fingerprint != prompt_fingerprint([1, 2, 4])
    cache.add([CachedRow("0", 10, 0, fingerprint, "a"), CachedRow("0", 10, 1, fingerprint, "b")])
    assert cache.lookup("0", 10, fingerprint, 2) == ["a", "b"]
    assert cache.lookup("0", 10, fingerprint, 3) is None  # path 2 missing
    assert cache.lookup("0", 10, prompt_fingerprint([1, 2, 4]), 2) is None  # same ids, another prompt
    cache.add([CachedRow("0", 10, 1, fingerprint, "b2")])  # a later row wins
    assert GenerationCache(tmp_path, KEY).lookup("0", 10, fingerprint, 2) == ["a", "b2"]


def test_truncated_last_line_is_dropped_and_appending_continues(tmp_path):
    cache = GenerationCache(tmp_path, KEY)
    cache.add([CachedRow("0", 10, 0, "fp", "first"), CachedRow("0", 10, 1, "fp", "second")])
    with open(cache.file, "a", encoding="utf-8") as handle:
        handle.write('{"item_id": "0", "k": 10, "path": 2, "prompt_sha2')  # killed mid-write
    reloaded = GenerationCache(tmp_path, KEY)
    assert len(reloaded) == 2 and reloaded.lookup("0", 10, "fp", 2) == ["first", "second"]
    reloaded.add([CachedRow("0", 10, 2, "fp", "third")])
    assert GenerationCache(tmp_path, KEY).lookup("0", 10, "fp", 3) == ["first", "second", "third"]


def test_damaged_or_edited_cache_rows_are_regenerated_not_served(tmp_path, caplog):
    cache = GenerationCache(tmp_path, KEY)
    cache.add([CachedRow("0", 10, 0, "fp", "ok"), CachedRow("0", 10, 1, "fp", "fine"), CachedRow("0", 10, 2, "fp", "x")])
    lines = cache.file.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["text"] = "an edited text"  # its checksum no longer matches
    original = "\n".join([lines[0], "not json", json.dumps(edited), lines[2]]) + "\n"
    cache.file.write_text(original)
    cache.close()
    with caplog.at_level("WARNING"):
        reloaded = GenerationCache(tmp_path, KEY)
    assert "2 damaged or edited row(s) will be generated again (line 2: not valid JSON" in caplog.text
    assert reloaded.lookup("0", 10, "fp", 1) == ["ok"] and reloaded.get("0", 10, 1, "fp") is None
    assert reloaded.get("0", 10, 2, "fp") == "x"
    assert cache.file.with_name("rows.jsonl.damaged").read_text() == original
    assert len(cache.file.read_text().splitlines()) == 2  # repaired: the good rows only


def test_damaged_key_file_is_rewritten_keeping_the_rows(tmp_path, caplog):
    cache = GenerationCache(tmp_path, KEY)
    cache.add([CachedRow("0", 10, 0, "fp", "ok")])
    cache.close()
    (cache.dir / "key.json").write_text("")  # what a kill mid-write left behind before writes were atomic
    with caplog.at_level("WARNING"):
        reloaded = GenerationCache(tmp_path, KEY)
    assert "damaged key file" in caplog.text and str(cache.dir / "key.json") in caplog.text
    assert reloaded.lookup("0", 10, "fp", 1) == ["ok"]
    assert json.loads((cache.dir / "key.json").read_text()) == json.loads(json.dumps(KEY, sort_keys=True))


def test_a_second_process_on_the_same_cache_is_refused(tmp_path):
    import subprocess
    import sys

    cache = GenerationCache(tmp_path, KEY)  # this process holds the cache
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
              "from c2kit.gen_cache import GenerationCache\n"
              f"try:\n    GenerationCache({str(tmp_path)!r}, {KEY!r})\nexcept ValueError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert f"in use by another run (pid {os.getpid()})" in result.stdout
    assert GenerationCache(tmp_path, KEY).dir == cache.dir  # the same process may open it again
    cache.close()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout == "" and result.returncode == 0  # released: the other process gets it


def test_decoding_keeps_the_space_a_sentencepiece_tokenizer_drops_at_sequence_start():
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from c2kit.engines.transformers_engine import decode_new_text

    vocab = {"<unk>": 0, "▁you": 1, "▁that": 2, "▁the": 3, "▁cat": 4, "</s>": 5}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()  # like Llama-2: a sequence's first "▁" decodes to nothing
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", eos_token="</s>")
    sequences = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 4, 5, 5]])  # prompt "you that", then new tokens
    assert tokenizer.decode([3, 4]) == "the cat"  # the trap: decoding the new tokens alone loses the space
    assert decode_new_text(tokenizer, sequences, prompt_length=2) == [" the cat", " cat"]


def test_temporary_files_of_killed_writers_are_removed(tmp_path):
    import subprocess
    import sys

    from c2kit.jsonio import write_json

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # a pid that has exited
    from c2kit.jsonio import _HOST

    stale = tmp_path / f".scores.json.tmp-{_HOST}-{dead}"
    stale.write_text("{half")
    live = tmp_path / f".scores.json.tmp-{_HOST}-{os.getppid()}"  # a running writer's file is left alone
    live.write_text("{")
    other_host = tmp_path / f".scores.json.tmp-elsewhere-{dead}"  # another machine's: its pids mean nothing here
    other_host.write_text("{")
    write_json(tmp_path / "scores.json", {"a": 1})
    assert not stale.exists() and live.exists() and other_host.exists()
    assert json.loads((tmp_path / "scores.json").read_text()) == {"a": 1}
