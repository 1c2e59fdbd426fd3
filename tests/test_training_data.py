"""Training data: load C2-Syn-shaped Parquet dirs, rank filters, request-level held-out split, prompt rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2kit.training.config import TrainConfig, apply_overrides
from c2kit.training.data import DataError, adds_bos, load_pairs, pairs_fingerprint, split_pairs, to_dpo_format
from c2kit.training.tiny_data import write_pairs_dir

# The 15 (chosen, rejected) rank pairs of one request, best rank first (0 = SR ... 5 = FHR).
RANK_PAIRS = [(c, r) for c in range(6) for r in range(c + 1, 6)]


def synthetic_pairs(requests: str = "abcde") -> list[dict]:
    return [{"prompt": f"How do I do {sid}?", "chosen": f"{sid}-{c}", "rejected": f"{sid}-{r}",
             "chosen_rank": c, "rejected_rank": r, "source_id": sid}
            for sid in requests for c, r in RANK_PAIRS]


@pytest.fixture(scope="module")
def pairs():
    import datasets

    return datasets.Dataset.from_list(synthetic_pairs())


def config(**overrides) -> TrainConfig:
    return apply_overrides(TrainConfig(), {"num_eval_pairs": "0", **{k: str(v) for k, v in overrides.items()}})


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, 75),                                    # 5 requests x 15 pairs
    ({"rank_pairs": "1-5,2-5"}, 10),             # 2 per request
    ({"min_rank_gap": 4}, 15),                   # (0,4), (0,5), (1,5) per request
    ({"min_rank_gap": 4, "rank_pairs": "1-5,1-2"}, 5),  # both filters: only (1,5)
])
def test_rank_filters(pairs, overrides, expected):
    split = split_pairs(pairs, config(**overrides))
    assert split.n_candidates == expected and len(split.train) == expected and split.eval is None
    gaps = [r - c for c, r in zip(split.train["chosen_rank"], split.train["rejected_rank"], strict=True)]
    assert min(gaps) >= config(**overrides).min_rank_gap


def test_held_out_pairs_come_from_requests_never_trained_on(pairs):
    split = split_pairs(pairs, config(rank_pairs="1-5,2-5", num_eval_pairs=4, num_pairs=5, seed=3))
    eval_ids, train_ids = set(split.eval["source_id"]), set(split.train["source_id"])
    assert len(split.eval) == 4 and len(eval_ids) == 2  # two whole requests of 2 pairs each
    assert len(split.train) == 5 and len(train_ids) == 3  # num_pairs from the other three requests
    assert not eval_ids & train_ids
    assert "training on 5, held out 4" in split.report()


def test_split_is_seeded(pairs):
    def chosen(seed):
        split = split_pairs(pairs, config(num_eval_pairs=15, num_pairs=20, seed=seed))
        return split.train["chosen"], split.eval["chosen"]

    assert chosen(0) == chosen(0)
    assert chosen(0) != chosen(1)


def test_fingerprint_follows_the_selected_pairs(pairs):
    import datasets

    def fingerprint(rows, **overrides):
        return pairs_fingerprint(split_pairs(datasets.Dataset.from_list(rows), config(**{"num_eval_pairs": 15,
                                                                                        **overrides})))

    rows = synthetic_pairs()
    same = fingerprint(rows)
    assert same == pairs_fingerprint(split_pairs(pairs, config(num_eval_pairs=15))) and len(same) == 64
    edited = [dict(row, chosen=row["chosen"] + "!") if i == 40 else row for i, row in enumerate(rows)]
    assert fingerprint(edited) != same  # one response changed
    assert fingerprint(rows, seed=1) != same  # other pairs (or order) selected
    assert fingerprint(rows, num_eval_pairs=0) != same  # the held-out pairs are trained on instead


def test_held_out_split_always_leaves_training_pairs(pairs):
    split = split_pairs(pairs, config(num_eval_pairs=1000))
    assert len(split.train) == 15 and len(split.eval) == 60  # all but one request held out


def test_bad_pairs_are_skipped_and_counted():
    import datasets

    rows = synthetic_pairs("ab")
    rows[0]["chosen"] = "  "
    rows[1]["rejected"] = rows[1]["chosen"]
    split = split_pairs(datasets.Dataset.from_list(rows), config())
    assert len(split.train) == 28 and dict(split.skipped) == {"empty chosen": 1, "chosen == rejected": 1}
    assert "skipped 2 bad pairs before selecting (chosen == rejected: 1, empty chosen: 1)" in split.report()


def test_bad_pairs_are_dropped_before_the_subsample_and_the_held_out_split():
    """What an empty SR (a tiny generator's) does: a third of the pairs are bad; num_pairs still counts good ones."""
    import datasets

    rows = [dict(row, chosen="") if row["chosen_rank"] == 0 else row for row in synthetic_pairs("abcdefgh")]
    split = split_pairs(datasets.Dataset.from_list(rows), config(num_pairs=40, num_eval_pairs=10))
    assert len(split.train) == 40 and len(split.eval) == 10  # 10 good pairs per request
    assert all(split.train["chosen"]) and all(split.eval["chosen"])
    assert dict(split.skipped) == {"empty chosen": 40}
    # c2 train prints the report: the dropped pairs get a line of their own, with their count and why.
    assert split.report().splitlines()[1] == (
        "pairs: dropped 40 pairs whose chosen response is empty (an older C2-Syn build keeps the requests whose SR "
        "came back empty; 'c2 syn build' now generates such an SR again or drops its request)")
    clean = split_pairs(datasets.Dataset.from_list(synthetic_pairs("ab")), config())
    assert len(clean.report().splitlines()) == 1 and "dropped" not in clean.report()


def test_rank_filter_needs_rank_columns():
    import datasets

    rows = [{key: row[key] for key in ("prompt", "chosen", "rejected")} for row in synthetic_pairs("a")]
    data = datasets.Dataset.from_list(rows)
    assert len(split_pairs(data, config()).train) == 15  # groups by prompt when source_id is missing
    with pytest.raises(DataError, match=r"need the column\(s\) \['chosen_rank', 'rejected_rank'\]"):
        split_pairs(data, config(min_rank_gap=2))


def test_load_pairs_reads_a_c2syn_directory_and_rereads_it_when_rebuilt(tmp_path):
    directory = write_pairs_dir(tmp_path / "c2-syn", synthetic_pairs("ab"))
    loaded = load_pairs(str(directory))
    assert len(loaded) == 30 and loaded[0]["chosen"] == "a-0"
    # Rebuilt in place with the same file name: datasets' cache would serve the old rows.
    write_pairs_dir(directory, synthetic_pairs("xyz"))
    assert len(load_pairs(str(directory))) == 45


def test_load_pairs_errors_name_the_dataset(tmp_path):
    with pytest.raises(DataError, match="no such dataset folder"):
        load_pairs(str(tmp_path / "nowhere"))
    rows = [{"prompt": "p", "chosen": "c"}]
    directory = write_pairs_dir(tmp_path / "bad", rows)
    with pytest.raises(DataError, match=r"missing column\(s\) \['rejected'\]; its columns are \['prompt', 'chosen'\]"):
        load_pairs(str(directory))


def test_a_missing_local_folder_is_not_reported_as_a_hub_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pairs_dir(tmp_path / "runs" / "c2-syn", synthetic_pairs("a"))
    # "runs/c2-synn" has the shape of a Hub id (ORG/NAME), but runs/ is a local folder: a typo, not the Hub.
    with pytest.raises(DataError) as error:
        load_pairs("runs/c2-synn")
    text = str(error.value)
    assert text.startswith("runs/c2-synn: no such dataset folder") and "did you mean 'runs/c2-syn'?" in text
    assert "hub" not in text.split("Hub dataset id")[0].lower()
    for path in ("./c2-syn", str(tmp_path / "x" / "y"), "a/b/c"):
        with pytest.raises(DataError, match="no such dataset folder"):
            load_pairs(path)
    assert len(load_pairs("runs/c2-syn")) == 15  # an existing folder loads


def test_hub_ids_are_still_tried_on_the_hub(tmp_path, monkeypatch):
    import datasets

    from c2kit.training import data

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")  # no cached copy to warn of
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, *a, **k: calls.append(name) or (_ for _ in ()).throw(
        ConnectionError("offline")))
    for hub_id in ("PKU-Alignment/PKU-SafeRLHF", "c2-syn"):
        assert not data.looks_like_path(hub_id)
        with pytest.raises(DataError, match=f"dataset '{hub_id}' is not a local file or folder, and it could not be "
                                            "reached on the Hugging Face Hub"):
            load_pairs(hub_id)
    assert calls == ["PKU-Alignment/PKU-SafeRLHF", "c2-syn"]


