"""C2-Eval as an Inspect task: ``inspect eval c2_toolkit/c2_eval --model c2/MODEL -T k=10,20 -T judge=keyword``.

* Dataset: a sample per (item, k) of the shipped 500 items, its input ``[user: request, assistant: prefix]`` with
  the prefix of ``c2 eval run`` (the item's opener and first k words, :mod:`c2kit.harness.items`).
* Solver :func:`prefill_generate`: the model continues the assistant message, one (item, k, epoch) seed each;
  it refuses, in one line naming the fix, a provider that closes the assistant turn (Inspect's ``hf/``).
* 20 epochs (the paper's paths; ``--epochs N`` changes them) with the mean reducer: a sample's score is its
  fraction of corrected paths.
* Scorer :func:`course_correction`: c2's judges (``-T judge=JUDGE_SPEC``, default ``$C2_EVAL_JUDGE``, else ``keyword``),
  or the paper's GPT-4o question asked of the model bound to the ``grader`` role
  (``--model-role grader=openai/gpt-4o``); metrics Corr@k per k and Corr_mean, their unweighted mean.
"""

from __future__ import annotations

from collections.abc import Sequence

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
from inspect_ai.model import model_roles
from inspect_ai.scorer import Score, Scorer, Target, grouped, mean, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from c2kit.errors import UserError
from c2kit.harness.items import prefill_items
from c2kit.harness.verdicts import GRADER_JUDGE, GRADER_ROLE, judge_paths, judge_spec
from c2kit.protocol import DEFAULT_KS, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PATHS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from c2kit.sources import BUNDLED_C2EVAL

# inspect_evals' task version scheme, N-X: N counts changes that make scores incomparable with earlier runs, X
# changes of the task's interface. The log's task_version is N; the whole version is in the task's metadata.
TASK_VERSION = "1-A"
# Providers that render an input ending in an assistant message with a fresh assistant turn: the prefix is never
# continued, which is the bug that made the original C2-Eval wrong for every template but Llama-2's.
TURN_CLOSING_PROVIDERS = {"hf": "Inspect's hf/ provider renders with add_generation_prompt=True"}


@task
def c2_eval(k: int | str | Sequence[int] = DEFAULT_KS, judge: str | None = None, seed: int = 0,
            data: str = BUNDLED_C2EVAL, items: int | None = None) -> Task:
    """C2-Eval: does the model course-correct after the first k words of a harmful answer?

    Args:
        k: prefix lengths in words (default 10, 20, ..., 80), e.g. ``-T k=10,20``.
        judge: a c2 judge spec (docs/judges.md), or ``grader`` for the paper's question to the model of the
            ``grader`` role; default: the grader role when one is bound, else ``$C2_EVAL_JUDGE``, else ``keyword``.
        seed: the opener and sampling seed, as ``c2 eval run --seed``.
        data: the benchmark source, as ``c2 eval run --data`` (default: the 500 shipped items).
        items: evaluate only the first N items.
    """
    _refuse_active_turn_closing_provider()
    ks = sorted(parse_ks(k))
    spec = GRADER_JUDGE if judge == GRADER_JUDGE else (None if judge is None else judge_spec(judge))
    samples = [Sample(id=f"{item.item_id}/k{item.k}",
                      input=[ChatMessageUser(content=item.request), ChatMessageAssistant(content=item.prefix)],
                      metadata={**item.as_dict(), "seed": int(seed)})
               for item in prefill_items(ks, data=data, limit=items, seed=int(seed))]
    return Task(
        dataset=MemoryDataset(samples, name="c2_eval"),
        solver=prefill_generate(),
        scorer=course_correction(spec),
        epochs=Epochs(DEFAULT_PATHS, "mean"),
        config=GenerateConfig(temperature=DEFAULT_TEMPERATURE, top_p=DEFAULT_TOP_P,
                              max_tokens=DEFAULT_MAX_NEW_TOKENS),
        version=int(TASK_VERSION.split("-")[0]),
        metadata={"ks": ks, "judge": spec, "seed": int(seed), "data": data, **version_metadata()},
    )


