"""C2-Syn end to end on the shipped 500-row file with the tiny offline generator.

Every build here uses the same small settings (6 requests in chunks of 2, 6 new tokens, small batches so a
chunk takes several generate calls), so builds can be compared row for row.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c2_syn_dataset.builder import C2SynBuilder
from c2_syn_dataset.cuts import PUNCTUATION
from c2_syn_dataset.pipeline import run_build
from c2_syn_dataset.settings import BuildSettings
from c2_syn_dataset.shards import BuildMismatchError, merge_build
from c2kit.cli import main
from c2kit.gen_cache import GenerationCache
from c2kit.sources import bundled_path
from lock_holders import another_process, holding_output_lock
from waiting import wait_until

LIMIT, CHUNK, NEW_TOKENS, BATCH_TOKENS = 6, 2, 6, 300


def cli_args(generator: str, out, *extra: str) -> list[str]:
    return ["syn", "build", "--source", str(bundled_path()), "--generator", generator, "--limit", str(LIMIT),
            "--chunk-size", str(CHUNK), "--max-new-tokens", str(NEW_TOKENS), "--batch-tokens", str(BATCH_TOKENS),
            "--no-progress", "--out", str(out), *extra]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny matmuls on a busy 2-core machine run ~7x faster on one thread than fighting over two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def settings(tiny_model_dir) -> BuildSettings:
    return BuildSettings(source=str(bundled_path()), generator=tiny_model_dir, limit=LIMIT, chunk_size=CHUNK,
                         max_new_tokens=NEW_TOKENS, batch_tokens=BATCH_TOKENS)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    """An uninterrupted, unsharded build made with the CLI, in a directory named c2-syn."""
    out = tmp_path_factory.mktemp("syn-ref") / "c2-syn"
    assert main(cli_args(tiny_model_dir, out)) == 0
    return out


def tables(out) -> dict[str, pa.Table]:
    """Both configs of a built directory, read from the files the card's configs point to."""
    return {config: pa.concat_tables(pq.read_table(p) for p in sorted((out / config).glob("train-*.parquet")))
            for config in ("ranked", "pairs")}


def test_groups_cuts_triggers_and_pairs(reference, tiny_model, tiny_tokenizer):
    ranked, pairs = (t.to_pylist() for t in tables(reference).values())
    assert [row["source_id"] for row in ranked] == [str(i) for i in range(LIMIT)]  # first N of the source
    source = [json.loads(line) for line in bundled_path().read_text(encoding="utf-8").splitlines()[:LIMIT]]
    for row, record in zip(ranked, source):
        responses, cuts = row["responses"], row["cuts"]
        assert len(responses) == 6 and len(cuts) == 4
        fhr = responses[5]
        assert fhr == (record["response_0"] if not record["is_response_0_safe"] and len(record["response_0"].split()) > 80
                       else record["response_1"])
        assert [len(c) for c in cuts] == sorted(set(len(c) for c in cuts))  # the cuts grow strictly
        for i, cut in enumerate(cuts, start=1):
            assert fhr.startswith(cut) and cut[-1] in PUNCTUATION
            assert sum(ch in PUNCTUATION for ch in cut) == i * row["step"]
            assert responses[i].startswith(f"{row['opener']} {cut} {row['trigger']}")  # trigger right after the cut
            assert len(responses[i]) > len(f"{row['opener']} {cut} {row['trigger']}")  # and a continuation
    # SR is the generator's own answer to the bare request. The tiny model's greedy answer is blank (it repeats the
    # prompt's last newline), which is no answer: SR is generated again with the next seed, sampled, and then has text.
    from c2_syn_dataset.filtering import select_requests
    from c2_syn_dataset.settings import sampling_config
    from c2_syn_dataset.synthesis import build_prompts, regeneration_sampling
    from c2kit.engines.transformers_engine import generate_continuations
    from c2kit.prefill import render_assistant_header
    from c2kit.sources import load_source

    ids = tiny_tokenizer(render_assistant_header(tiny_tokenizer, source[0]["prompt"], tiny_tokenizer.chat_template),
                         add_special_tokens=False, return_tensors="pt")["input_ids"]
    direct = tiny_model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)
    assert tiny_tokenizer.decode(direct[0, ids.shape[1]:], skip_special_tokens=True).strip() == ""
    requests, _ = select_requests(load_source(), limit=1)
    sr_prompt = build_prompts(tiny_tokenizer, requests, tiny_tokenizer.chat_template)[0]
    again = regeneration_sampling(sampling_config(max_new_tokens=NEW_TOKENS), 1)
    assert (again.do_sample, again.seed) == (True, 1)
    sampled = generate_continuations(tiny_model, tiny_tokenizer, [sr_prompt], again, progress=False)[0].text.strip()
    assert sampled and ranked[0]["responses"][0] == sampled
    assert all(row["responses"][0].strip() for row in ranked)
    assert json.loads((reference / "build.json").read_text())["empty_sr"] == {
        "regenerations": 3, "regenerated": LIMIT, "dropped": []}

    assert len(pairs) == 15 * LIMIT
    by_id = {row["source_id"]: row for row in ranked}
    for source_id, row in by_id.items():
        mine = [p for p in pairs if p["source_id"] == source_id]
        assert sorted((p["chosen_rank"], p["rejected_rank"]) for p in mine) == [
            (i, j) for i in range(6) for j in range(i + 1, 6)]
        for pair in mine:
            assert pair["chosen_rank"] < pair["rejected_rank"]
            assert pair["chosen"] == row["responses"][pair["chosen_rank"]]
            assert pair["rejected"] == row["responses"][pair["rejected_rank"]]
            assert pair["prompt"] == row["prompt"] and pair["trigger"] == row["trigger"]


