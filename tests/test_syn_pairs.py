"""C2-Syn pairs, Parquet files and dataset card (no model)."""

from __future__ import annotations

import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from c2_syn_dataset import card as card_module
from c2_syn_dataset.card import CITATION, TEMPLATE, render_card, template_path
from c2_syn_dataset.filtering import SelectionStats
from c2_syn_dataset.pairs import pairs_from_ranked, write_config_files
from c2_syn_dataset.schema import RANKED_SCHEMA


def ranked_rows(n: int) -> pa.Table:
    rows = {
        "source_id": [f"s{g}" for g in range(n)],
        "prompt": [f"How {g}?" for g in range(n)],
        "responses": [[f"g{g}r{rank}" for rank in range(6)] for g in range(n)],
        "opener": ["Sure, I can help you with that."] * n,
        "trigger": ["but I must advise you that"] * n,
        "cuts": [["a,", "a, b.", "a, b. c!", "a, b. c! d?"]] * n,
        "n_marks": [4] * n,
        "step": [1] * n,
    }
    return pa.table(rows, schema=RANKED_SCHEMA)


def test_pairs_hand_computed():
    pairs = pairs_from_ranked(ranked_rows(2).slice(1, 1))  # a slice: offsets must be respected
    assert pairs.num_rows == 15
    rows = pairs.to_pylist()
    assert [(r["chosen_rank"], r["rejected_rank"]) for r in rows] == [
        (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5),
        (3, 4), (3, 5), (4, 5)]
    assert rows[0] == {"prompt": "How 1?", "chosen": "g1r0", "rejected": "g1r1", "chosen_rank": 0,
                       "rejected_rank": 1, "source_id": "s1", "opener": "Sure, I can help you with that.",
                       "trigger": "but I must advise you that"}
    assert (rows[14]["chosen"], rows[14]["rejected"]) == ("g1r4", "g1r5")
    many = pairs_from_ranked(pa.concat_tables([ranked_rows(3), ranked_rows(3)]))  # two chunks
    assert many.num_rows == 90 and many.column("chosen")[15 * 4 + 7].as_py() == "g1r1"  # group 4 = s1, pair 7 = (1, 3)


def test_pairs_reject_wrong_group_size():
    table = ranked_rows(2).to_pylist()
    table[1]["responses"] = ["only", "five", "responses", "in", "here"]
    with pytest.raises(ValueError, match=r"ranked row 1 \(source_id 's1'\) has 5 responses, expected 6"):
        pairs_from_ranked(pa.Table.from_pylist(table, schema=RANKED_SCHEMA))


def test_config_files_split_and_replace(tmp_path):
    ranked = ranked_rows(25)
    files = write_config_files(ranked, tmp_path, build_id="0123456789abcdef", groups_per_file=10, groups_per_batch=4)
    assert files["pairs"] == [f"pairs/train-0123456789ab-0000{i}-of-00003.parquet" for i in range(3)]
    assert [pq.ParquetFile(tmp_path / f).metadata.num_rows for f in files["pairs"]] == [150, 150, 75]
    assert pa.concat_tables(pq.read_table(tmp_path / f) for f in files["ranked"]).equals(ranked)
    write_config_files(ranked_rows(5), tmp_path, build_id="other")  # a rewrite leaves no stale file behind
    assert sorted(p.name for p in (tmp_path / "pairs").iterdir()) == ["train-other-00000-of-00001.parquet"]
    with pytest.raises(ValueError, match="no ranked rows"):
        write_config_files(ranked_rows(0), tmp_path, build_id="x")


def manifest(**generator) -> dict:
    stats = SelectionStats(origin="mixed.jsonl", rows_read=10, loader_skipped={"empty text": 1}, failed_question=2,
                           failed_length=1, failed_cuts={"fewer than 4 punctuation marks": 1}, passed=5, kept=4,
                           beyond_limit=1, step_fallbacks=1)
    return {"fingerprint": "feedc0ffee0123456789", "settings": {"whole_word": False, "seed": 3}, "source": {"origin": "mixed.jsonl", "sha256": "ab" * 32},
            "generator": {"model": "org/gen", "revision": "c0ffee", "is_tiny": False, **generator},
            "sampling": {"do_sample": False, "max_new_tokens": 128, "temperature": 1.0, "top_p": 1.0},
            "selection": stats.to_dict()}