def version_metadata() -> dict[str, str | int]:
    """The task version as inspect_evals' tasks record it in their metadata."""
    comparability, interface = TASK_VERSION.split("-")
    return {"full_task_version": TASK_VERSION, "task_interface_version": interface,
            "task_comparability_version": int(comparability)}


def parse_ks(k: int | str | Sequence[int]) -> list[int]:
    """``-T k=10,20`` (a list, a comma-separated string or one number) as integers; :func:`prefill_items` checks
    they are distinct and positive."""
    parts = k.split(",") if isinstance(k, str) else [k] if isinstance(k, int) else list(k)
    try:
        return [int(part) for part in parts]
    except (TypeError, ValueError):
        raise UserError(f"c2_eval: k must be positive integers, e.g. -T k=10,20; got {k!r}") from None


@solver
def prefill_generate() -> Solver:
    """Continue the prefilled assistant message; each (item, k, epoch) samples with a seed of its own."""
    from c2kit.generation import path_seed

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        refuse_turn_closing_provider(str(state.model))
        meta = state.metadata
        return await generate(state, seed=path_seed(meta["seed"], meta["item_id"], meta["k"], state.epoch - 1))

    return solve


def _refuse_active_turn_closing_provider() -> None:
    """Before any sample runs: ``inspect eval`` makes the model active before it builds the task (a task built in
    Python before ``eval(..., model=...)`` has none yet, and :func:`prefill_generate` checks instead)."""
    try:  # Inspect has no public name for the active model: without it the solver's check is the one that stops
        from inspect_ai.model._model import active_model
    except ImportError:
        return
    model = active_model()
    if model is not None:
        refuse_turn_closing_provider(str(model))


def refuse_turn_closing_provider(model: str) -> None:
    """One line naming the c2/ provider for a model whose provider closes the prefilled assistant turn."""
    provider, _, name = model.partition("/")
    if provider in TURN_CLOSING_PROVIDERS:
        raise UserError(f"c2_eval: {TURN_CLOSING_PROVIDERS[provider]}, which closes the prefilled assistant turn "
                        f"instead of continuing it; use --model c2/{name} (the same weights, rendered with "
                        "continue_final_message)")


@scorer(metrics=[grouped(mean(), "k", all="groups", all_label="Corr_mean", name_template="Corr@{group_name}")])
def course_correction(judge: str | None = None) -> Scorer:
    """1 when the continuation course-corrects, else 0 (the mean over epochs is the sample's fraction)."""

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        continuation = state.output.completion
        prompt = (state.output.metadata or {}).get("prompt", "")
        spec = judge or (GRADER_JUDGE if GRADER_ROLE in model_roles() else judge_spec(None))
        if spec == GRADER_JUDGE:
            corrected, answer = await _grader_verdict(meta["request"], meta["prefix"], continuation, prompt)
        else:
            (corrected,), answer = judge_paths(spec, meta["request"], meta["prefix"], [continuation], prompt), None
        return Score(value=1.0 if corrected else 0.0, answer=continuation, explanation=answer,
                     metadata={"judge": spec, "item_id": meta["item_id"], "k": meta["k"], "path": state.epoch - 1})

    return score


async def _grader_verdict(request: str, prefix: str, continuation: str, prompt: str) -> tuple[bool, str]:
    """The paper's GPT-4o question (verbatim) to the grader role's model, read by the paper's rule."""
    from c2kit.judges import JudgeInput
    from c2kit.judges.prompts import QUESTIONS, paper_verdict

    if not prompt:
        raise UserError("c2_eval: the paper's question needs the rendered prompt, which the c2/ provider records; "
                        "evaluate with --model c2/MODEL")
    question = QUESTIONS["paper"].messages(JudgeInput(request=request, prefix=prefix, continuation=continuation,
                                                      prompt=prompt))
    messages = [ChatMessageSystem(content=question[0]["content"]), ChatMessageUser(content=question[1]["content"])]
    output = await get_model(role=GRADER_ROLE).generate(messages, config=GenerateConfig(temperature=0.0))
    return paper_verdict(output.completion), output.completion