def test_load_dataset_offline(reference, tmp_path, monkeypatch):
    from datasets import load_dataset

    pairs = load_dataset(str(reference), "pairs", split="train", cache_dir=str(tmp_path / "hf"))
    assert pairs.num_rows == 90 and {"prompt", "chosen", "rejected", "chosen_rank", "rejected_rank",
                                     "source_id"} <= set(pairs.column_names)
    monkeypatch.chdir(reference.parent)
    by_name = load_dataset("c2-syn", cache_dir=str(tmp_path / "hf2"))  # default config: pairs
    assert by_name["train"].to_list() == pairs.to_list()
    ranked = load_dataset("c2-syn", "ranked", split="train", cache_dir=str(tmp_path / "hf3"))
    assert ranked.num_rows == LIMIT and len(ranked[0]["responses"]) == 6
    card = (reference / "README.md").read_text(encoding="utf-8")
    assert "| kept | 6 |" in card and "| left out by --limit | 494 |" in card and "testing only" in card



def test_terminal_shows_the_cards_statistics_and_a_path_that_loads_anywhere(reference, tiny_model_dir, tmp_path,
                                                                             capsys):
    """The build's and the merge's tables count the empty SRs as the card does; the hint is a path."""
    import shutil

    copy = tmp_path / "c2-syn"
    shutil.copytree(reference, copy)  # every part is done: the CLI only merges again
    capsys.readouterr()
    assert main(cli_args(tiny_model_dir, copy)) == 0
    printed = capsys.readouterr().out
    card = (copy / "README.md").read_text(encoding="utf-8")
    table = [line for line in printed.splitlines() if line.startswith("|")]
    assert f"| SR came back empty, generated again and kept | {LIMIT} |" in table
    assert "| SR still empty after 3 regenerations: request dropped | 0 |" in table
    assert all(line in card.splitlines() for line in table)  # the same rows as the card's
    assert f"load_dataset({str(copy.resolve())!r}, 'pairs')" in printed

    assert main(["syn", "merge", str(copy), "--out", str(tmp_path / "merged")]) == 0
    printed = capsys.readouterr().out
    assert f"| SR came back empty, generated again and kept | {LIMIT} |" in printed
    assert str((tmp_path / "merged").resolve()) in printed


def test_local_card_loads_by_path_and_warns_about_the_bare_name(reference):
    """A bare load_dataset("c2-syn") is a Hub id to datasets (offline: any cached copy of that name)."""
    card = (reference / "README.md").read_text(encoding="utf-8")
    assert 'load_dataset("./c2-syn", "pairs", split="train")' in card
    assert 'load_dataset("c2-syn", "pairs"' not in card
    assert "silently serves the copy it cached under that name" in card