def test_card_yaml_and_text():
    card = render_card(manifest(load_in_4bit=True), n_requests=4, empty_sr=1)
    header = yaml.safe_load(str(card).split("---")[1])
    assert header["license"] == "cc-by-nc-4.0"
    assert header["configs"] == [
        {"config_name": "pairs", "data_files": [{"split": "train", "path": "pairs/train-feedc0ffee01-*.parquet"}],
         "default": True},
        {"config_name": "ranked", "data_files": [{"split": "train", "path": "ranked/train-feedc0ffee01-*.parquet"}]},
    ]
    assert header["size_categories"] == "n<1K" and header["source_datasets"] == ["PKU-Alignment/PKU-SafeRLHF"]
    text = card.text
    assert "Content warning" in text and "CC BY-NC 4.0" in text and "keyword judges can be gamed" in text
    assert "`org/gen` (revision `c0ffee`, 4-bit NF4), greedy decoding, 128 new tokens" in text
    for line in ("| rows read | 10 |", "| skipped by the loader: empty text | 1 |", "| kept | 4 |",
                 "| cannot be cut: fewer than 4 punctuation marks | 1 |", "| cannot be cut: first cut has no words | 0 |",
                 "| left out by --limit | 1 |", "| SR generated empty (kept) | 1 |", "| pairs (15 per request) | 60 |"):
        assert line in text
    assert "testing only" in render_card(manifest(is_tiny=True), n_requests=4).text
    other = manifest()
    other["settings"]["column_mapping"] = {"request": "q", "harmful_response": "a"}
    other_card = render_card(other, n_requests=4)
    assert "source_datasets" not in str(other_card).split("---")[1]


def test_card_text_comes_from_the_hub_cards_template(monkeypatch, tmp_path):
    """hub_cards/c2_syn_dataset_card.md is the only copy of the card text: an edit there shows in the card."""
    edited = tmp_path / TEMPLATE
    shutil.copyfile(template_path(TEMPLATE), edited)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEdited in hub_cards.\n", encoding="utf-8")
    monkeypatch.setattr(card_module, "template_path", {TEMPLATE: edited}.__getitem__)
    assert render_card(manifest(), n_requests=4).text.endswith("```\n\nEdited in hub_cards.")


def test_card_cites_the_paper_with_its_authors():
    authors = re.search(r"author = \{(.*?)\},", CITATION, flags=re.DOTALL).group(1)
    assert re.split(r"\s+and\s+", authors) == [
        "Xu, Rongwu", "Cai, Yishuo", "Zhou, Zhenhong", "Gu, Renjie", "Weng, Haiqin", "Liu, Yan", "Zhang, Tianwei",
        "Xu, Wei", "Qiu, Han"]
    assert "Industry Track" in CITATION and "eprint = {2407.16637}" in CITATION
    text = render_card(manifest(), n_requests=4).text
    assert f"```bibtex\n{CITATION}\n```" in text and text.count("@inproceedings") == 1


def test_rebuilt_directory_is_not_served_from_a_stale_cache(tmp_path):
    """datasets caches a local directory by name and file patterns; each build's files carry its id."""
    from datasets import load_dataset

    out, cache = tmp_path / "c2-syn", str(tmp_path / "hf")
    for build_id, n in (("feedc0ffee0123456789", 2), ("0ddba11deadbeef01234", 3)):
        write_config_files(ranked_rows(n), out, build_id=build_id)
        render_card({**manifest(), "fingerprint": build_id}, n_requests=n).save(str(out / "README.md"))
        assert load_dataset(str(out), "pairs", split="train", cache_dir=cache).num_rows == 15 * n


def test_card_counts_the_empty_srs_generated_again_and_the_requests_dropped():
    """The merge's record in build.json: the card's table counts both, and the kept requests are those written."""
    record = {"regenerations": 3, "regenerated": 2, "dropped": ["s7"]}
    text = render_card({**manifest(), "empty_sr": record}, n_requests=3).text
    for line in ("| kept | 4 |", "| SR came back empty, generated again and kept | 2 |",
                 "| SR still empty after 3 regenerations: request dropped | 1 |", "| pairs (15 per request) | 45 |"):
        assert line in text.splitlines()
    assert "The first 4 requests that pass were kept." in text and "preference: 3 requests, 45 pairs." in text
    assert ("the bare request (an empty or blank SR was generated again with the next seed, up to 3 times, sampled "
            "at temperature 0.8 and top-p 0.7; a request whose SR stayed empty was dropped);") in " ".join(text.split())
    assert "SR generated empty" not in text
    # A build made before empty SRs were generated again has no record: no rule and no counts it never made.
    older = render_card(manifest(), n_requests=4).text
    assert "generated again" not in older and "SR generated empty" not in older
