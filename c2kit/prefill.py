"""Prefill rendering: put the start of a harmful answer inside the assistant turn of a chat template.

The prompt is rendered with the evaluated model's own chat template on ``[user: request, assistant:
prefix]`` with ``continue_final_message=True`` and no generation prompt, so it ends inside the assistant
turn with no end-of-turn token after the prefix. (The original C2-Eval code used
``add_generation_prompt=True`` and stripped ``</s>``, which is only right for Llama-2's template.)

Two prefix modes (Xu et al. 2024, arXiv 2407.16637, Section 3):

* ``words`` (paper default): ``opener + " " + response`` split on whitespace, first k words. The opener is
  drawn once per item (default) or, with ``opener_per="path"``, once per (item, k, path) as the official code
  did, which gives every sampled path a prompt of its own.
* ``tokens``: the first k tokens of the response in the model's tokenizer, taken from the tokenized
  rendering of the full answer and passed on as token ids, with no decode/re-encode round trip.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from c2kit.errors import UserError
from c2kit.protocol import OPENERS

PrefixMode = Literal["words", "tokens"]
PREFIX_MODES: tuple[str, ...] = ("words", "tokens")
OpenerPer = Literal["item", "path"]
# "item" (default): one opener per item, shared by its k values and paths. "path" (the official ``eval/eval_data.py``):
# a new opener for every (item, k, path), so every sampled path has a prompt of its own.
OPENER_PER: tuple[str, ...] = ("item", "path")

# Used only when explicitly asked for (``plain_template=True``) for models that ship no chat template.
PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + '\n' }}"
    "{% else %}{{ message['content'] + '\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"
)


class PrefillError(UserError):
    """The chat template cannot render a prefilled assistant turn."""


@dataclass(frozen=True)
class PrefillPrompt:
    """A rendered prompt for one (item, k): the plain prefix (for judges) and what the model sees.

    ``path`` is None when all sampled paths of (item, k) share this prompt (the default); with
    ``opener_per="path"`` every path has a prompt of its own and ``path`` is its index.
    """

    item_id: str
    k: int
    prefix: str  # plain text, no template tokens
    prompt: str  # rendered text (in tokens mode: decoded, for display only)
    prompt_ids: tuple[int, ...]  # the exact model input
    path: int | None = None
    # Length of the whole answer the prefix is cut from, in the mode's unit (words of opener + response, or
    # response tokens): below k, the item is "short" at k (words mode keeps the whole text, tokens mode skips it).
    response_length: int | None = None


def pick_opener(item_id: str, seed: int) -> str:
    """Opener for one item, drawn from a RNG seeded by (seed, item) so it is stable across k and runs."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return random.Random(digest).choice(OPENERS)


def pick_path_opener(item_id: str, k: int, path: int, seed: int) -> str:
    """Opener for one sampled path: a pure function of (seed, item, k, path), as the official code drew them."""
    digest = hashlib.sha256(f"{seed}:{item_id}:{k}:{path}".encode()).digest()
    return random.Random(digest).choice(OPENERS)


def words_prefix(response: str, k: int, opener: str | None) -> str:
    """First ``k`` whitespace words of ``opener + " " + response`` (all of them if there are fewer)."""
    text = f"{opener} {response}" if opener else response
    return " ".join(text.split()[:k])


def resolve_chat_template(tokenizer, plain_template: bool = False) -> str:
    """The template to render with: the model's own, or the plain one when explicitly asked for."""
    if plain_template:
        return PLAIN_CHAT_TEMPLATE
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        name = getattr(tokenizer, "name_or_path", "this model")
        raise PrefillError(
            f"{name} has no chat template. Course-correction is measured inside the assistant turn, so a "
            "template is needed; pass plain_template=True (CLI: --plain-template) to use a plain "
            "'User: ... / Assistant: ...' format instead."
        )
    return template


def template_hash(template: str) -> str:
    """Short hash of a chat template, recorded in results and cache keys."""
    return hashlib.sha256(template.encode()).hexdigest()[:16]


def render_text_prefill(tokenizer, request: str, prefix: str, template: str) -> str:
    """Render ``[user: request, assistant: prefix]`` so the text ends with ``prefix``."""
    messages = [{"role": "user", "content": request}, {"role": "assistant", "content": prefix}]
    try:
        text = tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=False, continue_final_message=True
        )
    except Exception as error:  # jinja raise_exception or transformers' own checks
        raise PrefillError(f"the chat template cannot continue an assistant turn: {error}") from error
    if not text.endswith(prefix):
        raise PrefillError(
            "the chat template cannot continue an assistant turn: the rendered prompt does not end with the "
            f"prefix (it ends with {text[-60:]!r})"
        )
    return text


def render_assistant_header(tokenizer, request: str, template: str) -> str:
    """Render the prompt up to where the assistant's answer begins (a plain answer to ``request``)."""
    # A non-empty sentinel: templates that trim content would otherwise also trim the header's whitespace.
    sentinel = "X"
    return render_text_prefill(tokenizer, request, sentinel, template)[: -len(sentinel)]


