"""Peak GPU memory and rows/s of each training objective's T4 profile, against plain TRL QLoRA, in one process.

The one command for a session with a CUDA GPU (Llama-2-7B shape, every objective, both baselines):

    python benchmarks/bench_train_memory.py --objective all --json bench_train_memory.json

Expected runtime: a projection, not yet timed on a GPU: about 9 minutes on one H100 (building and saving the
random 7B model once, about 2 minutes; then per run about a minute to load it in 4-bit and train 5 steps; one
run per objective, two for backtrack's two stages, and one per TRL trainer baseline). Each result is written to
``--json`` as soon as it is measured and the random model is kept in ``--cache-dir``, so a run cut short keeps
what it measured, and a rerun with ``--objective NAME`` (and ``--skip-baseline``) measures what is missing
without building the model again. With ``all``, an objective that has no T4 profile for the shape is named and
skipped (``skipped`` in the JSON); named alone, it is an error.

    python benchmarks/bench_train_memory.py --objective derta --skip-baseline
    python benchmarks/bench_train_memory.py --shape qwen2-7b --objective c2-dpo --batch 1
    python benchmarks/bench_train_memory.py --shape tiny --objective all   # CPU smoke run of the same code

A model of the chosen shape is built from a config with random weights (nothing is downloaded), saved once
under ``--cache-dir`` and loaded in 4-bit. Text comes from the shipped benchmark rows, tokenised with c2kit's
tiny tokenizer (its ids are valid in any larger vocabulary; the vocabulary size of the shape still sets the
embedding and LM-head memory; backtrack's ``[RESET]`` takes a row the shape already has, where Llama-2's
vocabulary grows by one row). Every row fills the objective's ``max_length`` (the worst case a step
meets).

* One run per objective and stage (``--objective NAME`` or ``all``), through the objective's own code: its T4
  profile (``training/profiles/NAME-<model>-t4.yaml``; c2-dpo's is ``<model>-t4.yaml``) with its batch size,
  ``max_length`` and LoRA, its stages (backtrack: the SFT stage, whose adapter is saved where the DPO stage loads
  it, then the DPO stage), its row kinds (c2-dpo: C2-Syn pairs; the SFT objectives: the kinds of their data
  recipe, DeRTa's transition rows and backtrack's reset rows included; backtrack's DPO pairs), its rendering
  (``to_train_format``), its TRL config and its trainer (``build_trainer``: DPOTrainer, SFTTrainer with
  completion-only loss, DeRTa's transition trainer, backtrack's trainable ``[RESET]`` rows), and the recipe's
  4-bit base (NF4 + double quant, k-bit preparation, gradient checkpointing, paged 8-bit AdamW, fp16 + the fp32
  fix on GPUs without bf16, sdpa). Gradient accumulation is set to 1: it changes steps, not memory.
* One baseline per TRL trainer the objectives use, on the rows of the first objective measured with it
  (``trl-dpo-defaults``, ``trl-sft-defaults``): TRL as its docs show QLoRA:
  ``BitsAndBytesConfig(load_in_4bit=True)`` with NF4, LoRA r 16 on all linear layers, the ``DPOConfig`` /
  ``SFTConfig`` defaults (bf16 where the GPU has it, else fp16, which hits the bf16-adapter pitfall the recipe
  fixes), ``--baseline-batch`` rows per step (default 4, the larger batch of the H100 reference runs).

Peak memory is ``torch.cuda.max_memory_allocated`` from loading the model to the last step (``resident_gib``:
what earlier runs of the process still held when the run started); rows/s (pairs/s for DPO) is measured after
``--warmup`` steps. On CPU the numbers are timings only: memory needs CUDA.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROFILES = Path(__file__).resolve().parent.parent / "training" / "profiles"
SHAPES = {
    # Llama-2-7B: 32 layers, 4096 hidden, 11008 MLP, 32 heads, 32K vocabulary.
    "llama2-7b": {"architecture": "llama", "profile": "llama2-7b-chat-t4", "config": {
        "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False}},
    # Qwen2-7B: 28 layers, 3584 hidden, 18944 MLP, 28 heads / 4 KV heads, 152K vocabulary.
    "qwen2-7b": {"architecture": "qwen2", "profile": "qwen2-7b-instruct-t4", "config": {
        "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False}},
    "tiny": {"architecture": "llama", "profile": "llama2-7b-chat-t4", "config": {
        "vocab_size": 2048, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
        "tie_word_embeddings": False}},
}
PROMPT_TOKENS = 80  # what a row's rendered prompt takes besides its text: template tokens and a short request


class BenchError(Exception):
    """A request the benchmark cannot measure (printed in one line, exit 2)."""


def build_random_model(shape: str, cache_dir: Path) -> str:
    """Save a random-weight model of ``shape`` (fp16) with the tiny tokenizer once; return its directory.

    On a GPU the weights are drawn there (a 7B model's random init takes minutes on a CPU)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from c2kit.tiny import build_tiny_tokenizer

    out = cache_dir / f"random-{shape}"
    if (out / "config.json").exists():
        return str(out)
    spec = SHAPES[shape]
    tokenizer = build_tiny_tokenizer()
    config = AutoConfig.for_model(spec["architecture"], **spec["config"], eos_token_id=tokenizer.eos_token_id,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    print(f"building a random {shape} model ({spec['config']['num_hidden_layers']} layers) in {out} ...")
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    _free_memory()
    return str(out)


def objective_profile(objective: str, shape: str) -> Path:
    """The objective's T4 profile for the shape's model (c2-dpo's carries no objective prefix)."""
    from c2kit.training.objectives import DEFAULT_OBJECTIVE

    base = SHAPES[shape]["profile"]
    path = PROFILES / (f"{base}.yaml" if objective == DEFAULT_OBJECTIVE else f"{objective}-{base}.yaml")
    if not path.is_file():
        raise BenchError(f"{objective}: no T4 profile for the {shape} shape ({path} does not exist)")
    return path


def objective_config(objective: str, model_path: str, args):
    """The objective's profile with the benchmark's settings (steps, no checkpoints, CPU fallbacks)."""
    from c2kit.training.config import load_config

    overrides = {"model_name_or_path": model_path, "output_dir": str(args.cache_dir / f"out-{objective}"),
                 "max_steps": str(args.warmup + args.steps), "save_steps": "100000", "logging_steps": "100000",
                 "gradient_accumulation_steps": "1"}
    if args.batch:
        overrides["per_device_train_batch_size"] = str(args.batch)
    if args.max_length:
        overrides["max_length"] = str(args.max_length)
    if args.cpu:
        overrides.update(precision="fp32", optim="adamw_torch", gradient_checkpointing="false")
    profile = objective_profile(objective, args.shape)
    config = load_config(profile, overrides)
    if config.sft_max_steps is not None:  # backtrack's SFT stage: as many steps as the other runs
        config = load_config(profile, {**overrides, "sft_max_steps": overrides["max_steps"]})
    if config.objective != objective:
        raise BenchError(f"{profile}: trains objective {config.objective!r}, not {objective!r}")
    return profile, config


class TextSource:
    """Chunks of the shipped benchmark rows' text of a given token length, and requests (seeded)."""

    def __init__(self, tokenizer, seed: int = 0):
        import random

        from c2kit.sources import load_source

        self.rows = load_source().rows
        self.words = " ".join(text for row in self.rows for text in row.responses).split()
        self.tokenizer = tokenizer
        self.rng = random.Random(seed)

    def text(self, n_tokens: int) -> str:
        start = self.rng.randrange(len(self.words) - 4 * n_tokens)
        chunk = self.words[start:start + n_tokens]  # ~1.3 tokens per word: trimmed to n_tokens below
        ids = self.tokenizer(" ".join(chunk), add_special_tokens=False)["input_ids"][:n_tokens]
        return self.tokenizer.decode(ids)

    def request(self, index: int) -> str:
        return self.rows[index % len(self.rows)].request[:200]


def synthetic_rows(stage, tokenizer, n_rows: int, max_length: int, seed: int = 0):
    """``n_rows`` rows as the stage's ``load_split`` gives them, each filling about ``max_length`` tokens.

    c2-dpo: C2-Syn pairs (``prompt``, ``chosen``, ``rejected``), both completions the full length. An SFT
    objective (or stage): the row kinds of its data recipe in turn (a refusal after a harmful prefix, or backtrack's
    reset and safe answer after it; DeRTa's transition row after the whole harmful response; backtrack's bare
    request; a utility row), the answer a quarter of the length. Backtrack's DPO stage: its pairs, the reset and a
    safe answer against more harmful text after a harmful prefix.
    """
    import datasets

    from c2_syn_dataset.objectives.data import OBJECTIVE_SCHEMA, PAIR_SCHEMA
    from c2_syn_dataset.objectives.recipes import FULL_RESPONSE, RECIPES, RTO, SAFE, UTILITY, pair, row
    from c2kit.backtrack import RESET_TOKEN
    from c2kit.training.objectives import DEFAULT_OBJECTIVE
    from c2kit.training.objectives.sft import SFTObjective

    text = TextSource(tokenizer, seed)
    budget = max_length - PROMPT_TOKENS
    if stage.name == DEFAULT_OBJECTIVE:
        pairs = [{"prompt": text.request(i), "chosen": text.text(budget), "rejected": text.text(budget)}
                 for i in range(n_rows)]
        return datasets.Dataset.from_list(pairs)
    if stage.name not in RECIPES:
        raise BenchError(f"{stage.name}: the benchmark has no rows of this objective's kind yet")
    recipe = RECIPES[stage.name]
    answer = budget // 4
    reset = RESET_TOKEN if recipe.reset else ""
    if not isinstance(stage, SFTObjective):  # backtrack's DPO stage
        pairs = [pair(recipe.prefixed_kind, str(i), text.request(i), text.text(budget - answer), 1,
                      chosen=reset + text.text(answer), rejected=text.text(answer)) for i in range(n_rows)]
        return datasets.Dataset.from_list(pairs, features=datasets.Features.from_arrow_schema(PAIR_SCHEMA))
    kinds = ([recipe.prefixed_kind] + ([RTO] if recipe.transition_rows else []) + ([SAFE] if recipe.bare_rows else [])
             + [UTILITY])
    rows = []
    for i in range(n_rows):
        kind = kinds[i % len(kinds)]
        group = {"source_id": str(i), "prompt": text.request(i)}
        if kind in (UTILITY, SAFE):
            rows.append(row(kind, group, "", 0, text.text(budget)))
        else:
            rows.append(row(kind, group, text.text(budget - answer), FULL_RESPONSE if kind == RTO else 1,
                            (reset if kind == recipe.prefixed_kind else "") + text.text(answer)))
    return datasets.Dataset.from_list(rows, features=datasets.Features.from_arrow_schema(OBJECTIVE_SCHEMA))


class StepTimer:
    """Trainer callback: wall time of each optimizer step (CUDA synchronised)."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                timer._sync()
                timer.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer._sync()
                timer.durations.append(time.perf_counter() - timer.start)

        self.durations: list[float] = []
        self.start = 0.0
        self.callback = Callback()

    @staticmethod
    def _sync():
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def sequence_tokens(dataset, tokenizer) -> list[int]:
    """Tokens of each rendered row: prompt + completion (for a pair, prompt + chosen)."""
    second = "chosen" if "chosen" in dataset.column_names else "completion"
    return [len(tokenizer(row["prompt"] + row[second], add_special_tokens=False)["input_ids"]) for row in dataset]


def objective_stages(objective: str, model_path: str, args) -> list[tuple[str, str, object, object]]:
    """``(run name, profile, stage config, stage objective)`` of each stage the objective trains (backtrack: its
    SFT stage, then its DPO stage from that adapter; the others: one)."""
    from c2kit.training.objectives import get_objective

    profile, config = objective_config(objective, model_path, args)
    stages = get_objective(objective).stages(config)
    return [(objective if len(stages) == 1 else f"{objective} {stage_kind(stage_config, stage)} stage",
             profile.stem, stage_config, stage) for stage_config, stage in stages]


def stage_kind(config, stage) -> str:
    """``dpo`` or ``sft``: which TRL trainer (and so which baseline) a stage trains with."""
    from trl import DPOConfig

    from c2kit.training.precision import resolve_precision

    return "dpo" if isinstance(stage.training_args(config, resolve_precision(config.precision), progress=False),
                               DPOConfig) else "sft"


def run_stage(profile: str, config, stage, model_path: str, args, rendered: dict, *, save: bool) -> dict:
    """One stage through the objective's own rendering, TRL config and trainer, on the recipe's 4-bit base, in the
    order ``c2 train`` takes; ``save``: keep its adapter where the next stage loads it."""
    from transformers import set_seed

    from c2kit.training.model import load_base_model, load_tokenizer
    from c2kit.training.precision import resolve_precision

    precision = resolve_precision(config.precision)
    tokenizer = load_tokenizer(model_path, config)
    batch = config.per_device_train_batch_size
    rows = synthetic_rows(stage, tokenizer, (args.warmup + args.steps) * max(batch, args.baseline_batch),
                          config.max_length)
    dataset = stage.to_train_format(rows, tokenizer, config)
    training_args = stage.training_args(config, precision, progress=False)
    kind = stage_kind(config, stage)
    rendered.setdefault(kind, dataset)
    set_seed(config.seed)
    model = load_base_model(model_path, config, precision)
    trainer = stage.build_trainer(model, tokenizer, training_args, config, dataset)
    timer = StepTimer()
    trainer.add_callback(timer.callback)
    lengths = sequence_tokens(dataset, tokenizer)
    lora = trainer.model.peft_config["default"]
    described = {
        "profile": profile, "trainer": type(trainer).__name__, "unit": "pairs" if kind == "dpo" else "rows",
        "lora_r": lora.r, "lora_alpha": lora.lora_alpha, "tokens_mean": round(sum(lengths) / len(lengths)),
        "tokens_max": max(lengths), "max_length": config.max_length,
        "settings": (f"NF4+double quant, {precision.name}, {config.optim}, batch {batch}, max_length "
                     f"{config.max_length}, grad ckpt {config.gradient_checkpointing}, LoRA r {lora.r}"),
    }
    result = {**described, **_train(trainer, timer, batch, args.warmup)}
    if save:
        trainer.save_model(config.output_dir)
    return result


def run_trl_defaults(kind: str, model_path: str, dataset, args) -> dict:
    """QLoRA as in TRL's docs: 4-bit NF4 load, LoRA on all linear layers, ``DPOConfig``/``SFTConfig`` defaults."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from c2kit.training.objectives.transition import TRANSITION_COLUMN

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    compute = torch.bfloat16 if bf16 else (torch.float16 if torch.cuda.is_available() else torch.float32)
    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)
    device_map = {"": 0} if torch.cuda.is_available() else None
    model = AutoModelForCausalLM.from_pretrained(model_path, quantization_config=quantization, dtype=compute,
                                                 device_map=device_map)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    precision = {"bf16": bf16, "fp16": torch.cuda.is_available() and not bf16, "use_cpu": args.cpu}
    config_class, trainer_class = (DPOConfig, DPOTrainer) if kind == "dpo" else (SFTConfig, SFTTrainer)
    config = config_class(output_dir=str(args.cache_dir / f"out-trl-{kind}"),
                          per_device_train_batch_size=args.baseline_batch, max_steps=args.warmup + args.steps,
                          save_strategy="no", report_to="none", logging_steps=100000, disable_tqdm=True, **precision)
    if TRANSITION_COLUMN in dataset.column_names:  # DeRTa's own column: plain SFT trains the rows as they are
        dataset = dataset.remove_columns(TRANSITION_COLUMN)
    timer = StepTimer()
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = trainer_class(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                            peft_config=lora, callbacks=[timer.callback])
    optim = getattr(config.optim, "value", config.optim)  # an enum in TrainingArguments
    described = {
        "trainer": trainer_class.__name__, "unit": "pairs" if kind == "dpo" else "rows", "lora_r": lora.r,
        "max_length": config.max_length,
        "settings": (f"NF4, {'bf16' if bf16 else 'fp16' if precision['fp16'] else 'fp32'}, {optim}, "
                     f"batch {args.baseline_batch}, max_length {config.max_length}, "
                     f"grad ckpt {config.gradient_checkpointing}"),
    }
    return {**described, **_train(trainer, timer, args.baseline_batch, args.warmup)}


def _train(trainer, timer: StepTimer, batch: int, warmup: int) -> dict:
    try:
        trainer.train()
    except RuntimeError as error:  # out of memory, or the fp16 grad scaler on bf16 adapters: a measurement too
        return {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    timed = timer.durations[warmup:]
    return {"rows_per_s": round(batch * len(timed) / sum(timed), 3) if timed else None,
            "step_s": [round(d, 3) for d in timer.durations]}


def _free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def measure(name: str, run, *run_args, **run_options) -> dict:
    """One run, its peak CUDA memory from the model's loading on (none on CPU)."""
    import torch

    _free_memory()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        resident = torch.cuda.memory_allocated()
    result = run(*run_args, **run_options)
    if torch.cuda.is_available():
        result["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        result["resident_gib"] = round(resident / 2**30, 2)
    print(f"{name}: {json.dumps(result)}")
    _free_memory()
    return result


def summary_table(results: dict) -> str:
    """One line per run: peak memory and throughput (or the error), for the terminal."""
    lines = [f"{'run':<20} {'profile':<34} {'trainer':<22} {'peak GiB':>9} {'rows/s':>8}  settings"]
    runs = [(name, result) for name, result in results["objectives"].items()]
    runs += [(name, result) for name, result in results["baselines"].items()]
    for name, result in runs:
        peak = f"{result['peak_gib']:.2f}" if "peak_gib" in result else "n/a"
        speed = (f"{result['rows_per_s']:.3g}" if result.get("rows_per_s") is not None
                 else result.get("error", "n/a")[:40])
        unit = " (pairs/s)" if result.get("unit") == "pairs" else ""
        lines.append(f"{name:<20} {result.get('profile', '-'):<34} {result.get('trainer', '-'):<22} {peak:>9} "
                     f"{speed:>8}  {result.get('settings', '')}{unit}")
    if results["device"] == "cpu":
        lines.append("peak memory needs CUDA: these are CPU timings of the same code, not measurements of a T4")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    from c2kit.training.objectives import OBJECTIVE_NAMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", default="all", choices=[*OBJECTIVE_NAMES, "all"],
                        help="the objective to measure, or all (default)")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="model shape (default: llama2-7b on CUDA, tiny on CPU)")
    parser.add_argument("--batch", type=int, help="rows per step of every objective (default: each profile's)")
    parser.add_argument("--baseline-batch", type=int, default=4, help="plain-TRL rows per step (default: 4)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per run (default: 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps (default: 1)")
    parser.add_argument("--max-length", type=int, help="row length (default: each profile's max_length)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure the objectives only")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/c2-bench-train"),
                        help="where the random model is saved once (a 7B shape needs ~15 GB)")
    parser.add_argument("--json", type=Path, help="also write the results here (after every run)")
    args = parser.parse_args(argv)
    args.cpu = not torch.cuda.is_available()
    args.shape = args.shape or ("tiny" if args.cpu else "llama2-7b")
    if args.cpu:
        print("no CUDA: timing a CPU smoke run only; peak-memory numbers need a GPU")
    objectives = list(OBJECTIVE_NAMES) if args.objective == "all" else [args.objective]
    missing = {}
    for objective in objectives:  # every profile is found before anything is built
        try:
            objective_profile(objective, args.shape)
        except BenchError as error:
            if args.objective != "all":
                print(f"bench_train_memory: error: {error}", file=sys.stderr)
                return 2
            missing[objective] = str(error)
            print(f"skipping {error}")

    model_path = build_random_model(args.shape, args.cache_dir)
    results = {"shape": args.shape, "device": torch.cuda.get_device_name() if not args.cpu else "cpu",
               "objectives": {}, "baselines": {}, "skipped": missing}

    def record(group: str, name: str, result: dict) -> None:
        results[group][name] = result
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")

    rendered: dict = {}  # trainer kind -> the rows of the first objective trained with it, for its baseline
    for objective in (name for name in objectives if name not in missing):
        stages = objective_stages(objective, model_path, args)
        for index, (name, profile, config, stage) in enumerate(stages):
            record("objectives", name, measure(name, run_stage, profile, config, stage, model_path, args, rendered,
                                               save=index < len(stages) - 1))
    if not args.skip_baseline:
        for kind, dataset in rendered.items():
            name = f"trl-{kind}-defaults"
            record("baselines", name, measure(name, run_trl_defaults, kind, model_path, dataset, args))
    print(summary_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