def test_same_seed_same_data(reference, settings, tmp_path):
    result = run_build(settings, tmp_path / "again", progress=False)
    assert result["merged"] and result["n_pairs"] == 90
    again, ref = tables(tmp_path / "again"), tables(reference)
    assert all(again[c].equals(ref[c]) for c in ref)
    assert (tmp_path / "again" / "README.md").read_text() == (reference / "README.md").read_text()
    assert json.loads((tmp_path / "again" / "build.json").read_text())["fingerprint"] == \
        json.loads((reference / "build.json").read_text())["fingerprint"]


def test_interrupted_build_resumes_to_the_same_data(reference, settings, tmp_path, monkeypatch):
    out = tmp_path / "killed"
    original_add, calls = GenerationCache.add, []

    def add_then_die(self, rows):
        original_add(self, rows)
        calls.append(1)
        if len(calls) == 7:  # several batches in: the first chunk is done, the second one is midway
            raise KeyboardInterrupt

    monkeypatch.setattr(GenerationCache, "add", add_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_build(settings, out, progress=False)
    monkeypatch.setattr(GenerationCache, "add", original_add)
    parts = sorted(p.name for p in (out / "parts").glob("*.parquet"))
    assert 1 <= len(parts) < LIMIT // CHUNK and not (out / "pairs").exists()

    result = run_build(settings, out, progress=False)
    assert result["merged"]
    resumed, ref = tables(out), tables(reference)
    assert all(resumed[c].equals(ref[c]) for c in ref)
    rows = [json.loads(line) for path in (out / "cache").rglob("rows.jsonl") for line in path.read_text().splitlines()]
    assert len(rows) == 6 * LIMIT  # each prompt generated once, each blank SR once again: nothing finished was redone


def test_shards_merge_to_the_unsharded_build(reference, tiny_model_dir, tmp_path):
    import shutil

    from c2_syn_dataset.shards import DamagedPartError

    assert main(cli_args(tiny_model_dir, tmp_path / "a", "--shard", "0/2")) == 0
    assert not (tmp_path / "a" / "pairs").exists()  # a lone shard does not merge
    with pytest.raises(FileNotFoundError, match=r"1 of 3 chunks have no part .* \(chunks 1, built by 'c2 syn build' "
                                                r"with --shard 1/2\); finish those builds, then merge again"):
        merge_build([tmp_path / "a"], tmp_path / "merged")
    assert main(cli_args(tiny_model_dir, tmp_path / "b", "--shard", "1/2")) == 0
    assert main(["syn", "merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "merged")]) == 0
    merged, ref = tables(tmp_path / "merged"), tables(reference)
    assert all(merged[c].equals(ref[c]) for c in ref)
    assert (tmp_path / "merged" / "README.md").read_text() == (reference / "README.md").read_text()

    # A damaged part names the exact shard that builds it again (the shard count is in the caches' names) ...
    (tmp_path / "b" / "parts" / "chunk-00001.parquet").write_bytes(b"")
    with pytest.raises(DamagedPartError, match=r"chunk-00001\.parquet: damaged part file \(.*\); run 'c2 syn build' "
                                               r"again with --shard 1/2: it moves the part aside and builds chunk 1 "
                                               r"again$"):
        merge_build([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    # ... or, with the caches gone, the rule that finds it.
    for directory in ("a", "b"):
        shutil.rmtree(tmp_path / directory / "cache")
    with pytest.raises(DamagedPartError, match=r"run 'c2 syn build' again with --shard I/N where I is 1 mod N \(N: "
                                               r"the number of shards\): it moves the part aside and builds chunk 1 "
                                               r"again$"):
        merge_build([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")


def test_other_settings_refuse_an_existing_build(reference, settings):
    with pytest.raises(BuildMismatchError, match=r"different build \(differs in: .*sampling\.seed.*settings\.seed"):
        run_build(dataclasses.replace(settings, seed=1), reference, progress=False)


def test_a_mismatch_names_only_what_changes_the_data(tmp_path):
    """Settings outside the build id (batch size, engine, replicas) and versions are not blamed for a mismatch."""
    from c2_syn_dataset.shards import init_build_dir

    stored = {"fingerprint": "a", "settings": {"seed": 0, "batch_tokens": 64}, "versions": {"torch": "2.12"},
              "selection": {"kept": 5}}
    init_build_dir(tmp_path, stored)
    changed = {"fingerprint": "b", "settings": {"seed": 1, "batch_tokens": 128, "replicas": 2},
               "versions": {"torch": "2.13"}, "selection": {"kept": 5, "repeated_rows": 0}}
    with pytest.raises(BuildMismatchError, match=r"\(differs in: settings\.seed\);"):
        init_build_dir(tmp_path, changed)


def test_builder_makes_the_same_rows_as_the_cli(reference, settings, tmp_path):
    small = dataclasses.replace(settings, limit=2)  # one chunk: the CLI's first chunk
    builder = C2SynBuilder(small, config_name="pairs", cache_dir=str(tmp_path))
    assert builder.dataset_name == "c2_syn" and builder.hash in builder._relative_data_dir()
    assert C2SynBuilder(dataclasses.replace(small, seed=1), cache_dir=str(tmp_path)).hash != builder.hash
    builder.download_and_prepare()
    pairs = builder.as_dataset(split="train")
    assert pairs.to_list() == tables(reference)["pairs"].slice(0, 30).to_pylist()
    ranked = C2SynBuilder(small, config_name="ranked", cache_dir=str(tmp_path))
    ranked.download_and_prepare()
    assert ranked.as_dataset(split="train").to_list() == tables(reference)["ranked"].slice(0, 2).to_pylist()


def test_prompts_and_decoding(tiny_tokenizer):
    from c2_syn_dataset.filtering import select_requests
    from c2_syn_dataset.settings import sampling_config
    from c2_syn_dataset.synthesis import build_prompts
    from c2kit.sources import load_source

    requests, _ = select_requests(load_source(), limit=2)
    prompts = build_prompts(tiny_tokenizer, requests, tiny_tokenizer.chat_template)
    assert [(p.item_id, p.k) for p in prompts] == [(r.source_id, k) for r in requests for k in range(5)]
    sr, syn1 = prompts[0], prompts[1]
    assert sr.prefix == "" and sr.prompt.endswith("<|im_start|>assistant\n")  # the bare request: SR
    assert syn1.prefix == requests[0].prefixes[0] and syn1.prompt.endswith("assistant\n" + syn1.prefix)
    assert "<|im_end|>" not in syn1.prompt.split("<|im_start|>assistant")[-1]  # prefilled, turn left open
    assert list(syn1.prompt_ids) == tiny_tokenizer(syn1.prompt, add_special_tokens=False)["input_ids"]

    greedy = sampling_config(max_new_tokens=128)
    assert (greedy.do_sample, greedy.num_paths, greedy.max_new_tokens) == (False, 1, 128)
    sampled = sampling_config(temperature=0.7, top_p=0.9, seed=3)
    assert (sampled.do_sample, sampled.temperature, sampled.top_p, sampled.seed) == (True, 0.7, 0.9, 3)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sampling_config(temperature=-1)


def test_a_damaged_part_is_moved_aside_and_built_again(reference, settings, tmp_path, caplog):
    import shutil

    from c2_syn_dataset.shards import DamagedPartError

    out = tmp_path / "damaged"
    shutil.copytree(reference, out)
    part = out / "parts" / "chunk-00001.parquet"
    part.write_bytes(part.read_bytes()[:100])  # truncated, as a full disk or a partial copy leaves it
    def cached_rows() -> int:
        return sum(1 for path in (out / "cache").rglob("rows.jsonl") for _ in path.open())

    before = cached_rows()
    result = run_build(settings, out, progress=False)
    assert result["merged"]
    assert f"{part}: damaged part file (" in caplog.text
    assert "moved to chunk-00001.parquet.damaged, chunk 1 is built again" in caplog.text
    assert (out / "parts" / "chunk-00001.parquet.damaged").stat().st_size == 100
    rebuilt, ref = tables(out), tables(reference)
    assert all(rebuilt[c].equals(ref[c]) for c in ref)
    # Rebuilt from the generation cache: no prompt was generated a second time.
    assert cached_rows() == before == 6 * LIMIT  # each prompt, and each blank SR generated again, once

    other = out / "parts" / "chunk-00002.parquet"
    other.write_bytes(b"")
    with pytest.raises(DamagedPartError, match=r"chunk-00002\.parquet: damaged part file \(.*\); run 'c2 syn build' "
                                               r"again without --shard: it moves the part aside and builds chunk 2 "
                                               r"again$"):
        merge_build([out])
    assert main(["syn", "merge", str(out)]) == 2  # one line, exit 2


def test_the_build_id_does_not_depend_on_how_the_generator_path_is_spelled(reference, settings, monkeypatch):
    from pathlib import Path

    model = Path(settings.generator)
    monkeypatch.chdir(model.parent.parent)
    for spelling in (f"{model.parent.name}/{model.name}", f"./{model.parent.name}/{model.name}/"):
        respelled = dataclasses.replace(settings, generator=spelling)
        result = run_build(respelled, reference, progress=False)  # resumes the build: nothing to generate
        assert result["merged"]
        assert result["fingerprint"] == json.loads((reference / "build.json").read_text())["fingerprint"]


def test_the_build_id_does_not_depend_on_where_the_generator_folder_lies(settings, tmp_path):
    """A copy of the generator elsewhere (another machine, another checkout) is the same build."""
    import shutil
    from pathlib import Path

    from c2_syn_dataset.builder import builder_hash

    model = Path(settings.generator)
    moved = tmp_path / "elsewhere" / model.name
    shutil.copytree(model, moved)
    assert builder_hash(dataclasses.replace(settings, generator=str(moved)), "src") == builder_hash(settings, "src")
    changed = tmp_path / "changed" / model.name
    shutil.copytree(model, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text() + " ")
    assert builder_hash(dataclasses.replace(settings, generator=str(changed)), "src") != builder_hash(settings, "src")


def test_hub_generators_keep_their_build_id(settings):
    """A Hub id is not a folder here: the fingerprint payload names it as before, so earlier builds resume."""
    from c2_syn_dataset.pipeline import generator_fingerprint_identity

    hub = dataclasses.replace(settings, generator="meta-llama/Llama-2-7b-chat-hf", adapter="org/some-adapter")
    assert hub.data_dict()["generator"] == "meta-llama/Llama-2-7b-chat-hf"
    assert hub.data_dict()["adapter"] == "org/some-adapter"
    identity = {"model": "meta-llama/Llama-2-7b-chat-hf", "revision": "08751db2aca9bf2f7f80d2e516117a53d7450235",
                "is_tiny": False, "load_in_4bit": False, "dtype": "auto", "adapter": "org/some-adapter"}
    assert generator_fingerprint_identity(identity) == identity


def test_a_build_is_refused_in_a_folder_an_eval_run_writes_or_wrote(settings, tmp_path):
    from c2kit.locks import LockedError

    running = tmp_path / "running"
    with holding_output_lock(running, "c2 eval run", shared=False) as holder:
        with pytest.raises(LockedError, match=rf"running: the C2-Syn build directory is in use by another run "
                                              rf"\(pid {holder.pid}: c2 eval run\); wait for it to finish or choose "
                                              "another --out"):
            run_build(settings, running, progress=False)
    assert sorted(p.name for p in running.iterdir()) == [".lock"]  # nothing of a build was written

    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "config.json").write_text("{}")
    (finished / "scores.json").write_text("{}")
    with pytest.raises(ValueError, match=r"finished holds files that c2 eval run writes \(scores.json\); "
                                         "c2 syn build needs a folder of its own: choose another --out"):
        run_build(settings, finished, progress=False)
    assert main(cli_args(settings.generator, finished)) == 2
    assert not (finished / "build.json").exists()


def test_a_model_folder_is_refused_as_what_it_is_not_as_an_eval_run(settings, tmp_path, capsys):
    """Its config.json is no sign of an eval run; its README.md would become the dataset card."""
    model = tmp_path / "model"
    model.mkdir()
    for name, text in [("config.json", "{}"), ("model.safetensors", "weights"), ("README.md", "my card"),
                       ("tokenizer.json", "{}")]:
        (model / name).write_text(text)
    assert main(cli_args(settings.generator, model)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"c2 syn: error: {model} is not empty (README.md, config.json, model.safetensors, ...) and is not a "
        "C2-Syn build directory (it has no build.json); c2 syn build needs a folder of its own: choose another --out")
    assert sorted(p.name for p in model.iterdir()) == [".lock", "README.md", "config.json", "model.safetensors",
                                                        "tokenizer.json"]
    assert (model / "README.md").read_text() == "my card"


def test_shards_of_one_build_share_the_folder_lock(reference, settings, tmp_path):
    import shutil

    out = tmp_path / "shared"
    shutil.copytree(reference, out)
    with holding_output_lock(out, "c2 syn build", shared=True):  # another shard, still running
        assert run_build(settings, out, shard=(1, 2), progress=False)["merged"]


def test_shards_finishing_together_merge_one_at_a_time(reference, tmp_path, monkeypatch, caplog):
    """Two merges into one folder never overlap: in two threads here, and against another process."""
    import logging
    import shutil
    import threading

    from c2_syn_dataset import shards

    out = tmp_path / "together"
    shutil.copytree(reference, out)
    guard, inside, overlaps, original = threading.Lock(), [], [], shards._merge_into
    arrived, take_turn = [], shards.one_at_a_time

    def arrive(*args):  # a merge coming to the lock
        with guard:
            arrived.append(threading.get_ident())
        return take_turn(*args)

    def watched(dirs, folder):
        with guard:
            inside.append(threading.get_ident())
            overlaps.extend(inside[:-1])  # another merge is still writing
        # Merge only once the other merge has come to the lock: it must wait for this one (or, with no lock, it
        # would be in here too), however the threads are scheduled.
        wait_until(lambda: len(arrived) >= 2, timeout_s=60, failure="the second merge never came to the lock")
        try:
            return original(dirs, folder)
        finally:
            with guard:
                inside.remove(threading.get_ident())

    monkeypatch.setattr(shards, "_merge_into", watched)
    monkeypatch.setattr(shards, "one_at_a_time", arrive)
    results = []
    threads = [threading.Thread(target=lambda: results.append(merge_build([out]))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert overlaps == [] and len(results) == 2 and results[0]["n_requests"] == results[1]["n_requests"] == LIMIT
    merged, ref = tables(out), tables(reference)
    assert all(merged[c].equals(ref[c]) for c in ref)

    merging = ("from c2kit.locks import one_at_a_time\n"
               f"merge = one_at_a_time({str(out)!r}, {shards.MERGE_LOCK!r}, 'merge')\nmerge.__enter__()")
    with another_process(merging) as holder:
        caplog.set_level(logging.INFO, logger="c2kit.locks")
        waiting = threading.Thread(target=lambda: results.append(merge_build([out])))
        waiting.start()
        said = f"together: waiting for the merge of another run (pid {holder.pid}) to finish"
        wait_until(lambda: said in caplog.text, timeout_s=60, failure=f"the merge never said {said!r}")
        assert waiting.is_alive() and len(results) == 2  # waits for the other process's merge
    waiting.join(timeout=120)
    assert len(results) == 3 and all(merged[c].equals(tables(out)[c]) for c in ref)


def test_repeated_source_rows_are_kept_and_counted(settings, tmp_path):
    """Dropping them would change every earlier build's id; the count tells the user (terminal and card)."""
    from c2_syn_dataset.pipeline import prepare
    from c2kit.sources import bundled_path

    lines = bundled_path().read_text(encoding="utf-8").splitlines()[:3]
    source = tmp_path / "source.jsonl"
    source.write_text("\n".join(lines + [lines[1], lines[1]]) + "\n", encoding="utf-8")
    plan = prepare(dataclasses.replace(settings, source=str(source), limit=None))
    assert plan.stats.rows_read == 5 and plan.stats.repeated_rows == 2
    assert ("| of which repeat an earlier row's request and responses (kept, as each build has) | 2 |"
            in plan.stats.to_markdown())
    (tmp_path / "one.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    single = prepare(dataclasses.replace(settings, source=str(tmp_path / "one.jsonl"), limit=None))
    assert single.stats.repeated_rows == 0 and "repeat an earlier row" not in single.stats.to_markdown()


def test_the_mismatch_check_knows_which_keys_the_fingerprint_hashes(reference, settings):
    """shards.FINGERPRINTED must name exactly what pipeline.make_manifest hashes, or a mismatch is misreported."""
    from c2_syn_dataset.pipeline import fingerprint
    from c2_syn_dataset.shards import FINGERPRINTED

    manifest = json.loads((reference / "build.json").read_text())
    data = {key: manifest[key] for key in FINGERPRINTED if key in manifest}
    data["settings_data"] = settings.data_dict()  # the build's own settings (a resumed build may respell a path)
    assert fingerprint(data) == manifest["fingerprint"]
