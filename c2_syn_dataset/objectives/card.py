"""The dataset card of an objective's rows (README.md), from the template ``hub_cards/objective_dataset_card.md``.

It cites the objective's paper and C2-Syn's, says where every part of a row comes from, and holds the counts of
:class:`c2_syn_dataset.objectives.data.ObjectiveData`, so the same build gives the same card.
"""

from __future__ import annotations

from huggingface_hub import DatasetCard, DatasetCardData

from c2_syn_dataset.card import CITATION as C2SYN_CITATION
from c2_syn_dataset.card import DATA_LICENSE, SOURCE_DATASET, size_category, template_path

TEMPLATE = "objective_dataset_card.md"
CITATIONS = {
    "recovery-sft": """\
@inproceedings{qi2025safety,
  title = {Safety Alignment Should Be Made More Than Just a Few Tokens Deep},
  author = {Qi, Xiangyu and Panda, Ashwinee and Lyu, Kaifeng and Ma, Xiao and Roy, Subhrajit and Beirami, Ahmad and
            Mittal, Prateek and Henderson, Peter},
  booktitle = {The Thirteenth International Conference on Learning Representations (ICLR)},
  year = {2025},
  eprint = {2406.05946},
  archivePrefix = {arXiv}
}""",
    "derta": """\
@inproceedings{yuan2025refuse,
  title = {Refuse Whenever You Feel Unsafe: Improving Safety in {LLMs} via Decoupled Refusal Training},
  author = {Yuan, Youliang and Jiao, Wenxiang and Wang, Wenxuan and Huang, Jen-tse and Xu, Jiahao and Liang, Tian and
            He, Pinjia and Tu, Zhaopeng},
  booktitle = {Proceedings of the 63rd Annual Meeting of the Association for Computational Linguistics (ACL)},
  year = {2025},
  eprint = {2407.09121},
  archivePrefix = {arXiv}
}""",
    "backtrack": """\
@inproceedings{zhang2025backtracking,
  title = {Backtracking Improves Generation Safety},
  author = {Zhang, Yiming and Chi, Jianfeng and Nguyen, Hailey and Upasani, Kartikeya and Bikel, Daniel M. and
            Weston, Jason and Smith, Eric Michael},
  booktitle = {The Thirteenth International Conference on Learning Representations (ICLR)},
  year = {2025},
  eprint = {2409.14586},
  archivePrefix = {arXiv}
}""",
}
# The authors' code, where they published it (the backtracking paper has none).
REPOSITORIES = {"recovery-sft": "Unispac/shallow-vs-deep-alignment", "derta": "RobustNLP/DeRTa"}
PRETTY_NAMES = {"recovery-sft": "C2-Syn safety recovery examples", "derta": "C2-Syn DeRTa rows",
                "backtrack": "C2-Syn backtracking rows and pairs"}


def configs(objective: str) -> list[dict]:
    """The card's ``configs``: the objective's rows, one train split, and its DPO pairs where it has them."""
    from c2_syn_dataset.objectives.data import PAIRS_SUFFIX
    from c2_syn_dataset.objectives.recipes import RECIPES

    names = [objective] + ([objective + PAIRS_SUFFIX] if RECIPES[objective].reset else [])
    return [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/*.parquet"}],
             **({"default": True} if name == objective else {})} for name in names]


def render_card(data, manifest: dict | None) -> DatasetCard:
    """The card of ``data`` (:class:`~c2_syn_dataset.objectives.data.ObjectiveData`), made from the build that
    ``manifest`` (its ``build.json``, None when it has none) describes."""
    from c2_syn_dataset.objectives.recipes import RECIPES

    recipe = RECIPES[data.objective]
    kinds = data.kinds()
    generator = (manifest or {}).get("generator", {}).get("model", "the build's generator")
    # Rows read in the PKU-SafeRLHF schema (no request/harmful_response mapping) come from PKU-SafeRLHF.
    pku_schema = "harmful_response" not in ((manifest or {}).get("settings", {}).get("column_mapping") or {})
    card_data = DatasetCardData(
        language="en",
        license=DATA_LICENSE,
        pretty_name=PRETTY_NAMES[data.objective],
        size_categories=size_category(len(data.rows)),
        task_categories=["text-generation"],
        source_datasets=[SOURCE_DATASET] if pku_schema else None,
        tags=["sft", "safety", "course-correction", data.objective, "not-for-all-audiences"],
        configs=configs(data.objective),
    )
    return DatasetCard.from_template(
        card_data,
        template_path=str(template_path(TEMPLATE)),
        objective=data.objective,
        paper=recipe.paper,
        code=(f"[{REPOSITORIES[data.objective]}](https://github.com/{REPOSITORIES[data.objective]})"
              if data.objective in REPOSITORIES else "no public code"),
        reset=recipe.reset,
        n_pairs=f"{len(data.pairs):,}",
        report=data.report(),
        n_rows=f"{len(data.rows):,}",
        kinds=", ".join(f"{kind}: {count:,}" for kind, count in sorted(kinds.items())),
        no_prefix=f"{recipe.no_prefix_probability:.0%}",
        generator=generator,
        seed=int((manifest or {}).get("settings", {}).get("seed", 0)),
        citation=CITATIONS[data.objective],
        c2syn_citation=C2SYN_CITATION,
    )
