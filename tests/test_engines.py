"""The engine layer without a real engine: the shared driver, the openai engine against a fake completions server
(faults, retries, spreading, parity errors, resume after a dead server, the key), and the CLI plumbing.

The same paths against a real vLLM (server and in-process) are in tests/test_engines_vllm.py.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from pathlib import Path

import pytest

from c2kit.engines import EngineError, EngineSettings, parity_probes, split_base_urls
from c2kit.engines.openai_engine import OpenAIEngine
from c2kit.gen_cache import GenerationCache, prompt_sha256
from c2kit.generation import SamplingConfig, generate_with_engine, path_seed
from c2kit.prefill import build_prefills

from fake_completions import FakeCompletionsServer

SAMPLING = SamplingConfig(num_paths=3, max_new_tokens=6)
NO_WAIT = lambda attempt: 0.0  # noqa: E731


@pytest.fixture(scope="module")
def prompts(tiny_tokenizer):
    from c2kit.sources import load_source

    rows = load_source(limit=2).rows
    return build_prefills(tiny_tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows], [10, 20])


def engine_for(server, tokenizer, **kwargs) -> OpenAIEngine:
    kwargs.setdefault("backoff", NO_WAIT)
    kwargs.setdefault("timeout", 5.0)
    urls = [s.url for s in server] if isinstance(server, list) else [server.url]
    return OpenAIEngine(urls, tokenizer, **kwargs)


def texts(continuations):
    return [(c.item_id, c.k, c.path, c.text) for c in continuations]


def test_requests_carry_our_ids_a_seed_per_path_and_every_sampling_setting(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer) as server:
        engine = engine_for(server, tiny_tokenizer)
        out = generate_with_engine(engine, prompts, SAMPLING, progress=False)
        again = generate_with_engine(engine, prompts, SAMPLING, progress=False)
    assert len(out) == len(prompts) * 3 and texts(out) == texts(again)
    sent = {(tuple(body["prompt"]), body["seed"]) for body in server.requests[: len(out)]}
    expected = {(p.prompt_ids, path_seed(0, p.item_id, p.k, path)) for p in prompts for path in range(3)}
    assert sent == expected  # one request per path, our token ids, the path's own seed
    body = server.requests[0]
    assert body["n"] == 1 and body["return_token_ids"] is True and body["max_tokens"] == 6
    assert (body["temperature"], body["top_p"], body["top_k"], body["repetition_penalty"]) == (0.8, 0.7, -1, 1.0)
    assert engine.info()["version"] == "0.0-fake" and engine.served_model == "tiny"


def test_texts_are_decoded_client_side_by_the_transformers_rule(tiny_tokenizer, prompts):
    from c2kit.engines.base import decode_continuations

    with FakeCompletionsServer(tiny_tokenizer) as server:
        [first, *_] = generate_with_engine(engine_for(server, tiny_tokenizer), prompts[:1], SAMPLING, progress=False)
    seed = path_seed(0, prompts[0].item_id, prompts[0].k, 0)
    body = next(body for body in server.requests if body["seed"] == seed)
    import random

    vocab = [i for i in range(len(tiny_tokenizer)) if i not in set(tiny_tokenizer.all_special_ids)]
    rng = random.Random(body["seed"])
    ids = [rng.choice(vocab) for _ in range(6)]
    assert first.text == decode_continuations(tiny_tokenizer, [prompts[0].prompt_ids], [ids])[0]


def test_batch_composition_does_not_change_a_path(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer) as server:
        engine = engine_for(server, tiny_tokenizer)
        together = texts(generate_with_engine(engine, prompts, SAMPLING, progress=False))
        engine.batch_paths = 1
        alone = texts(generate_with_engine(engine, prompts, SAMPLING, progress=False))
    assert together == alone


@pytest.mark.parametrize("faults", [[503, 502], ["html"], ["badjson"], ["drop"], [429, "slow"]])
def test_faults_are_retried(tiny_tokenizer, prompts, faults, caplog):
    with FakeCompletionsServer(tiny_tokenizer) as server:
        reference = texts(generate_with_engine(engine_for(server, tiny_tokenizer), prompts[:1], SAMPLING,
                                               progress=False))
        server.fail = list(faults)
        server.slow_s = 1.5
        with caplog.at_level(logging.WARNING):
            out = generate_with_engine(engine_for(server, tiny_tokenizer, timeout=0.5, max_concurrency=1),
                                       prompts[:1], SAMPLING, progress=False)
    assert texts(out) == reference
    assert sum("retry" in r.getMessage() for r in caplog.records) == len(faults)


class RecordedWaits(threading.Event):
    """The engine's stop event, recording each wait between attempts instead of waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return False


