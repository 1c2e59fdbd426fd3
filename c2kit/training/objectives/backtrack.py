"""``backtrack``: Zhang et al., ICLR 2025, "Backtracking Improves Generation Safety": a ``[RESET]`` token, SFT
then DPO.

The model learns to emit :data:`c2kit.backtrack.RESET_TOKEN` when its answer has gone harmful, and to answer
safely after it (what comes before the token is discarded: C2-Eval reads it so). Two stages, each a full run of
:func:`c2kit.training.trainer.run_training`'s machinery (checkpoints and exact resume, log, checksums,
``metrics.json``) in a folder of its own:

1. **SFT** (Section 2.1) in ``OUTPUT/sft-stage``: TRL's ``SFTTrainer``, completion-only loss, on the rows of
   :func:`c2_syn_dataset.objectives.recipes.request_rows`: ``x + prefix(y-) -> [RESET] + y+`` (the loss on
   ``[RESET]`` and after) and ``x -> y+``, plus utility rows. ``sft_learning_rate``, ``sft_num_train_epochs``
   and ``sft_max_steps`` set what differs from the DPO stage.
2. **DPO** (Section 2.2) in ``OUTPUT``: the toolkit's DPO path (TRL's ``DPOTrainer``) from the SFT adapter, on
   pairs that prefer the reset over the rest of the harmful response after a harmful prefix, and going on over a
   reset inside a safe answer (:func:`~c2_syn_dataset.objectives.recipes.backtrack_pair`,
   :func:`~c2_syn_dataset.objectives.recipes.continue_pair`). The reference is the SFT model: the SFT adapter is
   loaded twice, as the trained ``default`` adapter and as TRL's frozen ``ref`` adapter (TRL 1.16 copies a
   PeftModel's adapter into ``ref`` when it gets no ``ref_model``; TRL's copy misses the trainable-token rows,
   which :func:`_copy_token_rows_to_ref` adds). One 4-bit base serves both, as for ``c2-dpo``.

The token is added to the tokenizer as a normal (non-special) ``AddedToken`` with ``normalized=False``: it is one
token, and decoders keep it in the text even with ``skip_special_tokens=True``, so every engine records it. The
base's embeddings and LM head grow by its row (:func:`c2kit.models.fit_embeddings`), and PEFT trains that row only
(``LoraConfig(trainable_token_indices=...)``: the input embedding's row, and the LM head's when the head is not
tied to it, as Llama-2's is not). The adapter holds those rows' values and the run folder holds the tokenizer:
:func:`c2kit.models.load_model_and_tokenizer` reads the tokenizer from the adapter folder and grows the base
before loading the adapter.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from c2kit.backtrack import RESET_TOKEN
from c2kit.training.objectives.dpo import C2DPO
from c2kit.training.objectives.sft import SFTObjective

SFT_STAGE_DIR = "sft-stage"  # under the run's output_dir


def add_reset_token(tokenizer) -> int:
    """Add :data:`RESET_TOKEN` to ``tokenizer`` unless it has it (a normal added token, kept when decoding with
    ``skip_special_tokens``); return its id."""
    from transformers import AddedToken

    if RESET_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(RESET_TOKEN, special=False, normalized=False)])
    return tokenizer.convert_tokens_to_ids(RESET_TOKEN)


def prepare_reset_rows(model, tokenizer) -> dict[str, list[int]]:
    """Add the token, grow the model's matrices to the tokenizer, and return PEFT's ``trainable_token_indices``:
    the token's row of the input embedding, and of the LM head when it has its own weights."""
    from c2kit.models import fit_embeddings

    token_id = add_reset_token(tokenizer)
    fit_embeddings(model, tokenizer)
    names = {module: name.rsplit(".", 1)[-1] for name, module in model.named_modules()}
    embeddings, head = model.get_input_embeddings(), model.get_output_embeddings()
    indices = {names[embeddings]: [token_id]}
    if head.weight is not embeddings.weight:  # untied (Llama-2): the head's row predicts the token
        indices[names[head]] = [token_id]
    return indices


def expose_head_bias(model) -> None:
    """TRL computes log-probabilities from the LM head's ``weight`` and ``bias`` directly; PEFT's wrapper of a head
    with trainable token rows answers ``weight`` (the base's with the trained rows in) but not ``bias``: give it the
    base head's (None for Llama's)."""
    head = model.get_output_embeddings()
    if not hasattr(head, "bias"):
        head.bias = head.original_module.bias