def test_prompts_are_rendered_with_the_chat_template_and_completions_end_with_eos(tiny_tokenizer):
    import datasets

    data = datasets.Dataset.from_list([
        {"prompt": "How do I x?", "chosen": "No.", "rejected": "Sure, first", "chosen_rank": 0, "rejected_rank": 5},
        {"prompt": "What is y?", "chosen": "Ok.<|im_end|>", "rejected": "y", "chosen_rank": 1, "rejected_rank": 2},
    ])
    rendered = to_dpo_format(data, tiny_tokenizer)
    assert rendered.column_names == ["prompt", "chosen", "rejected"]
    assert rendered[0] == {"prompt": "<|im_start|>user\nHow do I x?<|im_end|>\n<|im_start|>assistant\n",
                           "chosen": "No.<|im_end|>", "rejected": "Sure, first<|im_end|>"}
    assert rendered[1]["chosen"] == "Ok.<|im_end|>"  # EOS is not doubled


def test_a_template_that_writes_bos_does_not_get_a_second_one(tiny_model_dir):
    import datasets
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    # A Llama-2-like setup: the tokenizer prepends BOS and the template writes it too.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.bos_token = "<|endoftext|>"
    bos_id = tokenizer.bos_token_id
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos_id)])
    tokenizer.chat_template = "{{ bos_token }}" + tokenizer.chat_template
    assert adds_bos(tokenizer)
    data = datasets.Dataset.from_list([{"prompt": "How?", "chosen": "No.", "rejected": "Yes."}])
    prompt = to_dpo_format(data, tokenizer)[0]["prompt"]
    assert prompt == "<|im_start|>user\nHow?<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(prompt)["input_ids"]  # what TRL does with a string prompt
    assert ids[0] == bos_id and ids.count(bos_id) == 1


def test_no_template_is_an_error(tiny_model_dir):
    import datasets
    from transformers import AutoTokenizer

    from c2kit.prefill import PrefillError

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    rows = datasets.Dataset.from_list([{"prompt": "p", "chosen": "c", "rejected": "r"}])
    with pytest.raises(PrefillError, match="has no chat template"):
        to_dpo_format(rows, tokenizer)
    # The plain_template key (C2-Syn built with --plain-template) renders such a model's prompts.
    assert to_dpo_format(rows, tokenizer, plain_template=True)["prompt"] == ["User: p\nAssistant: "]