def test_a_server_asking_to_wait_is_waited_for_up_to_a_bound(tiny_tokenizer, prompts, caplog):
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    with FakeCompletionsServer(tiny_tokenizer) as server:
        server.fail = [(429, {"Retry-After": "5"}), (503, {"Retry-After": "3600"}), (429, {"retry-after-ms": "1500"}),
                       (503, {"Retry-After": later}), 503]
        engine = engine_for(server, tiny_tokenizer, max_concurrency=1)  # its own backoff: no wait at all
        engine._stop = RecordedWaits()
        with caplog.at_level(logging.WARNING):
            out = generate_with_engine(engine, prompts[:1], SamplingConfig(num_paths=1, max_new_tokens=4),
                                       progress=False)
    assert len(out) == 1
    waits = engine._stop.waits
    assert waits[:3] == [5.0, 60.0, 1.5] and 25 <= waits[3] <= 30 and waits[4] == 0.0
    assert "; retry 1/5 in 5.0s (the server asked for 5s)" in caplog.text
    assert "retry 2/5 in 60.0s (the server asked for 3600s; waiting at most 60s)" in caplog.text


def test_retry_after_reads_seconds_dates_and_milliseconds_and_ignores_junk():
    from c2kit.http_client import retry_after

    assert retry_after({"retry-after": "2.5"}) == 2.5 and retry_after({"retry-after": "-3"}) == 0.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after-ms": "nan", "retry-after": "9"}) == 9.0
    assert retry_after({"retry-after": email.utils.formatdate(time.time() - 60, usegmt=True)}) == 0.0  # passed
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None and retry_after(None) is None


def test_a_reply_whose_choices_are_strings_is_one_line_naming_the_url(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer) as server:
        server.fail = ["strchoices"] * 2
        engine = engine_for(server, tiny_tokenizer, max_attempts=2, max_concurrency=1)
        with pytest.raises(EngineError) as error:
            generate_with_engine(engine, prompts[:1], SamplingConfig(num_paths=1, max_new_tokens=4), progress=False)
    assert str(error.value) == (f"engine openai: {server.url}/completions: malformed response body (choices[0] is a "
                                "str, not an object) (gave up after 2 attempts; finished batches are cached, so "
                                "running the same command again resumes)")


def test_a_rejected_request_is_one_line_naming_the_url_without_credentials(tiny_tokenizer, prompts, monkeypatch):
    with FakeCompletionsServer(tiny_tokenizer) as server:
        server.fail = [400]
        url = server.url.replace("http://", "http://user:secret@") + "?token=abc"
        engine = OpenAIEngine([url], tiny_tokenizer, backoff=NO_WAIT, api_key="sk-secret-key")
        with pytest.raises(EngineError) as error:
            generate_with_engine(engine, prompts[:1], SamplingConfig(num_paths=1, max_new_tokens=4), progress=False)
    message = str(error.value)
    assert "\n" not in message and "HTTP 400" in message and server.url.removesuffix("/v1") in message
    assert "secret" not in message and "abc" not in message
    assert server.auth[0] == "Bearer sk-secret-key"


