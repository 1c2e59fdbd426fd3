"""C2-Syn keeps no empty SR as "chosen": it is generated again with the next seed, sampled, up to a bound, then
the request is dropped and counted (terminal table, card, build.json); resumable and byte-identical.

A stand-in engine answers SR with nothing for a request's first tries, so every case is exact; the tiny model's
own blank greedy SRs are in tests/test_syn_build.py.
"""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c2_syn_dataset.filtering import select_requests
from c2_syn_dataset.shards import FINGERPRINTED, BuildMismatchError, merge_build, part_path
from c2_syn_dataset.settings import sampling_config
from c2_syn_dataset.synthesis import SR_REGENERATIONS, kept_groups, synthesize
from c2kit.cli import main
from c2kit.engines.base import Engine
from c2kit.sources import bundled_path, load_source

BLANKS = ("", " \n\t")  # an empty and a whitespace-only answer: both are no answer


class ForgetfulEngine(Engine):
    """Answers the SR of request ``i`` with nothing on its first ``empty_tries[i]`` tries, then with text.

    A try is told by its seed (the build's seed, then one more per regeneration), not by counting calls, so a
    resumed build meets the same answers. Every prompt asked is recorded; ``stop_at_seed`` interrupts the build
    the first time a prompt with that seed is asked (as a kill would).
    """

    name = "forgetful"

    def __init__(self, empty_tries: dict[str, int], *, build_seed: int = 0, stop_at_seed: int | None = None):
        self.empty_tries, self.build_seed, self.stop_at_seed = empty_tries, build_seed, stop_at_seed
        self.calls: list[tuple[str, int, int, bool, float, float]] = []

    def plan_batches(self, prompts, sampling):
        return [list(prompts)]

    def generate_batch(self, batch, sampling):
        if sampling.seed == self.stop_at_seed:
            raise KeyboardInterrupt
        texts = []
        for prompt in batch:
            self.calls.append((prompt.item_id, prompt.k, sampling.seed, sampling.do_sample, sampling.temperature,
                               sampling.top_p))
            attempt = sampling.seed - self.build_seed
            if prompt.k == 0 and attempt < self.empty_tries.get(prompt.item_id, 0):
                texts.append([BLANKS[attempt % 2]])
            else:
                texts.append([f" answer {prompt.item_id}/{prompt.k} seed {sampling.seed}"
                              f"{' sampled' if sampling.do_sample else ''}"])
        return texts, len(batch)


@pytest.fixture
def use_engine(monkeypatch):
    """``use_engine(engine)``: ``c2 syn build`` generates with ``engine`` (the tiny model is loaded, not used)."""
    import c2kit.engines.transformers_engine as transformers_engine

    def install(engine: ForgetfulEngine) -> ForgetfulEngine:
        monkeypatch.setattr(transformers_engine, "TransformersEngine", lambda *args, **kwargs: engine)
        return engine

    return install


def build_args(model: str, out, *extra: str) -> list[str]:
    return ["syn", "build", "--data", str(bundled_path()), "--model", model, "--limit", "4", "--chunk-size", "2",
            "--max-new-tokens", "8", "--no-progress", "--out", str(out), *extra]


def written(out) -> dict[str, bytes]:
    """Every file a merge writes, by its path in the build folder."""
    files = sorted((out / "ranked").glob("*.parquet")) + sorted((out / "pairs").glob("*.parquet"))
    return {str(path.relative_to(out)): path.read_bytes() for path in [*files, out / "README.md", out / "build.json"]}


