"""The C2-Syn dataset card (README.md): YAML metadata for the Hub and ``load_dataset``, and the text.

This is the one place the card is rendered (the publish step reuses :func:`render_card`). The YAML
``configs`` list ``pairs`` (default) and ``ranked`` with ``data_files`` as ``[{split, path}]``, which is
what makes ``load_dataset(DIR, "pairs")`` work offline and on the Hub (datasets >= 4 has no scripts).
Everything in the card comes from the build manifest, so the same build gives the same card.
"""

from __future__ import annotations

from huggingface_hub import DatasetCard, DatasetCardData

from c2_syn_dataset.filtering import MIN_WORDS, SelectionStats
from c2_syn_dataset.pairs import file_prefix
from c2_syn_dataset.schema import N_PAIRS, RANK_NAMES
from c2kit.protocol import TRIGGERS

LICENSE = "cc-by-nc-4.0"
PKU_SAFERLHF = "PKU-Alignment/PKU-SafeRLHF"
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"))

TEMPLATE = """---
{{ card_data }}
---

# C2-Syn: synthetic course-correction preferences

> **Content warning.** This dataset contains harmful requests and harmful text (violence, crime,
> harassment, self-harm and more), on purpose: it teaches models to steer *away* from such content.
> Do not use it to train models to produce harmful content.

C2-Syn is the synthetic preference data of *Course-Correction: Safety Alignment Using Synthetic
Preferences* (Xu et al., EMNLP 2024 Industry Track, [arXiv 2407.16637](https://arxiv.org/abs/2407.16637)),
rebuilt with the [c2-toolkit](https://github.com/c2-toolkit/c2-toolkit) (`c2 syn build`). For each harmful
request, six responses are ranked by how early they **course-correct**, and every pair of them is a
preference: {{ n_requests }} requests, {{ n_pairs }} pairs.

## Load it

```python
from datasets import load_dataset

pairs = load_dataset("{{ load_path }}", "pairs", split="train")    # default config: DPO pairs
ranked = load_dataset("{{ load_path }}", "ranked", split="train")  # one row per request, six responses
```

`pairs` has the `prompt` / `chosen` / `rejected` columns TRL's `DPOTrainer` expects (`prompt` is the plain
request text; apply your model's chat template to it).

## How it was built

1. **Source**: `{{ source }}` (source sha256 `{{ source_sha }}`).
2. **Filter** (paper rule): the request contains "how", "what", "How" or "What" ({{ question_mode }}),
   and one response is unsafe with more than {{ min_words }} whitespace words (the harmful response:
   `response_0` if it qualifies, else `response_1`). The first {{ n_requests }} requests that pass were kept.
3. **Cuts**: with t punctuation marks (`, . ! : ; ? - " ( ) {} [ ]`) in the harmful response, a step s is
   drawn from {t//4 - 1, t//4} (seeded per request; s = 0 falls back to s = 1); cut i is the text up to
   and including the (i*s)-th mark, i = 1..4. Rows with fewer than 4 marks are skipped.
4. **Responses**, best first (rank 0..5):
   - `SR` (0): the generator's own answer to the bare request;
   - `SYN_i` (1..4): `opener + " " + cut_i + " " + trigger`, continued by the generator (the prefix is
     placed inside the assistant turn of the generator's chat template);
   - `FHR` (5): the full harmful response.

   Earlier correction beats later correction, and any correction beats none. All {{ pairs_per_request }}
   pairs (i < j) of each request are kept, `chosen` = the better one.
5. **Generator**: `{{ generator }}` ({{ generator_ref }}), {{ decoding }}, {{ max_new_tokens }} new tokens,
   seed {{ seed }}.

### Build statistics

{{ stats_table }}

## Columns

`pairs`: `prompt` (the request), `chosen`, `rejected`, `chosen_rank`, `rejected_rank` (0 = SR, 1..4 =
SYN_1..SYN_4, 5 = FHR), `source_id` (row id in the source), `opener`, `trigger`.

`ranked`: `source_id`, `prompt`, `responses` (six strings; the list index is the rank: {{ rank_names }}),
`opener`, `trigger`, `cuts` (the four prefixes of the harmful response), `n_marks` (t), `step` (s).

## Caveat: keyword judges can be gamed

The corrective triggers ("{{ trigger_examples }}", ...) overlap the refusal phrases that keyword judges
look for. A model trained on C2-Syn learns these phrases, so a keyword judge may count a trigger followed
by more harmful text as a correction. Evaluate trained models with an LLM judge as well, and read the
keyword judge's documented phrase list before trusting its numbers.

## Licence

**CC BY-NC 4.0** (non-commercial), inherited from the source data
([PKU-SafeRLHF](https://huggingface.co/datasets/{{ pku }})). The generated text also falls under the terms
of the generator model's licence.

## Citation

```bibtex
@inproceedings{xu2024course,
  title     = {Course-Correction: Safety Alignment Using Synthetic Preferences},
  author    = {Xu, Rongwu and Cai, Yishuo and Zhou, Zhenhong and Gu, Renjie and Weng, Haiqin and Liu, Yan and Zhang, Tianwei and Xu, Wei and Qiu, Han},
  booktitle = {Proceedings of the 2024 Conference on Empirical Methods in Natural Language Processing: Industry Track},
  year      = {2024}
}
```
"""


