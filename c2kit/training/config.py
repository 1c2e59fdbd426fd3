"""The recipe's settings: one flat dataclass, loaded from a YAML profile and overridden by ``--KEY VALUE``.

Keys are the recipe's own (``learning_rate``, ``lora_r``, ``output_dir``, ...), each with a type and a help
text. YAML values and command-line overrides are coerced to the key's type, and any unknown key is an
error that lists the valid ones, so a typo never silently trains with a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c2_syn_dataset.schema import N_RANKS  # 0 = SR, 1..4 = SYN_1..SYN_4, 5 = FHR
from c2kit.errors import UserError
from c2kit.jsonio import write_bytes
from c2kit.judges.registry import check_judge_spec
from c2kit.limits import MAX_INT
from c2kit.paths import output_dir_problem
from c2kit.protocol import DEFAULT_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS
from c2kit.training.objectives import DEFAULT_OBJECTIVE, OBJECTIVE_NAMES

# The profiles and the accelerate configs are the project's training/ folder, reached through links inside this
# package so they ship as package data: ``--config NAME`` finds a profile in a pip install as in a clone.
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
ACCELERATE_DIR = Path(__file__).resolve().parent / "accelerate"
YAML_SUFFIXES = (".yaml", ".yml")

TINY_MODEL = "tiny"  # model_name_or_path value that builds c2kit's tiny offline model
PRECISIONS = ("auto", "fp16", "bf16", "fp32")
# Keys that only change what is logged, saved or measured, not the trained weights: a run directory is
# resumed or reused whatever their values. ``dataset`` is compared by content (the fingerprint of the
# selected pairs, see c2kit.training.trainer), so a moved dataset directory does not count either.
NOT_TRAINING_KEYS = frozenset({"output_dir", "dataset", "logging_steps", "save_steps", "save_total_limit",
                               "eval_steps", "per_device_eval_batch_size", "eval_before_training"})
NULL_WORDS = ("none", "null", "~")
TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")


class ConfigError(UserError):
    """A training config (YAML file or override) is invalid; the message names the source and the key."""


def _key(default: Any, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults are the 16 GB-GPU recipe; profiles set them explicitly."""

    # --- objective ---
    objective: str = _key(DEFAULT_OBJECTIVE, f"what to train: {', '.join(OBJECTIVE_NAMES)} (docs/objectives.md)")
    # --- base model ---
    model_name_or_path: str = _key(TINY_MODEL, f"Hub id or local path of the chat model; '{TINY_MODEL}' builds "
                                   "c2kit's random tiny model offline (smoke runs)")
    revision: str | None = _key(None, "model revision (branch, tag or commit)")
    trust_remote_code: bool = _key(False, "allow the model repo to run its own code (off by default)")
    attn_implementation: str = _key("sdpa", "attention kernel: sdpa (works on T4), eager, flash_attention_2")
    plain_template: bool = _key(False, "render prompts with c2kit's plain template, for models without a chat "
                                "template (build C2-Syn with --plain-template too; C2-Eval uses it as well)")
    load_in_4bit: bool = _key(True, "QLoRA: load the base in 4-bit NF4 with double quantisation")
    tiny_hidden_size: int = _key(512, f"hidden size of the '{TINY_MODEL}' model (sets how peaked its output "
                                 "distribution can get: see training/profiles/tiny-cpu.yaml)")
    tiny_num_layers: int = _key(1, f"decoder layers of the '{TINY_MODEL}' model")
    # --- data ---
    dataset: str = _key("runs/c2-syn", "C2-Syn: the folder 'c2 syn build --out' wrote (a path) or a Hub id ORG/NAME")
    dataset_config: str = _key("pairs", "dataset config holding prompt/chosen/rejected rows")
    dataset_split: str = _key("train", "dataset split")
    dataset_revision: str | None = _key(None, "dataset revision on the Hub")
    num_pairs: int | None = _key(None, "seeded subsample of this many training pairs (null: all)")
    num_eval_pairs: int = _key(200, "held-out pairs (from requests never trained on) for the reward margin")
    min_rank_gap: int = _key(1, "keep pairs whose rejected_rank - chosen_rank is at least this (1: all 15)")
    rank_pairs: list[str] | None = _key(None, "keep only these 'chosen-rejected' rank pairs, e.g. 1-5,2-5 "
                                        "(0 = SR, 1..4 = SYN_i, 5 = FHR; null: all)")
    utility_ratio: float | None = _key(None, "recovery-sft, derta, backtrack: benign utility rows per request, "
                                       "from the build's source (rows whose responses are both safe); null: the "
                                       "paper's ratio")
    # --- LoRA ---
    lora_r: int = _key(16, "LoRA rank")
    lora_alpha: int = _key(32, "LoRA alpha (scale = alpha / r)")
    lora_target_modules: str = _key("all-linear", "LoRA targets: 'all-linear' or comma-separated module names")
    lora_dropout: float = _key(0.0, "LoRA dropout (recovery-sft, derta; c2-dpo has none: TRL turns dropout off "
                               "for DPO)")
    transition_dropout: float = _key(0.0, "derta: share of the positions of a harmful response left out of the "
                                     "transition term (paper: 0 with LoRA, 0.95 for full fine-tuning)")
    # --- backtrack's first stage (SFT, in OUTPUT/sft-stage; the keys above are its DPO stage's) ---
    sft_learning_rate: float | None = _key(None, "backtrack: peak learning rate of the SFT stage (null: "
                                           "learning_rate)")
    sft_num_train_epochs: float | None = _key(None, "backtrack: epochs of the SFT stage (null: num_train_epochs)")
    sft_max_steps: int | None = _key(None, "backtrack: optimizer steps of the SFT stage (null: max_steps)")
    # --- DPO ---
    beta: float = _key(0.1, "DPO beta (strength of the pull towards the reference = adapter disabled)")
    loss_type: str = _key("sigmoid", "TRL DPO loss type (sigmoid = the DPO paper's loss)")
    max_length: int = _key(1024, "max tokens of prompt + completion; longer pairs are truncated at the end")
    # --- optimisation ---
    learning_rate: float = _key(5e-5, "peak learning rate")
    lr_scheduler_type: str = _key("cosine", "learning-rate schedule")
    warmup_ratio: float = _key(0.1, "fraction of the steps spent warming up the learning rate")
    weight_decay: float = _key(0.0, "AdamW weight decay")
    max_grad_norm: float = _key(1.0, "gradient clipping norm")
    optim: str = _key("paged_adamw_8bit", "optimizer (paged_adamw_8bit needs CUDA; adamw_torch on CPU)")
    per_device_train_batch_size: int = _key(1, "pairs per forward pass")
    per_device_eval_batch_size: int = _key(1, "pairs per forward pass when evaluating")
    gradient_accumulation_steps: int = _key(8, "forward passes per optimizer step")
    num_train_epochs: float = _key(1.0, "passes over the training pairs (ignored when max_steps > 0)")
    max_steps: int = _key(-1, "optimizer steps; -1: use num_train_epochs")
    precision: str = _key("auto", "auto (bf16 where the GPU has it, else fp16; fp32 on CPU), fp16, bf16, fp32")
    gradient_checkpointing: bool = _key(True, "recompute activations in backward (non-reentrant) to save memory")
    seed: int = _key(0, "seed for the subsample, the split, LoRA init and data order")
    # --- outputs ---
    output_dir: str = _key("runs/c2-dpo", "where the adapter, tokenizer, config, logs and metrics go")
    logging_steps: int = _key(10, "optimizer steps between log lines")
    save_steps: int = _key(100, "optimizer steps between checkpoints (a re-run resumes from the last one)")
    save_total_limit: int = _key(2, "checkpoints kept")
    eval_steps: int | None = _key(None, "also evaluate the held-out pairs every N steps (null: before and after)")
    eval_before_training: bool = _key(True, "measure the held-out reward margin before training (about 0)")
    # --- C2-Eval before/after (c2 train --eval) ---
    c2eval: bool = _key(False, "after training, run C2-Eval on the base and on base + adapter and compare")
    c2eval_data: str = _key("c2eval-500", "benchmark source (as 'c2 eval run --data')")
    c2eval_limit: int | None = _key(None, "first N benchmark items (null: all)")
    c2eval_ks: list[int] = _key(list(DEFAULT_KS), "prefix lengths k")
    c2eval_paths: int = _key(DEFAULT_PATHS, "sampled continuations per (item, k)")
    c2eval_mode: str = _key("words", "prefix mode: words (paper) or tokens")
    c2eval_judge: str = _key("keyword", "judge: keyword, or a model judge (openai-paper:MODEL, openai:MODEL, "
                             "hf:MODEL, wildguard)")
    c2eval_rejudge: list[str] = _key([], "more judges for the same continuations of both sides (no new sampling): "
                                     "one more comparison each, e.g. [\"hf:Qwen/Qwen2.5-7B-Instruct?load_in_4bit=true\"]")
    c2eval_seed: int = _key(0, "seed for openers and sampling")
    c2eval_max_new_tokens: int = _key(DEFAULT_MAX_NEW_TOKENS, "new tokens per continuation")
    c2eval_load_in_4bit: bool = _key(True, "evaluate the base (and adapter) in 4-bit NF4, as trained")
    c2eval_batch_tokens: int | None = _key(None, "tokens in flight per generate call (null: sized from memory)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def config_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def key_help() -> dict[str, str]:
    """Help text of every key (for ``c2 train --help`` and the docs)."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}


def _key_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def type_name(tp: Any) -> str:
    """Readable name of a key's type, e.g. ``int or null``, ``list of int``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return f"{type_name(inner[0])} or null"
    if typing.get_origin(tp) is list:
        return f"list of {type_name(args[0])}"
    return tp.__name__


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` (a YAML value or a command-line string) to type ``tp``; raise ConfigError if it can't."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None or (isinstance(value, str) and value.strip().lower() in NULL_WORDS):
            return None
        return coerce(key, value, next(arg for arg in args if arg is not type(None)))
    if origin is list:
        items = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ConfigError(f"key {key!r}: expected {type_name(tp)}, got {value!r}")
        return [coerce(key, item, args[0]) for item in items]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads "5e-5" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"key {key!r}: expected {type_name(tp)}, got {value!r}")


def closest_key(name: str) -> str | None:
    """The config key closest to ``name`` (``learning-rat`` -> ``learning_rate``), or None if none is close."""
    matches = difflib.get_close_matches(name.replace("-", "_"), config_keys(), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _unknown_keys_error(unknown: list[str], where: str) -> ConfigError:
    described = []
    for key in sorted(unknown):
        close = closest_key(key)
        described.append(f"{key!r}" + (f" (did you mean {close!r}?)" if close else ""))
    return ConfigError(f"{where}: unknown key(s) {', '.join(described)}; docs/training.md and 'c2 train --help' "
                       "list the valid keys")


def normalize_key(key: str) -> str:
    """Keys may be spelt with hyphens, as command-line options often are: ``learning-rate`` -> ``learning_rate``."""
    return key.replace("-", "_") if key.replace("-", "_") in config_keys() else key


def config_from_dict(values: Mapping[str, Any], *, where: str = "config") -> TrainConfig:
    """Build and validate a config from ``values`` (missing keys take their defaults)."""
    unknown = [key for key in values if key not in config_keys()]
    if unknown:
        raise _unknown_keys_error(unknown, where)
    hints = _key_types()
    try:
        config = TrainConfig(**{key: coerce(key, value, hints[key]) for key, value in values.items()})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    validate(config, where=where)
    return config


def _unique_key_loader():
    """A yaml SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last one silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    continue  # not a config key: config_from_dict reports it
                if key in seen:
                    raise ConfigError(f"duplicate key {key!r} at line {line} (first set at line {seen[key]}); "
                                      "keep one")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The key/value mapping of a YAML config file; ConfigError with a one-line message naming the file."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a YAML config file (or a profile's name, e.g. tiny-cpu)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a YAML text file (binary content: byte {raw[error.start]:#04x} at offset "
                          f"{error.start} is not UTF-8)") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise ConfigError(f"{path}: not a YAML text file (binary content: a NUL byte at offset {nul})")
    try:
        values = yaml.load(text, Loader=_unique_key_loader()) or {}  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(error)})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(values).__name__}")
    return values


def _one_line(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def shipped_yaml_files(folder: Path) -> dict[str, Path]:
    """The YAML files of a shipped folder (:data:`PROFILES_DIR`, :data:`ACCELERATE_DIR`) by name, sorted."""
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def shipped_profiles() -> dict[str, Path]:
    """The training profiles shipped with the package, by name (``tiny-cpu`` -> its YAML file)."""
    return shipped_yaml_files(PROFILES_DIR)


def description(path: Path) -> str:
    """A shipped YAML file's one-line description: its first line, a comment."""
    return path.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("#").strip()


def resolve_config(config: str | Path) -> Path:
    """The YAML file that ``config`` names: a shipped profile by its name (``tiny-cpu``), or a path.

    A shipped profile's name wins over a file or folder of that name in the working directory (a run folder is
    often named after its profile); a path is anything else. What names neither is a ConfigError that lists the
    shipped profiles, with the closest name.
    """
    profiles = shipped_profiles()
    if str(config) in profiles:
        return profiles[str(config)]
    path = Path(config)
    if path.exists():
        return path
    shipped = f"shipped profiles: {', '.join(profiles)} ('c2 train --list-profiles' describes them)"
    if path.suffix.lower() in YAML_SUFFIXES or len(path.parts) > 1:
        if path.stem in profiles:
            raise ConfigError(f"{path}: no such config file; c2-toolkit ships a profile of that name: give the "
                              f"name alone, {path.stem}")
        raise ConfigError(f"{path}: no such config file; {shipped}")
    close = difflib.get_close_matches(str(config), profiles, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"no profile named {str(config)!r} and no such file; {hint}{shipped}; or give the path of a "
                      "YAML file")


def load_config(config: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a YAML profile, by name or path (:func:`resolve_config`), and apply ``overrides`` (e.g.
    ``{"output_dir": "out", "max_steps": "5"}``)."""
    path = resolve_config(config)
    return apply_overrides(config_from_dict(read_yaml_mapping(path), where=str(path)), overrides or {})


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """A copy of ``config`` with ``overrides`` applied (values coerced to each key's type) and validated."""
    overrides = {normalize_key(key): value for key, value in overrides.items()}
    unknown = [key for key in overrides if key not in config_keys()]
    if unknown:
        raise _unknown_keys_error(unknown, "override")
    merged = {**config.to_dict(), **overrides}
    return config_from_dict(merged, where="override" if overrides else "config")


def validate(config: TrainConfig, *, where: str = "config") -> None:
    """Check values that have a type but not every value makes sense; raise ConfigError naming the key."""
    problems = _range_problems(config)
    positive = ("lora_r", "lora_alpha", "max_length", "per_device_train_batch_size", "per_device_eval_batch_size",
                "gradient_accumulation_steps", "logging_steps", "save_steps", "save_total_limit", "tiny_hidden_size",
                "tiny_num_layers", "c2eval_paths", "c2eval_max_new_tokens")
    for key in positive:
        if getattr(config, key) <= 0:
            problems.append(f"{key} must be positive, got {getattr(config, key)}")
    for key in ("num_pairs", "eval_steps", "c2eval_limit", "c2eval_batch_tokens"):
        value = getattr(config, key)
        if value is not None and value <= 0:
            problems.append(f"{key} must be positive or null, got {value}")
    for key in ("seed", "c2eval_seed"):
        if getattr(config, key) < 0:
            problems.append(f"{key} must be >= 0, got {getattr(config, key)}")
    problem = output_dir_problem(config.output_dir)
    if problem:
        problems.append(f"output_dir: {problem}")
    if config.num_eval_pairs < 0:
        problems.append(f"num_eval_pairs must be >= 0, got {config.num_eval_pairs}")
    if config.beta <= 0 or config.learning_rate <= 0:
        problems.append(f"beta and learning_rate must be positive, got {config.beta} and {config.learning_rate}")
    if config.weight_decay < 0:
        problems.append(f"weight_decay must be >= 0, got {config.weight_decay}")
    if config.max_grad_norm < 0:
        problems.append(f"max_grad_norm must be >= 0 (0: no clipping), got {config.max_grad_norm}")
    if not 0 <= config.warmup_ratio < 1:
        problems.append(f"warmup_ratio must be in [0, 1), got {config.warmup_ratio}")
    if config.precision not in PRECISIONS:
        problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {config.precision!r}")
    if not 1 <= config.min_rank_gap < N_RANKS:
        problems.append(f"min_rank_gap must be in 1..{N_RANKS - 1}, got {config.min_rank_gap}")
    for pair in config.rank_pairs or []:
        try:
            parse_rank_pair(pair)
        except ValueError as error:
            problems.append(f"rank_pairs: {error}")
    if config.eval_steps is not None and config.num_eval_pairs == 0:
        problems.append("eval_steps needs held-out pairs: set num_eval_pairs > 0 or eval_steps null")
    if config.max_steps <= 0 and config.max_steps != -1:
        problems.append(f"max_steps must be positive or -1, got {config.max_steps}")
    if config.max_steps == -1 and config.num_train_epochs <= 0:
        problems.append("num_train_epochs must be positive when max_steps is -1")
    problems += _objective_problems(config)
    if config.c2eval_mode not in ("words", "tokens"):
        problems.append(f"c2eval_mode must be words or tokens, got {config.c2eval_mode!r}")
    for key, specs in (("c2eval_judge", [config.c2eval_judge]), ("c2eval_rejudge", config.c2eval_rejudge)):
        for spec in specs:
            try:
                check_judge_spec(spec)
            except ValueError as error:
                problems.append(f"{key}: {error}")
    if not config.c2eval_ks or any(k <= 0 for k in config.c2eval_ks):
        problems.append(f"c2eval_ks must list positive integers, got {config.c2eval_ks}")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))


def _objective_problems(config: TrainConfig) -> list[str]:
    """Keys that the chosen objective cannot use, and its own keys' ranges."""
    if config.objective not in OBJECTIVE_NAMES:
        return [f"objective must be one of {', '.join(OBJECTIVE_NAMES)}, got {config.objective!r}"]
    problems = []
    for key in ("lora_dropout", "transition_dropout"):
        if not 0 <= getattr(config, key) < 1:
            problems.append(f"{key} must be in [0, 1), got {getattr(config, key)}")
    if config.transition_dropout and config.objective != "derta":
        problems.append(f"transition_dropout applies to derta's transition term; {config.objective} has none")
    sft_keys = [key for key in ("sft_learning_rate", "sft_num_train_epochs", "sft_max_steps")
                if getattr(config, key) is not None]
    if sft_keys and config.objective != "backtrack":
        problems.append(f"{', '.join(sft_keys)}: only backtrack has an SFT stage; {config.objective} has one stage "
                        "(leave them unset)")
    if config.utility_ratio is not None and config.utility_ratio < 0:
        problems.append(f"utility_ratio must be >= 0 or null, got {config.utility_ratio}")
    if config.objective == DEFAULT_OBJECTIVE:
        if config.lora_dropout:
            problems.append("lora_dropout applies to the SFT objectives: TRL turns every dropout off for c2-dpo (its "
                            "policy and reference log-probabilities must be deterministic)")
        if config.utility_ratio is not None:
            problems.append("utility_ratio applies to recovery-sft, derta and backtrack; c2-dpo trains on C2-Syn's "
                            "pairs only")
    elif config.rank_pairs or config.min_rank_gap != 1:
        problems.append(f"rank_pairs and min_rank_gap select C2-Syn's preference pairs for c2-dpo; {config.objective} "
                        "trains on rows made from its ranked groups (set them null and 1)")
    return problems


def _range_problems(config: TrainConfig) -> list[str]:
    """Integers beyond :data:`MAX_INT` and floats that are not finite (``.inf``, ``nan``), by key."""
    problems = []
    for key, value in config.to_dict().items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
                problems.append(f"{key} is too large (at most {MAX_INT}), got {item}")
            elif isinstance(item, float) and not math.isfinite(item):
                problems.append(f"{key} must be a finite number, got {item}")
    return problems


def parse_rank_pair(text: str) -> tuple[int, int]:
    """``"1-5"`` -> ``(1, 5)``: chosen rank, rejected rank, with 0 <= chosen < rejected <= 5."""
    match = re.fullmatch(r"\s*(\d)\s*-\s*(\d)\s*", text)
    if not match:
        raise UserError(f"{text!r} is not 'CHOSEN-REJECTED', e.g. '1-5'")
    chosen, rejected = int(match.group(1)), int(match.group(2))
    if not 0 <= chosen < rejected < N_RANKS:
        raise UserError(f"{text!r}: need 0 <= chosen < rejected <= {N_RANKS - 1}")
    return chosen, rejected


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (every key, in definition order), atomically; read it back with
    :func:`load_config` or :func:`load_saved_config`."""
    import yaml

    write_bytes(path, yaml.safe_dump(config.to_dict(), sort_keys=False).encode("utf-8"))


def read_saved_config(path: str | Path) -> tuple[TrainConfig, list[str]]:
    """Read back a run's config written by :func:`save_config`: the config, and the keys its file does not set.

    ``save_config`` writes every key and ends with a line break: a file that does not, or that no longer parses
    or validates, is named as damaged (cut short, or edited), ``ConfigError("PATH is damaged (WHAT)")``, not read
    as a run with other settings. The keys it lacks take their defaults; whether that matters is the caller's to
    say (an earlier c2-toolkit wrote fewer).
    """
    path = Path(path)
    try:
        if path.is_file() and not path.read_bytes().endswith(b"\n"):
            raise ConfigError("cut short: it does not end with a line break")
        values = read_yaml_mapping(path)
        config = config_from_dict(values, where=str(path))
    except ConfigError as error:
        detail = str(error).removeprefix(f"{path}: ")
        raise ConfigError(f"{path} is damaged ({detail})") from None
    return config, [key for key in config_keys() if key not in values]


def load_saved_config(path: str | Path) -> tuple[TrainConfig, list[str]]:
    """:func:`read_saved_config` of the run in an output directory, whose damaged config says what to do."""
    try:
        return read_saved_config(path)
    except ConfigError as error:
        raise ConfigError(f"{error}: the settings this run was trained with cannot be read back; use another --out "
                          "or delete that directory") from None


def training_differences(a: TrainConfig, b: TrainConfig) -> list[str]:
    """Keys that change the trained weights and differ: a run directory is resumed or reused only if none do.

    :data:`NOT_TRAINING_KEYS` (outputs, logging, checkpointing, evaluation, the dataset's location) and the
    ``c2eval_*`` keys (C2-Eval after training) do not count.
    """
    return [key for key in config_keys() if key not in NOT_TRAINING_KEYS and not key.startswith("c2eval")
            and getattr(a, key) != getattr(b, key)]