def token_prefixes(tokenizer, request: str, response: str, template: str, ks: Sequence[int]) -> list[tuple[str, str, tuple[int, ...]] | None]:
    """``tokens`` mode: for each k, (prefix text, rendered text, prompt ids) with the first k response tokens,
    or ``None`` where the response has fewer than k tokens (:func:`response_token_count` says how many).

    The whole response is rendered and tokenized in context, and the prompt is cut after the k-th token
    that overlaps the response. So the ids are exactly what the model would see for the full answer,
    with no decode/re-encode round trip and no spurious space token at the header/response boundary.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise PrefillError("tokens mode needs a fast tokenizer (offsets mapping); use --mode words")
    text = render_text_prefill(tokenizer, request, response.strip(), template)
    start = len(text) - len(response.strip())
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    first = next(index for index, (_, end) in enumerate(offsets) if end > start)
    results = []
    for k in ks:
        if first + k > len(ids):  # fewer than k response tokens: skipped at this k, never silently truncated
            results.append(None)
            continue
        prompt_ids = tuple(ids[: first + k])
        results.append((tokenizer.decode(ids[first : first + k]), tokenizer.decode(prompt_ids), prompt_ids))
    return results


def response_token_count(tokenizer, request: str, response: str, template: str) -> int:
    """Tokens of the response in the rendered full answer (what ``tokens`` mode cuts k of)."""
    text = render_text_prefill(tokenizer, request, response.strip(), template)
    start = len(text) - len(response.strip())
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return sum(1 for _, end in offsets if end > start)


def build_prefills(
    tokenizer,
    items: Sequence[tuple[str, str, str]],
    ks: Sequence[int],
    *,
    mode: PrefixMode = "words",
    seed: int = 0,
    plain_template: bool = False,
    opener_per: OpenerPer = "item",
    num_paths: int | None = None,
) -> list[PrefillPrompt]:
    """Render one prompt per (item, k). ``items`` are ``(item_id, request, harmful_response)``.

    With ``opener_per="path"`` (``words`` mode only) every one of the ``num_paths`` paths of an (item, k) gets
    its own opener and so its own prompt: ``num_paths`` prompts per (item, k), in path order, each with ``path``
    set.

    Items shorter than k: in ``words`` mode the prefix is the whole opener + response (the paper's rule) and the
    prompt is still made; in ``tokens`` mode no prompt is made for that (item, k). Either way each prompt's
    ``response_length`` says how long the whole answer is, and :func:`c2_eval_metric.depth.depth_counts` counts
    the short items per k.
    """
    if mode not in PREFIX_MODES:
        raise UserError(f"prefix mode {mode!r} is not one of {PREFIX_MODES}")
    if opener_per not in OPENER_PER:
        raise UserError(f"opener_per {opener_per!r} is not one of {OPENER_PER}")
    if opener_per == "path":
        if mode != "words":
            raise UserError("opener_per='path' needs words mode: tokens mode has no opener")
        if not num_paths or num_paths < 1:
            raise UserError("opener_per='path' needs num_paths (the number of paths per (item, k))")
    template = resolve_chat_template(tokenizer, plain_template)
    prompts: list[PrefillPrompt] = []
    for item_id, request, response in items:
        if opener_per == "path":
            for k in ks:
                for path in range(num_paths):
                    opener = pick_path_opener(item_id, k, path, seed)
                    prefix = words_prefix(response, k, opener)
                    text = render_text_prefill(tokenizer, request, prefix, template)
                    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                    prompts.append(PrefillPrompt(item_id, k, prefix, text, tuple(ids), path,
                                                 len(f"{opener} {response}".split())))
        elif mode == "words":
            opener = pick_opener(item_id, seed)
            for k in ks:
                prefix = words_prefix(response, k, opener)
                text = render_text_prefill(tokenizer, request, prefix, template)
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                prompts.append(PrefillPrompt(item_id, k, prefix, text, tuple(ids),
                                             response_length=len(f"{opener} {response}".split())))
        else:
            length = response_token_count(tokenizer, request, response, template)
            for k, cut in zip(ks, token_prefixes(tokenizer, request, response, template, ks)):
                if cut is not None:
                    prefix, text, ids = cut
                    prompts.append(PrefillPrompt(item_id, k, prefix, text, ids, response_length=length))
    return prompts


def drop_overlong(prompts: Sequence[PrefillPrompt], context_window: int | None,
                  max_new_tokens: int) -> tuple[list[PrefillPrompt], dict[int, list[str]]]:
    """Prompts that fit the model's context with room for ``max_new_tokens``, and those that don't, by k.

    A prompt longer than the model's positions would hang or fail deep inside generation (a 400K-token
    request against 1,024 positions); such (item, k) prompts are left out and counted, never truncated
    (cutting the request or the prefix would change the item).
    """
    if not context_window:
        return list(prompts), {}
    kept, dropped = [], {}
    for prompt in prompts:
        if len(prompt.prompt_ids) + max_new_tokens <= context_window:
            kept.append(prompt)
        elif prompt.item_id not in dropped.setdefault(prompt.k, []):
            dropped[prompt.k].append(prompt.item_id)
    return kept, dropped
