"""Settings of a C2-Syn build, kept free of heavy imports so the CLI can parse arguments instantly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from c2kit.engines import EngineSettings
from c2kit.errors import UserError
from c2kit.generation import SamplingConfig

DEFAULT_MAX_NEW_TOKENS = 128  # paper
DEFAULT_CHUNK_SIZE = 256  # requests per part file (x5 prompts per generate call plan)
# Left out of the fingerprint: batch size and remote-code permission do not change the data, and the
# source is identified by the hash of its content (so shards may read it from different paths).
# The engine is left out too: what in it changes outputs joins the fingerprint as the engine's own identity
# (c2kit.engines), and the default engine adds nothing, so earlier builds keep theirs.
NON_DATA_SETTINGS = ("batch_tokens", "trust_remote_code", "source", *EngineSettings().flat())


@dataclass(frozen=True)
class BuildSettings:
    """Everything that defines a C2-Syn build (see ``c2 syn build --help`` for each field)."""

    source: str
    generator: str
    split: str = "train"
    column_mapping: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0  # 0 = greedy (see synthesis.py)
    top_p: float = 1.0
    whole_word: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE
    revision: str | None = None
    adapter: str | None = None
    load_in_4bit: bool = False
    dtype: str = "auto"
    plain_template: bool = False
    trust_remote_code: bool = False
    batch_tokens: int | None = None
    engine: EngineSettings = field(default_factory=EngineSettings)  # what generates; a name: its defaults

    def __post_init__(self) -> None:
        if isinstance(self.engine, str):
            object.__setattr__(self, "engine", EngineSettings.build(self.engine))
        # Checked here, before a generator is loaded: a typo must not cost a model load.
        if self.chunk_size < 1:
            raise UserError(f"chunk_size must be at least 1, got {self.chunk_size}")
        if self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")

    def engine_settings(self) -> EngineSettings:
        """The engine settings, with the model options only some engines can honour (--adapter, --load-in-4bit)
        refused up front."""
        self.engine.check_model_options(adapter=self.adapter, load_in_4bit=self.load_in_4bit)
        return self.engine

    def _own(self) -> dict:
        record = asdict(self)
        del record["engine"]
        return record

    def to_dict(self) -> dict:
        """The settings as ``build.json`` holds them: the engine's name and options flat beside the others, URLs
        without credentials."""
        return {**self._own(), **self.engine.flat()}

    def data_dict(self) -> dict:
        """The settings that change the data (a local generator or adapter named by :func:`spelling_free`)."""
        record = {key: value for key, value in self._own().items() if key not in NON_DATA_SETTINGS}
        for key in ("generator", "adapter"):
            record[key] = spelling_free(record[key])
        return record

    def sampling(self) -> SamplingConfig:
        """The shared generation layer's SamplingConfig for these settings."""
        return sampling_config(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                               top_p=self.top_p, seed=self.seed)


def sampling_config(*, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.0,
                    top_p: float = 1.0, seed: int = 0) -> SamplingConfig:
    """One path per prompt: greedy when ``temperature`` is 0, else seeded sampling with ``top_p``."""
    if temperature < 0:
        raise UserError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if temperature == 0:
        # SamplingConfig wants a valid temperature even when it is unused; 1.0 is the neutral value.
        return SamplingConfig(num_paths=1, max_new_tokens=max_new_tokens, do_sample=False, temperature=1.0,
                              top_p=1.0, seed=seed)
    return SamplingConfig(num_paths=1, max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                          top_p=top_p, seed=seed)


def spelling_free(name: str | None) -> str | None:
    """A local folder as ``local:`` and its folder name, a Hub id (no such folder here) as given.

    ``models/g``, ``./models/g/`` and ``/abs/models/g`` are one build, wherever the folder lies: a local model's
    content hash is in the build id already, so its path adds nothing but a way to miss a resume. Hub builds
    keep their id.
    """
    if name is None:
        return None
    path = Path(name).expanduser()
    return f"local:{path.resolve().name}" if path.is_dir() else name


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise UserError(f"--shard {text}: need 0 <= I < N")
    return index, count
