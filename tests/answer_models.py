"""Tiny offline chat models whose greedy (and low-temperature sampled) answer is fixed by construction.

An "answer automaton": every layer's attention and MLP write nothing to the residual stream (o_proj and
down_proj are zero), so the hidden state at a position is the embedding of the token there, and the LM head
maps each token to the next token of a fixed answer: any prompt token -> the answer's first token, answer
token i -> token i+1, the last one -> end of turn. Decoding then spells the answer after any prompt, in any
batch, through the real loading, templating, batching, caching and parsing code. The logit margin (10 x the
normed one-hot, about 57) also makes sampling at the paper's temperature 0.8 / top-p 0.7 spell it.

Used by the local-judge tests (judges that always say yes/no) and the analyses tests (a generator that refuses
everything against one that never does).
"""

from __future__ import annotations

from pathlib import Path


def build_answer_model(out: Path, base_dir: str, answer: str, added: tuple[str, ...] = (), *, template: str | None = None) -> str:
    """A tiny Llama whose greedy continuation of any prompt is ``answer`` followed by end of turn."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from c2kit.tiny import MARKER

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if added:
        tokenizer.add_tokens(list(added))
    if template is not None:
        tokenizer.chat_template = template
    ids = tokenizer.encode(answer, add_special_tokens=False)
    assert tokenizer.decode(ids) == answer, "the tokenizer must spell the answer exactly"
    assert len(set(ids)) == len(ids) and len(ids) + 1 <= 32, "answer tokens must be distinct (automaton states)"
    eos = tokenizer.eos_token_id
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=4096, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        embed.zero_()
        embed[:, 0] = 1.0  # state 0: any token that is not part of the answer (the prompt)
        for state, token in enumerate(ids, start=1):
            embed[token].zero_()
            embed[token, state] = 1.0
        head = model.lm_head.weight
        head.zero_()
        for state, next_token in enumerate(ids + [eos]):
            head[next_token, state] = 10.0
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / MARKER).write_text("{}")
    return str(out)