def save_without_base_embeddings(trainer, **options) -> None:
    """Save the adapter without copies of the whole grown embedding matrices (PEFT adds them when the vocabulary
    grew: about 1 GB for Llama-2): the trainable-token rows it holds and the base grown again at load time give
    the same model (a test checks the logits)."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False, **options)


class BacktrackSFT(SFTObjective):
    """The SFT stage: the SFT objectives' path, with the reset token's rows trained beside the LoRA."""

    def __init__(self) -> None:
        super().__init__("backtrack", transition=False)

    def adapter_config(self, model, tokenizer, config):
        from c2kit.training.model import lora_config

        return dataclasses.replace(lora_config(config), trainable_token_indices=prepare_reset_rows(model, tokenizer))

    def build_trainer(self, model, tokenizer, args, config, train_dataset, eval_dataset=None):
        trainer = super().build_trainer(model, tokenizer, args, config, train_dataset, eval_dataset)
        expose_head_bias(trainer.model)
        save_without_base_embeddings(trainer)
        return trainer


class Backtrack(C2DPO):
    """The registered objective: its SFT stage first (:meth:`stages`), then this, the DPO stage."""

    name = "backtrack"

    def data_config(self, config) -> str:
        from c2kit.training.data import RANKED

        return RANKED

    def stages(self, config):
        return [(sft_stage_config(config), BACKTRACK_SFT), (config, self)]

    def load_split(self, config):
        from c2kit.training.objectives.sft import build_objective_data, split_rows

        data, origin = build_objective_data(self.name, config)
        return split_rows(data, config, f"{origin} DPO pairs", pairs=True)

    def to_train_format(self, rows, tokenizer, config):
        from c2kit.training.data import completion_end, prompt_renderer

        render = prompt_renderer(tokenizer, plain_template=config.plain_template)
        eos = completion_end(tokenizer)

        def dpo_row(row: dict) -> dict:
            return {"prompt": render(row["request"], row["prefix"]),
                    **{side: row[side] if row[side].endswith(eos) else row[side] + eos
                       for side in ("chosen", "rejected")}}

        return rows.map(dpo_row, remove_columns=rows.column_names, desc="rendering prompts")

    def build_trainer(self, model, tokenizer, args, config, train_dataset, eval_dataset=None):
        from peft import PeftModel
        from trl import DPOTrainer

        from c2kit.training.trainer import keep_adapter_in_fp32

        sft_dir = Path(config.output_dir) / SFT_STAGE_DIR
        prepare_reset_rows(model, tokenizer)
        model = PeftModel.from_pretrained(model, str(sft_dir), is_trainable=True)
        expose_head_bias(model)
        trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=train_dataset,
                             eval_dataset=eval_dataset, processing_class=tokenizer)
        _copy_token_rows_to_ref(trainer.model)
        keep_adapter_in_fp32(trainer, args)
        save_without_base_embeddings(trainer, selected_adapters=["default"])  # not TRL's frozen copy
        return trainer


def _copy_token_rows_to_ref(model) -> None:
    """Make TRL's reference adapter the SFT model in full: TRL copies the parameters named ``.default.`` into
    ``.ref.``, and the trainable-token rows, named ``...trainable_tokens_delta.default``, are not among them."""
    import torch

    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("trainable_tokens_delta.default"):
                reference = parameters.get(name.removesuffix("default") + "ref")
                if reference is None:  # tied LM head: the embedding's rows serve both, and were copied there
                    continue
                reference.copy_(parameter)
                reference.requires_grad_(False)


def sft_stage_config(config):
    """The run's config for its SFT stage: its own folder, the ``sft_*`` keys where set, no C2-Eval."""
    return dataclasses.replace(
        config,
        output_dir=str(Path(config.output_dir) / SFT_STAGE_DIR),
        learning_rate=config.learning_rate if config.sft_learning_rate is None else config.sft_learning_rate,
        num_train_epochs=(config.num_train_epochs if config.sft_num_train_epochs is None
                          else config.sft_num_train_epochs),
        max_steps=config.max_steps if config.sft_max_steps is None else config.sft_max_steps,
        c2eval=False,
    )


BACKTRACK_SFT = BacktrackSFT()
BACKTRACK = Backtrack()