def test_an_empty_sr_is_generated_again_with_the_next_seed_until_it_answers(tiny_tokenizer):
    requests, _ = select_requests(load_source(), limit=4)
    assert [r.source_id for r in requests] == ["0", "1", "2", "3"]
    engine = ForgetfulEngine({"0": 1, "1": SR_REGENERATIONS, "2": SR_REGENERATIONS + 1})
    made = synthesize(None, tiny_tokenizer, requests, sampling_config(max_new_tokens=8),
                      template=tiny_tokenizer.chat_template, engine=engine)
    srs = [row["responses"][0] for row in made.ranked.to_pylist()]
    assert srs == ["answer 0/0 seed 1 sampled", "answer 1/0 seed 3 sampled", "", "answer 3/0 seed 0"]
    assert made.regenerated == 2  # requests 0 and 1; request 2 never answered
    # Greedy would repeat the empty answer: each regeneration samples (C2-Eval's temperature and top-p), with the
    # next seed, and asks again only the SRs still empty; SYN_i are asked once.
    regenerations = [call for call in engine.calls if call[2] > 0]
    assert sorted((item, seed) for item, _, seed, *_ in regenerations) == [
        ("0", 1), ("1", 1), ("1", 2), ("1", 3), ("2", 1), ("2", 2), ("2", 3)]
    assert {(k, sampled, temperature, top_p) for _, k, _, sampled, temperature, top_p in regenerations} == {
        (0, True, 0.8, 0.7)}
    assert sorted(call[:2] for call in engine.calls if call[2] == 0) == [(r, k) for r in "0123" for k in range(5)]
    kept, dropped = kept_groups(made.ranked)
    assert dropped == ["2"] and kept.column("source_id").to_pylist() == ["0", "1", "3"]

    # A sampling build keeps its own temperature and top-p; the next seed is its seed + 1.
    engine = ForgetfulEngine({"0": 1}, build_seed=7)
    made = synthesize(None, tiny_tokenizer, requests[:1], sampling_config(temperature=0.5, top_p=0.9, seed=7),
                      template=tiny_tokenizer.chat_template, engine=engine)
    assert made.ranked.column("responses")[0].as_py()[0] == "answer 0/0 seed 8 sampled"
    assert [call[2:] for call in engine.calls if call[1] == 0] == [(7, True, 0.5, 0.9), (8, True, 0.5, 0.9)]


def test_a_request_whose_sr_stays_empty_is_dropped_and_counted(tiny_model_dir, tmp_path, use_engine, capsys):
    engine = use_engine(ForgetfulEngine({"1": SR_REGENERATIONS + 1, "3": 2}))
    out = tmp_path / "c2-syn"
    assert main(build_args(tiny_model_dir, out)) == 0
    printed = capsys.readouterr().out
    lines = ["| kept | 4 |", "| SR came back empty, generated again and kept | 1 |",
             f"| SR still empty after {SR_REGENERATIONS} regenerations: request dropped | 1 |",
             "| pairs (15 per request) | 45 |"]
    card = (out / "README.md").read_text(encoding="utf-8").splitlines()
    for line in lines:
        assert line in printed.splitlines() and line in card
    assert "3 requests, 45 pairs written to" in printed
    assert json.loads((out / "build.json").read_text())["empty_sr"] == {
        "regenerations": SR_REGENERATIONS, "regenerated": 1, "dropped": ["1"]}
    pairs = pa.concat_tables(pq.read_table(path) for path in sorted((out / "pairs").glob("*.parquet")))
    assert pairs.num_rows == 45 and all(text.strip() for text in pairs.column("chosen").to_pylist())
    assert sorted(set(pairs.column("source_id").to_pylist())) == ["0", "2", "3"]
    # Each regeneration has a cache of its own beside the build's: 1 + 3 (chunk 0 needed all three seeds).
    assert len(list((out / "cache").glob("shard-0-of-1/*/rows.jsonl"))) == 1 + SR_REGENERATIONS
    assert sum(1 for call in engine.calls if call[2] > 0) == SR_REGENERATIONS + 2


def test_a_resumed_build_is_byte_identical_and_regenerates_nothing_twice(tiny_model_dir, tmp_path, use_engine):
    empty = {"1": SR_REGENERATIONS + 1, "3": 2}
    use_engine(ForgetfulEngine(empty))
    assert main(build_args(tiny_model_dir, tmp_path / "whole")) == 0
    use_engine(ForgetfulEngine(empty, stop_at_seed=2))  # killed in chunk 0, at the second regeneration
    assert main(build_args(tiny_model_dir, tmp_path / "killed")) == 130
    assert not part_path(tmp_path / "killed", 0).exists()
    resumed = use_engine(ForgetfulEngine(empty))
    assert main(build_args(tiny_model_dir, tmp_path / "killed")) == 0
    # The first pass and the first regeneration of chunk 0 came back from the caches.
    assert [call[:3] for call in resumed.calls if call[0] in ("0", "1")] == [("1", 0, 2), ("1", 0, 3)]
    assert written(tmp_path / "killed") == written(tmp_path / "whole")


