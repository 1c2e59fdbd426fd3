"""Engines by name: each engine declares its options in a frozen dataclass and registers a factory.

Built-in engines register in :mod:`c2kit.engines.builtin` (imported with the package); plug-ins call
:func:`register_engine`, or, so that ``--engine NAME`` finds them without code, install a package entry point in
the group ``c2kit.engines`` whose name is the engine's and whose object is an :class:`EngineType`. A factory is
imported only when its engine opens.

The options dataclass is the one place an engine option lives: its fields become the ``c2 eval run`` /
``c2 syn build`` flags (``--field-name``, help and type from the field's metadata), the model judges' spec keys,
and the settings recorded in ``config.json``. It may have ``check(settings)`` (what it needs beyond its fields'
types, raising ``ValueError``) and ``record()`` (its record, e.g. without credentials).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from c2kit.engines.base import Engine
from c2kit.errors import UserError

ENTRY_POINT_GROUP = "c2kit.engines"
DEFAULT_ENGINE = "transformers"
DEFAULT_PARITY_SAMPLE = 8


@dataclass(frozen=True)
class ModelRequest:
    """The model an engine is opened for, as the command asked for it (``--model``, ``--revision``, ...)."""

    model: str
    revision: str | None = None
    dtype: str = "auto"
    trust_remote_code: bool = False
    adapter: str | None = None
    load_in_4bit: bool = False
    batch_tokens: int | None = None  # the transformers engine's tokens in flight (None: from free memory)


@dataclass
class OpenedEngine:
    """What :func:`open_engine` gives: the engine, the model as loaded here and its generation config.

    ``loaded.model`` is the model object where the weights are in this process, ``None`` where the engine holds
    them (then only the tokenizer, which renders and tokenizes every prompt, is here)."""

    engine: Engine
    loaded: Any  # c2kit.models.LoadedModel
    generation_config: Any = None


def tokenizer_here(request):
    """The tokenizer, identity and generation config of ``request``'s model, for an engine holding the weights
    elsewhere (we render and tokenize every prompt here)."""
    from c2kit.models import LoadedModel, load_tokenizer

    tokenizer, identity, generation_config = load_tokenizer(request.model, revision=request.revision,
                                                            trust_remote_code=request.trust_remote_code,
                                                            dtype=request.dtype)
    return LoadedModel(None, tokenizer, identity), generation_config



EngineFactory = Callable[[Any, ModelRequest], OpenedEngine]  # factory(options, request) -> OpenedEngine


@dataclass(frozen=True)
class EngineType:
    """An engine: its ``name``, its options dataclass and its factory (a callable, or ``"module:function"``,
    imported when the engine opens). ``model_options``: the ``ModelRequest`` settings only it can honour
    (``adapter``, ``load_in_4bit``); other engines refuse them up front."""

    name: str
    options: type
    factory: EngineFactory | str
    help: str = ""
    model_options: tuple[str, ...] = ()

    def open(self, options: Any, request: ModelRequest) -> OpenedEngine:
        factory = self.factory
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            factory = getattr(importlib.import_module(module), attribute)
        return factory(options, request)


_ENGINES: dict[str, EngineType] = {}


def register_engine(engine: EngineType, *, overwrite: bool = False) -> None:
    """Make ``--engine NAME`` (and a judge's ``engine=NAME``) open ``engine``."""
    if not dataclasses.is_dataclass(engine.options):
        raise TypeError(f"engine {engine.name!r}: options must be a dataclass, got {engine.options!r}")
    if engine.name in _ENGINES and not overwrite:
        raise ValueError(f"an engine is already registered as {engine.name!r}; pass overwrite=True to replace it")
    _ENGINES[engine.name] = engine


def _entry_points():
    return entry_points(group=ENTRY_POINT_GROUP)


def engine_types() -> list[EngineType]:
    """Every engine: the built-in ones first, then those installed as ``c2kit.engines`` entry points."""
    found = dict(_ENGINES)
    for point in _entry_points():
        if point.name not in found:
            found[point.name] = _loaded(point)
    return list(found.values())


def available_engines() -> list[str]:
    return list(_ENGINES) + sorted({point.name for point in _entry_points()} - set(_ENGINES))


def engine_type(name: str) -> EngineType:
    """The engine called ``name``; an unknown name is an error with the available ones (and a typo's fix)."""
    if name in _ENGINES:
        return _ENGINES[name]
    for point in _entry_points():
        if point.name == name:
            return _loaded(point)
    close = difflib.get_close_matches(name, available_engines(), n=1, cutoff=0.75)  # typos, not guesses
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(f"engine {name!r} is not one of {', '.join(available_engines())}{hint}")


def _loaded(point) -> EngineType:
    engine = point.load()
    if not isinstance(engine, EngineType) or engine.name != point.name:
        raise TypeError(f"the {ENTRY_POINT_GROUP} entry point {point.name!r} must be an EngineType named "
                        f"{point.name!r}, got {engine!r}")
    register_engine(engine, overwrite=True)
    return engine


def option_fields(options: type) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(options)


def option_default(option: dataclasses.Field) -> Any:
    if option.default_factory is not dataclasses.MISSING:
        return option.default_factory()
    return option.default


def option_owners(name: str) -> list[str]:
    """The engines that have option ``name``."""
    return [engine.name for engine in engine_types() if any(f.name == name for f in option_fields(engine.options))]


@dataclass(frozen=True)
class EngineSettings:
    """Which engine generates (``name``) and its options (an instance of that engine's options dataclass).

    Build it with :meth:`build` from option values by name (flags or judge spec keys): an option of another
    engine set to anything but its default is refused. The API key itself is never held: only the name of the
    variable it is read from. ``judge_spec``: the settings come from a judge spec
    (``hf:MODEL?engine=ray&replicas=2``), so messages name its keys (``engine=ray``, ``replicas``) rather than
    the command's flags (``--engine ray``, ``--replicas``).
    """

    name: str = DEFAULT_ENGINE
    options: Any = None
    parity_sample: int = DEFAULT_PARITY_SAMPLE
    judge_spec: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        engine = engine_type(self.name)
        if self.options is None:
            object.__setattr__(self, "options", engine.options())
        elif not isinstance(self.options, engine.options):
            raise TypeError(f"engine {self.name!r} takes {engine.options.__name__}, got {type(self.options).__name__}")
        if self.parity_sample < 0:
            raise UserError("parity_sample must be >= 0")
        check = getattr(self.options, "check", None)
        if check is not None:  # what an engine needs beyond its fields' types (openai: a --base-url)
            check(self)

    @classmethod
    def build(cls, name: str = DEFAULT_ENGINE, *, judge_spec: bool = False, **values: Any) -> "EngineSettings":
        """Settings for engine ``name`` from option values by name (every engine's options may be given: those of
        other engines must keep their defaults)."""
        engine = engine_type(name)
        own = {f.name for f in option_fields(engine.options)}
        foreign: dict[tuple[str, ...], list[str]] = {}  # the engines an option is for -> options set for them
        for key, value in values.items():
            if key in own:
                continue
            owners = tuple(option_owners(key))
            if not owners:
                raise UserError(f"unknown engine option {key!r}")
            default = next(option_default(f) for f in option_fields(engine_type(owners[0]).options) if f.name == key)
            if _is_set(value, default):
                foreign.setdefault(owners, []).append(key)
        for owners, keys in foreign.items():
            first, *others = owners
            where = named_setting("engine", first, judge_spec=judge_spec) + "".join(f" or {o}" for o in others)
            raise UserError(f"{' and '.join(named_setting(key, judge_spec=judge_spec) for key in keys)} "
                            f"{'is' if len(keys) == 1 else 'are'} for {where}, not "
                            f"{named_setting('engine', name, judge_spec=judge_spec)}")
        options = engine.options(**{key: value for key, value in values.items() if key in own})
        return cls(name, options, judge_spec=judge_spec)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENGINE

    def _named(self, key: str, value: str | None = None) -> str:
        return named_setting(key, value, judge_spec=self.judge_spec)

    def record(self) -> dict[str, Any]:
        """The settings for ``config.json``: every engine's options (the others at their defaults, as runs have
        always recorded them), URLs without credentials, the key's variable name, never the key."""
        values: dict[str, Any] = {}
        for engine in engine_types():
            for option in option_fields(engine.options):
                values.setdefault(option.name, option_default(option))
        options = self.options
        values.update(options.record() if hasattr(options, "record") else dataclasses.asdict(options))
        return {"name": self.name, **values, "parity_sample": self.parity_sample}

    def flat(self) -> dict[str, Any]:
        """``engine`` (the name) and the engines' options as a run's settings hold them (flat beside the other
        settings; a resumed run compares them), without secrets."""
        record = self.record()
        return {"engine": self.name, **{option.name: record[option.name] for engine in engine_types()
                                        for option in option_fields(engine.options)
                                        if option.metadata.get("recorded", True)}}

    def check_model_options(self, *, adapter: str | None, load_in_4bit: bool) -> None:
        """``adapter`` and ``load_in_4bit``: refused up front by an engine that cannot honour them."""
        allowed = engine_type(self.name).model_options
        if adapter and "adapter" not in allowed:
            raise UserError(f"--adapter needs --engine transformers; with --engine {self.name}, merge the adapter "
                            "into the model first, or serve it (vLLM: --enable-lora --lora-modules) and evaluate "
                            "the merged model")
        if load_in_4bit and "load_in_4bit" not in allowed:
            raise UserError(f"{self._named('load_in_4bit')} (bitsandbytes) needs "
                            f"{self._named('engine', 'transformers')}; with {self._named('engine', self.name)} use "
                            "the engine's own quantization (e.g. a quantized checkpoint)")


def named_setting(key: str, value: str | None = None, *, judge_spec: bool = False) -> str:
    """A setting as the user wrote it: the flag (``--engine ray``, ``--ray-address``) or, for a judge spec, its
    key (``engine=ray``, ``ray_address``)."""
    if judge_spec:
        key = spec_key(key)
        return key if value is None else f"{key}={value}"
    return flag_of(key) + ("" if value is None else f" {value}")


def _is_set(value: Any, default: Any) -> bool:
    """Whether an option was given a value of its own (an empty list from an unused repeatable flag is not)."""
    return value != default and bool(value or default)


def flag_of(name: str) -> str:
    """The flag of an engine option: ``--field-name``, or the field's ``flag`` metadata (``--base-url``)."""
    for engine in engine_types():
        for option in option_fields(engine.options):
            if option.name == name and "flag" in option.metadata:
                return option.metadata["flag"]
    return "--" + name.replace("_", "-")


def spec_key(name: str) -> str:
    """The judge spec key of an option (``base_url`` for ``base_urls``: one URL per spec)."""
    for engine in engine_types():
        for option in option_fields(engine.options):
            if option.name == name and "spec_key" in option.metadata:
                return option.metadata["spec_key"]
    return name


def open_engine(settings: EngineSettings, request: ModelRequest) -> OpenedEngine:
    """The engine of ``settings``, ready for ``request``'s model: weights loaded (in this process for the
    transformers engine, in vLLM or Ray for theirs), servers answered; with the tokenizer and identity here."""
    settings.check_model_options(adapter=request.adapter, load_in_4bit=request.load_in_4bit)
    return engine_type(settings.name).open(settings.options, request)