def test_a_dead_server_gives_up_with_one_line_and_the_rerun_resumes_from_the_cache(tiny_tokenizer, prompts,
                                                                                   tmp_path):
    key = {"test": "resume"}
    with FakeCompletionsServer(tiny_tokenizer) as server:
        reference = texts(generate_with_engine(engine_for(server, tiny_tokenizer), prompts, SAMPLING,
                                               progress=False))
        engine = engine_for(server, tiny_tokenizer, max_attempts=2, max_concurrency=1)
        engine.batch_paths = 3  # one prompt per batch
        url = server.url
        original = engine._sample
        calls = []

        def dying(requests, sampling):
            calls.append(1)
            if len(calls) == 2:
                server.stop()  # the server dies mid-run
            return original(requests, sampling)

        engine._sample = dying
        with pytest.raises(EngineError) as error:
            generate_with_engine(engine, prompts, SAMPLING, cache=GenerationCache(tmp_path, key), progress=False)
    message = str(error.value)
    assert "\n" not in message and url.removesuffix("/v1") in message and "gave up after 2 attempts" in message
    assert len(GenerationCache(tmp_path, key)) == 3  # the first batch was saved
    with FakeCompletionsServer(tiny_tokenizer) as restarted:
        resumed = generate_with_engine(engine_for(restarted, tiny_tokenizer), prompts, SAMPLING,
                                       cache=GenerationCache(tmp_path, key), progress=False)
    assert texts(resumed) == reference
    assert len(restarted.requests) == (len(prompts) - 1) * 3  # only what was not cached


def test_requests_spread_over_several_servers_and_move_on_from_a_dead_one(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer) as a, FakeCompletionsServer(tiny_tokenizer) as b:
        engine = engine_for([a, b], tiny_tokenizer)
        reference = texts(generate_with_engine(engine, prompts, SAMPLING, progress=False))
        # Round robin: both servers share the work (a retry under load may move a request to the other one).
        assert len(a.requests) + len(b.requests) >= len(prompts) * 3
        assert min(len(a.requests), len(b.requests)) >= len(prompts) * 3 // 4
        b.stop()
        assert texts(generate_with_engine(engine, prompts, SAMPLING, progress=False)) == reference


def test_servers_must_serve_the_same_model_and_version(tiny_tokenizer):
    with FakeCompletionsServer(tiny_tokenizer) as a, FakeCompletionsServer(tiny_tokenizer, version="9.9") as b:
        with pytest.raises(EngineError, match="different versions"):
            engine_for([a, b], tiny_tokenizer)
    with FakeCompletionsServer(tiny_tokenizer, model="other") as server:
        with pytest.raises(EngineError, match="does not serve 'tiny'"):
            engine_for(server, tiny_tokenizer, served_model="tiny")


def test_parity_mismatch_is_a_clear_error(tiny_tokenizer, prompts):
    requests = {"0": "x"}
    probes = parity_probes(tiny_tokenizer, prompts, sample=3)
    assert len(probes) == 3
    with FakeCompletionsServer(tiny_tokenizer) as server:
        record = engine_for(server, tiny_tokenizer).check_parity(probes)
        assert record["checked"] == 3
    with FakeCompletionsServer(tiny_tokenizer, tokenize_offset=1) as server:
        with pytest.raises(EngineError) as error:
            engine_for(server, tiny_tokenizer).check_parity(probes)
    message = str(error.value)
    assert "\n" not in message and "first difference at token 3" in message and "127.0.0.1" in message
    assert requests  # (the chat-template variant is checked against real vLLM)


def test_a_server_without_tokenize_is_reported_not_failed(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer, tokenize_route=False, version=None) as server:
        engine = engine_for(server, tiny_tokenizer)
        record = engine.check_parity(parity_probes(tiny_tokenizer, prompts, sample=2))
    assert record["servers_without_tokenize"] and engine.info()["version"] is None