def test_where_no_sr_is_empty_nothing_is_generated_again_and_the_build_id_holds(tiny_model_dir, tmp_path,
                                                                                use_engine):
    from c2_syn_dataset.pipeline import fingerprint
    from c2_syn_dataset.settings import BuildSettings

    engine = use_engine(ForgetfulEngine({}))
    out = tmp_path / "c2-syn"
    assert main(build_args(tiny_model_dir, out)) == 0
    assert sorted(call[:3] for call in engine.calls) == [(r, k, 0) for r in "0123" for k in range(5)]
    assert len(list((out / "cache").glob("shard-0-of-1/*/rows.jsonl"))) == 1  # no regeneration cache
    manifest = json.loads((out / "build.json").read_text())
    assert manifest["empty_sr"] == {"regenerations": SR_REGENERATIONS, "regenerated": 0, "dropped": []}
    # The build id hashes what it hashed before empty SRs were generated again, nothing more.
    assert FINGERPRINTED == ("c2kit_version", "source", "generator", "chat_template_sha256", "sampling", "engine")
    settings = BuildSettings(source=str(bundled_path()), generator=tiny_model_dir, limit=4, chunk_size=2,
                             max_new_tokens=8)
    data = {key: manifest[key] for key in FINGERPRINTED if key in manifest} | {"settings_data": settings.data_dict()}
    assert fingerprint(data) == manifest["fingerprint"]


def test_when_every_sr_stays_empty_the_build_says_so_in_one_line(tiny_model_dir, tmp_path, use_engine, capsys):
    use_engine(ForgetfulEngine({str(i): SR_REGENERATIONS + 1 for i in range(4)}))
    out = tmp_path / "c2-syn"
    assert main(build_args(tiny_model_dir, out)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"c2 syn: error: {out}: the SR of every one of the 4 requests stayed empty after {SR_REGENERATIONS} "
        "regenerations, so no request is left to write; the generator answers nothing: check it, its chat template "
        "and --max-new-tokens")
    assert len(list((out / "parts").glob("*.parquet"))) == 2  # the generations are kept
    assert not (out / "pairs").exists()


def test_a_part_written_before_empty_srs_were_generated_again_is_built_again(tiny_model_dir, tmp_path, use_engine,
                                                                             caplog):
    use_engine(ForgetfulEngine({"0": 1}))
    out = tmp_path / "c2-syn"
    assert main(build_args(tiny_model_dir, out)) == 0
    before = written(out)
    # Chunk 0 as an earlier version wrote it: the empty SR kept, no count of regenerations.
    part = part_path(out, 0)
    table = pq.read_table(part)
    rows = table.to_pylist()
    rows[0]["responses"][0] = ""
    fingerprint_only = {key: value for key, value in table.schema.metadata.items() if key == b"c2syn_fingerprint"}
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema).replace_schema_metadata(fingerprint_only), part)
    with pytest.raises(BuildMismatchError, match=r"chunk-00000\.parquet: holds empty SRs, written before they were "
                                                 r"generated again; run 'c2 syn build' again without --shard: it "
                                                 r"builds chunk 0 again, generating them from the cache$"):
        merge_build([out])
    engine = use_engine(ForgetfulEngine({"0": 1}))
    caplog.set_level(logging.WARNING, logger="c2_syn_dataset.shards")
    assert main(build_args(tiny_model_dir, out)) == 0
    assert "chunk-00000.parquet: written before empty SRs were generated again; chunk 0 is built again" in caplog.text
    assert engine.calls == []  # from the caches
    assert written(out) == before