def size_category(n: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if n < bound), "n>10M")


def configs(build_id: str) -> list[dict]:
    """The card's ``configs``: ``pairs`` (default) and ``ranked``, each a train split of its Parquet files."""
    prefix = file_prefix(build_id)
    return [
        {"config_name": "pairs", "data_files": [{"split": "train", "path": f"pairs/{prefix}-*.parquet"}],
         "default": True},
        {"config_name": "ranked", "data_files": [{"split": "train", "path": f"ranked/{prefix}-*.parquet"}]},
    ]


def _generator_ref(generator: dict) -> str:
    """What exactly generated the data: revision or content hash, adapter, quantization."""
    if generator.get("revision"):
        parts = [f"revision `{generator['revision']}`"]
    else:
        parts = [f"content sha256 `{str(generator.get('content_sha256'))[:16]}`"]
    if generator.get("adapter"):
        parts.append(f"adapter `{generator['adapter']}` (sha256 `{str(generator.get('adapter_sha256'))[:16]}`)")
    if generator.get("load_in_4bit"):
        parts.append("4-bit NF4")
    if generator.get("is_tiny"):
        parts.append("**a tiny random-weight smoke model: this data is for testing only**")
    return ", ".join(parts)


def render_card(manifest: dict, *, n_requests: int, empty_sr: int = 0, load_path: str = "c2-syn") -> DatasetCard:
    """The dataset card of a build described by ``manifest`` (``build.json``) with ``n_requests`` groups.

    ``empty_sr``: requests whose SR came back empty; ``load_path``: the name shown in the usage snippet.
    """
    settings, generator, sampling = manifest["settings"], manifest["generator"], manifest["sampling"]
    stats = SelectionStats.from_dict(manifest["selection"])
    n_pairs = n_requests * N_PAIRS
    # Rows read in the PKU-SafeRLHF schema (no request/harmful_response mapping) come from PKU-SafeRLHF.
    pku_schema = "harmful_response" not in (settings.get("column_mapping") or {})
    card_data = DatasetCardData(
        language="en",
        license=LICENSE,
        pretty_name="C2-Syn",
        size_categories=size_category(n_pairs),
        task_categories=["text-generation"],
        source_datasets=[PKU_SAFERLHF] if pku_schema else None,
        tags=["dpo", "preference", "safety", "course-correction", "synthetic", "not-for-all-audiences"],
        configs=configs(manifest["fingerprint"]),
    )
    stats_rows = (stats.to_markdown() + f"\n| SR generated empty (kept) | {empty_sr:,} |"
                  f"\n| pairs ({N_PAIRS} per request) | {n_pairs:,} |")
    if sampling["do_sample"]:
        decoding = f"sampling (temperature {sampling['temperature']}, top-p {sampling['top_p']}, 1 path)"
    else:
        decoding = "greedy decoding"
    return DatasetCard.from_template(
        card_data,
        template_str=TEMPLATE,
        n_requests=f"{n_requests:,}",
        n_pairs=f"{n_pairs:,}",
        load_path=load_path,
        source=manifest["source"]["origin"],
        source_sha=manifest["source"]["sha256"][:16],
        question_mode="as whole words" if settings["whole_word"] else "as a substring",
        min_words=MIN_WORDS,
        pairs_per_request=N_PAIRS,
        generator=generator["model"],
        generator_ref=_generator_ref(generator),
        decoding=decoding,
        max_new_tokens=sampling["max_new_tokens"],
        seed=settings["seed"],
        stats_table=stats_rows,
        rank_names=", ".join(f"{i} = {name}" for i, name in enumerate(RANK_NAMES)),
        trigger_examples='", "'.join(TRIGGERS[:3]),
        pku=PKU_SAFERLHF,
    )