def test_a_server_without_token_ids_falls_back_to_its_text(tiny_tokenizer, prompts):
    with FakeCompletionsServer(tiny_tokenizer, return_ids=False) as server:
        engine = engine_for(server, tiny_tokenizer)
        out = generate_with_engine(engine, prompts[:1], SAMPLING, progress=False)
    assert all(c.text for c in out) and engine.info()["decoded_by"] == "server (text)"


def test_engine_settings_validate_and_record_no_secret():
    assert split_base_urls(["http://a/v1,http://b/v1", " http://c/v1 "]) == ("http://a/v1", "http://b/v1", "http://c/v1")
    with pytest.raises(ValueError, match="needs --base-url"):
        EngineSettings.build("openai")
    with pytest.raises(ValueError, match="is not one of"):
        EngineSettings.build("tgi")
    with pytest.raises(ValueError, match="--adapter needs --engine transformers"):
        EngineSettings.build("openai", base_urls=("http://a/v1",)).check_model_options(adapter="x", load_in_4bit=False)
    record = EngineSettings.build("openai", base_urls=("http://u:p@a:1/v1?key=k",)).record()
    assert record["base_urls"] == ["http://a:1/v1"] and record["api_key_env"] == "OPENAI_API_KEY"


def test_c2_eval_run_through_a_server_gives_the_same_prompt_hashes(tiny_model_dir, tmp_path, monkeypatch):
    """The CLI end to end against the fake server: same prompts (hashes) as the transformers engine, engine
    recorded in config.json, key from the environment only, a rerun regenerates nothing."""
    from transformers import AutoTokenizer

    from c2kit.cli import main

    monkeypatch.setenv("C2_TEST_KEY", "sk-from-env")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    common = ["eval", "run", "--model", tiny_model_dir, "--limit", "2", "--ks", "10,20", "--paths", "2",
              "--max-new-tokens", "4"]
    assert main([*common, "--out", str(tmp_path / "hf")]) == 0
    with FakeCompletionsServer(tokenizer, model=tiny_model_dir) as server:
        args = [*common, "--engine", "openai", "--base-url", server.url, "--api-key-env", "C2_TEST_KEY",
                "--out", str(tmp_path / "srv")]
        assert main(args) == 0
        n = len(server.requests)
        assert main(args) == 0 and len(server.requests) == n  # resumed from the cache: nothing asked again
    rows = {name: [json.loads(line) for line in (tmp_path / name / "generations.jsonl").read_text().splitlines()]
            for name in ("hf", "srv")}
    assert [r["prompt_sha256"] for r in rows["hf"]] == [r["prompt_sha256"] for r in rows["srv"]]
    assert rows["hf"][0]["prompt_sha256"] == prompt_sha256(tokenizer(rows["hf"][0]["prompt"],
                                                                     add_special_tokens=False)["input_ids"])
    config = json.loads((tmp_path / "srv" / "config.json").read_text())
    assert config["engine"] == "openai" and config["engine_info"]["name"] == "openai" and config["engine_info"]["version"] == "0.0-fake"
    assert config["engine_info"]["parity"]["checked"] >= 1 and config["engine_info"]["parity"]["chat_template_checked"] >= 1
    assert set(server.auth) == {"Bearer sk-from-env"}
    for path in Path(tmp_path / "srv").rglob("*"):
        if path.is_file():
            assert b"sk-from-env" not in path.read_bytes()
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["engine_info"]["name"] == "transformers"


def test_an_engine_failure_through_the_cli_is_one_line_with_exit_2(tiny_model_dir, tmp_path, capsys):
    from transformers import AutoTokenizer

    from c2kit.cli import main

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with FakeCompletionsServer(tokenizer, model=tiny_model_dir, tokenize_offset=1) as server:  # parity fails
        code = main(["eval", "run", "--model", tiny_model_dir, "--limit", "1", "--ks", "10", "--paths", "1",
                     "--engine", "openai", "--base-url", server.url, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("c2 eval: error: ") and "127.0.0.1" in err[0]
