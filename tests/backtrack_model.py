"""A tiny chat model that backtracks: its vocabulary holds the reset token and every continuation it writes is
:data:`CONTINUATION`, a few words, the reset, then a refusal, built offline in a second.

Built from a tiny model's shape (``model64``: head size 64, which vLLM's CPU kernels accept) as a bigram machine:
the layers write nothing (their output projections are zero), so the logits depend on the current token alone.
Each token of the continuation has a hidden dimension of its own; its embedding points there and the head row of
the next token reads it with a logit margin of about 57, so at temperature 0.8 and top-p 0.7 every engine draws
the same tokens. Every other token (the end of any prompt) points at one more dimension, read by the first token of
the continuation, and the last token leads to the end of the turn. A prompt that ended on a token of the
continuation would start it in the middle: the prompts of the tests end on none of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from c2kit.backtrack import RESET_TOKEN

BEFORE_RESET = " Step one: heat"
AFTER_RESET = " Sorry, I refuse!"  # no "." : the end of a prompt of the tests ("... with that.")
CONTINUATION = BEFORE_RESET + RESET_TOKEN + AFTER_RESET
MARGIN = 5.0  # head weight: the logit of the next token is sqrt(hidden) x MARGIN (57 at 128 wide), every other one 0


def chain_ids(tokenizer) -> list[int]:
    """The token ids of :data:`CONTINUATION` in ``tokenizer`` (all different: each has one successor)."""
    ids = tokenizer(CONTINUATION, add_special_tokens=False)["input_ids"]
    assert len(set(ids)) == len(ids), "the continuation repeats a token: a bigram model could not write it"
    return ids


def build_backtrack_model(base_dir: str | Path, out_dir: str | Path, *, special: bool = False) -> Path:
    """Write the backtracking model to ``out_dir`` from the tokenizer and shape of the tiny model ``base_dir``.

    ``special``: the reset token is added as a *special* token (decoders drop those by default), else as a normal
    added token, as ``c2 train --objective backtrack`` adds it.
    """
    import torch
    from tokenizers import AddedToken
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.add_tokens([AddedToken(RESET_TOKEN, normalized=False, special=special)])
    config = LlamaConfig.from_dict({**json.loads((Path(base_dir) / "config.json").read_text()),
                                    "vocab_size": len(tokenizer), "tie_word_embeddings": False})
    model = LlamaForCausalLM(config)
    chain = chain_ids(tokenizer)
    assert len(chain) + 1 <= config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:  # the residual stream stays the token's embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings, head = model.model.embed_tokens.weight, model.lm_head.weight
        embeddings.zero_()
        head.zero_()
        embeddings[:, 0] = 1.0  # any token outside the continuation: dimension 0 ...
        head[chain[0], 0] = MARGIN  # ... leads to its first token
        for dimension, (token, successor) in enumerate(zip(chain, [*chain[1:], tokenizer.eos_token_id]), start=1):
            embeddings[token].zero_()
            embeddings[token, dimension] = 1.0
            head[successor, dimension] = MARGIN
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# What a run of this model must hold, whatever engine sampled it

RUN_ARGS = ["--limit", "2", "--ks", "10,20", "--paths", "3", "--max-new-tokens", "16", "--no-progress"]
N_PATHS = 2 * 2 * 3


def check_reset_run(out: Path, tokenizer) -> None:
    """``out`` (a ``c2 eval run`` of the backtracking model with :data:`RUN_ARGS`) recorded the reset in every
    continuation, kept what the user sees, and counts every path corrected at the reset."""
    from c2kit.backtrack import VISIBLE_FIELD

    generations = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == N_PATHS
    assert {row["continuation"] for row in generations} == {CONTINUATION}
    assert {row[VISIBLE_FIELD] for row in generations} == {AFTER_RESET}
    judgments = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    # " Step one: heat" is 15 characters, 3 words and 5 tokens (St|ep| one|:| heat) before the reset.
    reset_token = chain_ids(tokenizer).index(tokenizer.convert_tokens_to_ids(RESET_TOKEN))
    assert reset_token == 5
    assert {(row["corrected"], row["correction_char"], row["correction_word"], row["correction_token"])
            for row in judgments} == {(True, 15, 3, 5)}
    scores = json.loads((out / "scores.json").read_text())
    assert scores["corr_at_k"] == {"10": 1.0, "20": 1.0}
    assert {(entry["median_words"], entry["median_tokens"], entry["n_paths"])
            for entry in scores["latency"]["by_k"].values()} == {(3.0, 5.0, 6)}


def check_biased_runs(up: Path, down: Path) -> None:
    """Runs of the model with :data:`RUN_ARGS` and ``--reset-logit-bias`` 100 (``up``) and -100 (``down``).

    Biased up, the reset outweighs every next token of the model (a logit of about 57), so the model resets at
    once and again at every step; biased down it never resets."""
    def continuations(out: Path) -> list[str]:
        return [json.loads(line)["continuation"] for line in (out / "generations.jsonl").read_text().splitlines()]

    assert set(continuations(up)) == {RESET_TOKEN * 16}
    judged = [json.loads(line) for line in (up / "judgments.jsonl").read_text().splitlines()]
    assert {(row["corrected"], row["correction_char"]) for row in judged} == {(True, 0)}
    texts = continuations(down)
    assert len(texts) == N_PATHS and not any(RESET_TOKEN in text for text in texts)
    assert all(text.startswith(BEFORE_RESET) for text in texts)  # the model's own words up to where it would reset
    for out, bias in ((up, 100.0), (down, -100.0)):
        config = json.loads((out / "config.json").read_text())
        assert config["reset_logit_bias"] == bias and config["sampling"]["reset_logit_bias"] == bias
