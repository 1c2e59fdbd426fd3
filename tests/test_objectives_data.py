"""The objectives' data, made from a C2-Syn build: recipes, seeds, safe and utility responses, builder, card, config.

No training here (tests/test_objectives_training.py trains): every row is checked against the build it comes from.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from objective_helpers import ranked_groups, source_file, write_build

from c2_syn_dataset.objectives.data import NOT_A_REFUSAL, ObjectiveDataError, objective_data, read_manifest
from c2_syn_dataset.objectives.recipes import (BACKTRACK, CONTINUE, FULL_RESPONSE, MLE, RECIPES, RECOVERY, RTO, SAFE,
                                               UTILITY)
from c2kit.backtrack import RESET_TOKEN
from c2kit.training.tiny_data import REFUSAL


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("objective-data")
    return write_build(root / "c2-syn", source_file(root / "source.jsonl"))


def rows_of(build: Path, objective: str, **options):
    from c2_syn_dataset.objectives.builder import load_ranked

    return objective_data(objective, load_ranked(build), origin=str(build), manifest=read_manifest(build), **options)


def test_recovery_rows_are_c2syn_prefixes_followed_by_the_builds_refusal(build):
    groups = {group["source_id"]: group for group in ranked_groups()}
    data = rows_of(build, "recovery-sft", utility_ratio=0)
    assert Counter(row["kind"] for row in data.rows) == {RECOVERY: len(groups)}  # one per request
    for row in data.rows:
        group = groups[row["source_id"]]
        assert row["request"] == group["prompt"] and row["response"] == group["responses"][0] == REFUSAL
        expected = "" if row["cut"] == 0 else f"{group['opener']} {group['cuts'][row['cut'] - 1]}"
        assert row["prefix"] == expected  # C2-Syn's own opener and punctuation cut, or none
    cuts = Counter(row["cut"] for row in data.rows)
    # Qi et al.: a harmful prefix half of the time; the cut drawn uniformly among C2-Syn's four.
    assert 0.3 < cuts[0] / len(data.rows) < 0.7 and set(cuts) == {0, 1, 2, 3, 4}


def test_derta_rows_pair_a_random_prefix_with_the_whole_harmful_response(build):
    groups = {group["source_id"]: group for group in ranked_groups()}
    data = rows_of(build, "derta", utility_ratio=0)
    by_request: dict[str, dict] = {}
    for row in data.rows:
        by_request.setdefault(row["source_id"], {})[row["kind"]] = row
    assert len(by_request) == len(groups) and all(set(kinds) == {MLE, RTO} for kinds in by_request.values())
    for source_id, kinds in by_request.items():
        group = groups[source_id]
        assert kinds[RTO]["prefix"] == f"{group['opener']} {group['responses'][-1]}"
        assert kinds[RTO]["cut"] == FULL_RESPONSE and kinds[RTO]["response"] == kinds[MLE]["response"] == REFUSAL
    no_prefix = sum(kinds[MLE]["cut"] == 0 for kinds in by_request.values()) / len(by_request)
    assert 0.15 < no_prefix < 0.5  # DeRTa: no prefix for a third of the requests


def test_backtrack_rows_and_pairs_come_from_the_builds_own_texts(build):
    groups = {group["source_id"]: group for group in ranked_groups()}
    data = rows_of(build, "backtrack", utility_ratio=0.5)
    by_request: dict[str, dict] = {}
    for row in data.rows:
        if row["kind"] != UTILITY:
            by_request.setdefault(row["source_id"], {})[row["kind"]] = row
    assert len(by_request) == len(groups) and all(set(kinds) == {BACKTRACK, SAFE} for kinds in by_request.values())
    for source_id, kinds in by_request.items():
        group = groups[source_id]
        # Zhang et al., Section 2.1: x + prefix(y-) -> [RESET] + y+, and x -> y+; the prefix always C2-Syn's.
        assert kinds[BACKTRACK]["prefix"] == f"{group['opener']} {group['cuts'][kinds[BACKTRACK]['cut'] - 1]}"
        assert kinds[BACKTRACK]["response"] == RESET_TOKEN + REFUSAL
        assert (kinds[SAFE]["prefix"], kinds[SAFE]["cut"], kinds[SAFE]["response"]) == ("", 0, REFUSAL)
    assert {row["cut"] for row in data.rows if row["kind"] == BACKTRACK} == {1, 2, 3, 4}
    pairs = Counter(pair["kind"] for pair in data.pairs)
    utility = {row["source_id"]: row for row in data.rows if row["kind"] == UTILITY}
    assert pairs[BACKTRACK] == len(groups) and 0 < pairs[CONTINUE] <= len(utility)
    assert pairs[CONTINUE] + data.no_pair["utility answer with too few punctuation marks to cut"] == len(utility)
    for pair in data.pairs:
        if pair["kind"] == BACKTRACK:  # Section 2.2: the reset and SR over the rest of the harmful response
            group = groups[pair["source_id"]]
            cut = group["cuts"][pair["cut"] - 1]
            assert pair["prefix"] == f"{group['opener']} {cut}" and pair["chosen"] == RESET_TOKEN + REFUSAL
            assert cut + pair["rejected"] == group["responses"][-1] and pair["rejected"].strip()
        else:  # inside a safe answer: going on over the reset, the same rest after it
            answer = utility[pair["source_id"]]["response"]
            assert pair["request"] == utility[pair["source_id"]]["request"]
            assert pair["prefix"] + pair["chosen"] == answer
            assert pair["rejected"] == RESET_TOKEN + pair["chosen"]
    assert " DPO pairs: " in data.report() and f"{pairs[BACKTRACK]} backtrack" in data.report()


def test_backtrack_exports_its_rows_and_pairs_with_a_card_citing_the_paper(build, tmp_path):
    import datasets

    from c2_syn_dataset.objectives.__main__ import main
    from c2_syn_dataset.objectives.builder import ObjectiveBuilder

    out = tmp_path / "backtrack-rows"
    assert main(["--from", str(build), "--objective", "backtrack", "--out", str(out)]) == 0
    data = rows_of(build, "backtrack")
    assert datasets.load_dataset(str(out), "backtrack", split="train").to_list() == data.rows
    assert datasets.load_dataset(str(out), "backtrack-dpo", split="train").to_list() == data.pairs
    builder = ObjectiveBuilder(build, config_name="backtrack-dpo", cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    assert builder.as_dataset(split="train").to_list() == data.pairs
    card = (out / "README.md").read_text(encoding="utf-8")
    for text in ("Backtracking Improves Generation Safety", "eprint = {2409.14586}", "no public code",
                 "config `backtrack-dpo`", "[RESET]", "Section 2.2"):
        assert text in card, text


def test_the_draws_follow_the_builds_seed_and_nothing_else(build, tmp_path):
    from c2_syn_dataset.objectives.builder import load_ranked

    data = rows_of(build, "recovery-sft", utility_ratio=0)
    ranked = list(load_ranked(build))
    reversed_order = objective_data("recovery-sft", ranked[::-1], origin="b", manifest=read_manifest(build),
                                    utility_ratio=0)
    assert sorted(reversed_order.rows, key=str) == sorted(data.rows, key=str)  # per request, not per position
    other_seed = write_build(tmp_path / "seed-1", groups=ranked, seed=1)
    cuts = [row["cut"] for row in rows_of(other_seed, "recovery-sft", utility_ratio=0).rows]
    assert cuts != [row["cut"] for row in data.rows]


def test_utility_rows_are_the_sources_safe_rows_whose_answer_is_no_refusal(build, tmp_path):
    data = rows_of(build, "recovery-sft", utility_ratio=0.25)
    utility = [row for row in data.rows if row["kind"] == UTILITY]
    kept = len(ranked_groups())
    assert len(utility) == round(0.25 * kept) and data.utility_available == 40  # the 40 benign rows of the source
    source = [json.loads(line) for line in (build.parent / "source.jsonl").read_text().splitlines()]
    safe = {str(index): row for index, row in enumerate(source)
            if row["is_response_0_safe"] and row["is_response_1_safe"]}
    for row in utility:
        assert row["source_id"] in safe and row["response"] == safe[row["source_id"]]["response_0"]
        assert row["prefix"] == "" and row["cut"] == 0
    # The paper's ratio by default (Qi et al.: 4 utility rows per safety example): all 40 the source has.
    assert sum(row["kind"] == UTILITY for row in rows_of(build, "recovery-sft").rows) == 40
    assert RECIPES["recovery-sft"].utility_ratio == 4.0 and RECIPES["derta"].utility_ratio == 20.0
    # A safe answer that is a refusal would teach refusing safe requests: it is left out, and counted.
    refusing = [dict(row, response_0="I'm sorry, but I cannot help with that.") if index == 500 else row
                for index, row in enumerate(source)]
    (tmp_path / "source.jsonl").write_text("".join(json.dumps(row) + "\n" for row in refusing), encoding="utf-8")
    other = write_build(tmp_path / "c2-syn", tmp_path / "source.jsonl", groups=ranked_groups())
    data = rows_of(other, "recovery-sft", utility_ratio=1)
    assert data.utility_available == 39 and data.utility_skipped["safe answer is a refusal"] == 1
    assert "utility rows drawn from the 39 in the source" in data.report()


def test_a_request_whose_sr_is_no_refusal_is_left_out_and_a_build_without_any_is_refused(tmp_path):
    groups = ranked_groups()
    complied = [dict(group, responses=["Sure, here is how: first get the tools.", *group["responses"][1:]])
                if index < 5 else group for index, group in enumerate(groups)]
    data = rows_of(write_build(tmp_path / "some", groups=complied), "derta")
    assert data.left_out == {NOT_A_REFUSAL: 5} and len({row["source_id"] for row in data.rows}) == len(groups) - 5
    assert f"{len(groups) - 5} with a refusal SR; 5 left out: {NOT_A_REFUSAL}" in data.report()
    noise = [dict(group, responses=["dog tree seven", *group["responses"][1:]]) for group in groups]
    with pytest.raises(ObjectiveDataError, match=r"none of its \d+ requests has an SR that reads as a refusal"):
        rows_of(write_build(tmp_path / "none", groups=noise), "recovery-sft")


def test_a_build_whose_source_cannot_be_read_is_named_in_one_line(tmp_path):
    build = write_build(tmp_path / "c2-syn", tmp_path / "moved-away.jsonl", groups=ranked_groups())
    with pytest.raises(ObjectiveDataError, match=r"come from the build's source '.*moved-away.jsonl' \(build.json\), "
                                                 r"which cannot be read here: .*set utility_ratio 0"):
        rows_of(build, "recovery-sft")
    assert len(rows_of(build, "recovery-sft", utility_ratio=0).rows) == len(ranked_groups())


def test_the_builder_gives_the_same_rows_and_the_export_a_card_citing_the_paper(build, tmp_path):
    import datasets

    from c2_syn_dataset.objectives.__main__ import main
    from c2_syn_dataset.objectives.builder import ObjectiveBuilder

    builder = ObjectiveBuilder(build, config_name="derta", utility_ratio=0.25, cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    built = builder.as_dataset(split="train")
    assert built.to_list() == rows_of(build, "derta", utility_ratio=0.25).rows
    assert "Decoupled Refusal Training" in builder.info.citation

    out = tmp_path / "derta-rows"
    assert main(["--from", str(build), "--objective", "derta", "--utility-ratio", "0.25", "--out", str(out)]) == 0
    exported = datasets.load_dataset(str(out), "derta", split="train")
    assert exported.to_list() == built.to_list()
    card = (out / "README.md").read_text(encoding="utf-8")
    for text in ("Refuse Whenever You Feel Unsafe", "RobustNLP/DeRTa", "eprint = {2407.09121}", "2407.16637",
                 "benign_c2.jsonl", "over-correction test set"):
        assert text in card, text
    recovery = tmp_path / "recovery-rows"
    assert main(["--from", str(build), "--objective", "recovery-sft", "--out", str(recovery)]) == 0
    assert "Safety Alignment Should Be Made More Than Just a Few Tokens Deep" in (recovery / "README.md").read_text()
    assert main(["--from", str(build), "--objective", "derta", "--out", str(build)]) == 2  # not over the build


def test_transition_labels_put_the_refusals_first_token_inside_the_harmful_response():
    from c2kit.training.objectives.transition import IGNORED, transition_labels

    # header (3 tokens) + harmful response (5 tokens) + refusal (2 tokens); TRL labels only the completion.
    ids = [1, 2, 3, 10, 11, 12, 13, 14, 90, 91]
    labels = [IGNORED] * 8 + [90, 91]
    assert transition_labels(ids, labels, [1, 2, 3]) == [IGNORED] * 3 + [90] * 5 + [IGNORED] * 2
    kept = transition_labels(ids, labels, [1, 2, 3], dropout=0.95, seed=0)
    assert kept.count(90) == 1 and kept.index(90) in range(3, 8)  # ceil(5 x 0.05) positions, inside the response
    assert transition_labels(ids, labels, [1, 2, 3], dropout=0.95, seed=0) == kept  # seeded: a resume agrees


@pytest.mark.parametrize(("overrides", "message"), [
    ({"objective": "dpo"}, "objective must be one of c2-dpo, recovery-sft, derta, backtrack, got 'dpo'"),
    ({"lora_dropout": "0.05"}, "lora_dropout applies to the SFT objectives"),
    ({"utility_ratio": "2"}, "utility_ratio applies to recovery-sft, derta and backtrack"),
    ({"objective": "derta", "sft_learning_rate": "1e-5"}, "sft_learning_rate: only backtrack has an SFT stage; derta has one stage"),
    ({"objective": "derta", "rank_pairs": "1-5"}, "rank_pairs and min_rank_gap select C2-Syn's preference pairs"),
    ({"objective": "recovery-sft", "transition_dropout": "0.5"}, "transition_dropout applies to derta's"),
    ({"objective": "derta", "transition_dropout": "1"}, r"transition_dropout must be in \[0, 1\), got 1.0"),
])
def test_keys_an_objective_cannot_use_are_refused(overrides, message):
    from c2kit.training.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config("tiny-cpu", overrides)


def test_c2_train_names_a_wrong_objective_in_one_line(tmp_path, capsys):
    from c2kit.cli import main

    assert main(["train", "--config", "tiny-cpu", "--objective", "rlhf", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == ("c2 train: error: override: objective must be one of c2-dpo, recovery-sft, "
                                       "derta, backtrack, got 'rlhf'\n")


def test_c2_dpo_is_the_default_objective_and_its_trl_config_is_unchanged(tmp_path):
    from c2kit.training.config import load_config
    from c2kit.training.objectives import get_objective
    from c2kit.training.precision import resolve_precision
    from c2kit.training.trainer import dpo_args

    config = load_config("tiny-cpu", {"output_dir": str(tmp_path)})
    assert config.objective == "c2-dpo" and get_objective(config.objective).data_config(config) == "pairs"
    precision = resolve_precision("fp32", cuda=False)
    assert get_objective("c2-dpo").training_args(config, precision).to_dict() == dpo_args(config, precision).to_dict()
    sft = get_objective("derta").training_args(load_config("tiny-cpu", {"objective": "derta",
                                                                          "output_dir": str(tmp_path)}), precision)
    assert sft.completion_only_loss and type(sft).__name__ == "SFTConfig"
    assert get_objective("derta").data_config(config) == "ranked"


def test_the_t4_profiles_carry_each_papers_values():
    from c2kit.training.config import load_config

    recovery, derta = load_config("recovery-sft-llama2-7b-chat-t4"), load_config("derta-llama2-7b-chat-t4")
    for config in (recovery, derta):  # a 16 GB T4: 4-bit base, fp16, paged 8-bit AdamW, checkpointing
        assert (config.load_in_4bit, config.precision, config.optim, config.gradient_checkpointing) == (
            True, "fp16", "paged_adamw_8bit", True)
        assert config.model_name_or_path == "meta-llama/Llama-2-7b-chat-hf" and config.max_length == 512
        assert (config.learning_rate, config.warmup_ratio, config.lr_scheduler_type) == (1e-4, 0.0, "linear")
    # Qi et al.: 10 epochs, 16 safety + 64 anchor rows a step, 256 safety examples.
    assert (recovery.objective, recovery.num_train_epochs, recovery.utility_ratio) == ("recovery-sft", 10, 4.0)
    assert recovery.per_device_train_batch_size * recovery.gradient_accumulation_steps == 80
    assert recovery.num_pairs == 256 * 5
    # DeRTa, Appendix A (LoRA): rank 96, alpha 16, dropout 0.05, 2 epochs, batch 128, every transition position.
    assert (derta.objective, derta.lora_r, derta.lora_alpha, derta.lora_dropout) == ("derta", 96, 16, 0.05)
    assert (derta.num_train_epochs, derta.transition_dropout, derta.utility_ratio) == (2, 0.0, 20.0)
    assert derta.per_device_train_batch_size * derta.gradient_accumulation_steps == 128
    backtrack = load_config("backtrack-llama2-7b-chat-t4")
    assert (backtrack.objective, backtrack.load_in_4bit, backtrack.precision, backtrack.optim) == (
        "backtrack", True, "fp16", "paged_adamw_8bit")
    assert backtrack.model_name_or_path == recovery.model_name_or_path and backtrack.max_length == 512
    assert (backtrack.sft_learning_rate, backtrack.learning_rate, backtrack.beta) == (1e-4, 5e-5, 0.1)


def test_the_tiny_demo_data_carries_the_ranked_groups_the_objectives_need(tmp_path):
    from c2_syn_dataset.objectives.builder import load_ranked
    from c2kit.training.tiny_data import complete_c2syn

    # What a random generator's build holds: noise for SR and after each trigger; its source, the shipped rows.
    groups = [dict(group, responses=["dog tree", *(f"{group['opener']} {cut} {group['trigger']} seven" for cut
                                                    in group["cuts"]), group["responses"][-1]])
              for group in ranked_groups()]
    build = write_build(tmp_path / "c2-syn", "c2eval-500", groups=groups)
    complete_c2syn(build, tmp_path / "demo")
    completed = list(load_ranked(tmp_path / "demo"))
    assert [group["responses"][0] for group in completed] == [REFUSAL] * len(groups)
    assert [group["responses"][-1] for group in completed] == [group["responses"][-1] for group in groups]
    assert all(group["responses"][1].endswith(REFUSAL) for group in completed)
    assert read_manifest(tmp_path / "demo") == read_manifest(build)  # the build's seed and source
    data = rows_of(tmp_path / "demo", "recovery-sft")
    assert len(data.rows) == len(groups) and {row["response"] for row in data.rows} == {REFUSAL}
    assert ("no utility rows: the source has none whose responses are both safe (an unsafe response (a harmful "
            "request): 500)") in data.report()


def test_c2_train_refuses_a_folder_of_pairs_alone_for_an_sft_objective_in_one_line(tmp_path, capsys):
    from c2kit.cli import main
    from c2kit.training.tiny_data import pairs_of, write_pairs_dir

    group = ranked_groups()[0]
    pairs = write_pairs_dir(tmp_path / "pairs", pairs_of(group["prompt"], group["source_id"], group["responses"]))
    assert main(["train", "--config", "tiny-cpu", "--objective", "derta", "--data", str(pairs),
                 "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        f"c2 train: error: {pairs} has no config 'ranked' (its configs: pairs): recovery-sft and derta make their "
        "rows from a C2-Syn build's ranked groups; --data wants the folder 'c2 syn build --out' wrote (for the tiny "
        "demo, the folder python -m c2kit.training.tiny_data writes)\n")
    assert not (tmp_path / "run").exists()


def test_sft_trainer_rows_train_the_response_and_the_transition_rows_the_refusals_first_token(build, tiny_model_dir,
                                                                                            tmp_path, capsys):
    from c2kit.training.config import load_config
    from c2kit.training.model import load_base_model, load_tokenizer
    from c2kit.training.objectives import get_objective
    from c2kit.training.precision import resolve_precision

    config = load_config("tiny-cpu", {"objective": "derta", "dataset": str(build), "output_dir": str(tmp_path),
                                      "model_name_or_path": tiny_model_dir, "utility_ratio": "0", "max_length": "96",
                                      "num_eval_pairs": "0"})
    objective, precision = get_objective("derta"), resolve_precision("fp32", cuda=False)
    tokenizer = load_tokenizer(tiny_model_dir, config)
    rows = objective.load_split(config).train
    trainer = objective.build_trainer(load_base_model(tiny_model_dir, config, precision), tokenizer,
                                      objective.training_args(config, precision, progress=False), config,
                                      objective.to_train_format(rows, tokenizer, config))
    prepared = trainer.train_dataset
    refusal = tokenizer(" " + REFUSAL, add_special_tokens=False)["input_ids"]
    kinds = Counter()
    for row in prepared:
        labelled = [(index, label) for index, label in enumerate(row["labels"]) if label != -100]
        if len({label for _, label in labelled}) == 1 and len(labelled) > 3:  # a transition row
            kinds[RTO] += 1
            assert labelled[0][1] == refusal[0]  # the refusal's first token, at consecutive positions ...
            assert [index for index, _ in labelled] == list(range(labelled[0][0], labelled[-1][0] + 1))
            assert row["input_ids"][labelled[-1][0] + 1] == refusal[0]  # ... up to where the refusal starts
            assert tokenizer.decode(row["input_ids"][:labelled[0][0]]).endswith("<|im_start|>assistant\n")
        else:  # an MLE row: the refusal and EOS (what max_length leaves of them), and nothing before them
            kinds[MLE] += 1
            trained = tokenizer.decode([label for _, label in labelled]).lstrip()
            assert trained and (REFUSAL + tokenizer.eos_token).startswith(trained)
            assert labelled[-1][0] == len(row["input_ids"]) - 1
    assert kinds[RTO] and kinds[MLE]
    # Rows whose response max_length cuts off are left out by TRL, and the run says how many.
    assert len(prepared) < len(rows)
    assert (f"{len(rows) - len(prepared)} of the {len(rows)} training rows are longer than max_length 96 up to "
            "their response, and are left out") in capsys.readouterr().out
