"""The ``c2/`` Inspect model provider: a local chat model sampled by c2's transformers engine, its prompt rendered
as ``c2 eval run`` renders it.

Inspect's own ``hf/`` provider renders every input with ``add_generation_prompt=True``, so an input that ends with
an assistant message (a prefilled answer) gets that turn closed and a fresh assistant turn opened: the model never
continues the prefix. Here an input ``[user, assistant]`` is rendered by :func:`c2kit.prefill.render_text_prefill`
(``continue_final_message``: the prompt ends inside the assistant turn, with the prefix); any other chat gets a
generation prompt, as usual. ``--model c2/PATH_OR_HUB_ID`` with model arguments ``-M adapter=...``,
``-M dtype=...``, ``-M load_in_4bit=true``, ``-M revision=...``, ``-M batch_tokens=...``.

Sampling: each request is drawn with c2's seeded sampler from a random stream of its own, keyed by the prompt and
the request's ``seed`` (the C2-Eval task gives every (item, k, epoch) its own seed), so a rerun gives the same
continuations whatever else runs beside it. Requests that arrive together are sampled in one batch.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inspect_ai.model import ChatMessage, GenerateConfig, ModelAPI, ModelOutput, modelapi
from inspect_ai.tool import ToolChoice, ToolInfo

from c2kit.errors import UserError
from c2kit.protocol import DEFAULT_MAX_NEW_TOKENS

if TYPE_CHECKING:
    from c2kit.generation import SamplingConfig
    from c2kit.prefill import PrefillPrompt

PROVIDER = "c2"
MAX_CONNECTIONS = 64  # requests in flight, sampled together: the engine batches them by tokens in flight


class C2ModelAPI(ModelAPI):
    """A chat model loaded by c2 (:func:`c2kit.models.load_model_and_tokenizer`), sampled by its transformers engine."""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = GenerateConfig(), adapter: str | None = None, revision: str | None = None,
                 dtype: str = "auto", load_in_4bit: bool = False, batch_tokens: int | None = None,
                 plain_template: bool = False, **unknown: Any) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        if unknown:
            raise UserError(f"c2/{model_name}: unknown model argument(s) {', '.join(sorted(unknown))}; the c2 "
                            "provider takes adapter, revision, dtype, load_in_4bit, batch_tokens, plain_template")
        from c2kit.engines import EngineSettings, ModelRequest, open_engine
        from c2kit.prefill import resolve_chat_template

        opened = open_engine(EngineSettings(), ModelRequest(model_name, revision=revision, dtype=dtype, adapter=adapter,
                                                            load_in_4bit=bool(load_in_4bit), batch_tokens=batch_tokens))
        self.tokenizer = opened.loaded.tokenizer
        self.identity = opened.loaded.identity
        self.template = resolve_chat_template(self.tokenizer, bool(plain_template))
        self.engine = opened.engine
        self._queue: list[tuple[PrefillPrompt, SamplingConfig, asyncio.Future[str]]] = []
        self._draining = False

    def max_connections(self) -> int:
        return MAX_CONNECTIONS

    def render(self, messages: Sequence[ChatMessage]) -> tuple[str, tuple[int, ...]]:
        """The prompt text and token ids the model sees for ``messages``."""
        from c2kit.prefill import render_text_prefill

        roles = [message.role for message in messages]
        if roles == ["user", "assistant"]:  # a prefilled answer: continue it, exactly as c2 eval run does
            text = render_text_prefill(self.tokenizer, messages[0].text, messages[1].text, self.template)
        else:
            chat = [{"role": message.role, "content": message.text} for message in messages]
            continuing = roles[-1] == "assistant"
            text = self.tokenizer.apply_chat_template(chat, chat_template=self.template, tokenize=False,
                                                      add_generation_prompt=not continuing,
                                                      continue_final_message=continuing)
        return text, tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice,
                       config: GenerateConfig) -> ModelOutput:
        from c2kit.generation import SamplingConfig
        from c2kit.prefill import PrefillPrompt
        from c2kit.protocol import DEFAULT_TEMPERATURE, DEFAULT_TOP_P

        if tools:
            raise UserError(f"{PROVIDER}/{self.model_name}: the c2 provider samples plain chat text, not tool calls")
        text, ids = self.render(input)
        temperature = DEFAULT_TEMPERATURE if config.temperature is None else config.temperature
        sampling = SamplingConfig(num_paths=1, max_new_tokens=config.max_tokens or DEFAULT_MAX_NEW_TOKENS,
                                  do_sample=temperature > 0, temperature=temperature if temperature > 0 else 1.0,
                                  top_p=DEFAULT_TOP_P if config.top_p is None else config.top_p,
                                  top_k=config.top_k or 0, seed=0)
        # The request's random stream: a pure function of its prompt and seed (c2's per-path keys).
        stream = hashlib.sha256(bytes(str(ids), "utf-8")).hexdigest()[:16] + f":{config.seed or 0}"
        prompt = PrefillPrompt(stream, 0, "", text, ids)
        continuation = await self._sample(prompt, sampling)
        # The engine returns text only, not whether it stopped at the token limit or at the end of the turn.
        return ModelOutput.from_content(model=self.model_name, content=continuation, stop_reason="unknown",
                                        ).model_copy(update={"metadata": {"prompt": text, "c2_model": self.identity}})

    async def _sample(self, prompt: PrefillPrompt, sampling: SamplingConfig) -> str:
        """Queue one request; requests queued while a batch runs are sampled together in the next one."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((prompt, sampling, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0.01)  # let the requests sent at the same time join this batch
                queued, self._queue = self._queue, []
                by_sampling: dict[SamplingConfig, list[tuple[PrefillPrompt, asyncio.Future[str]]]] = {}
                for prompt, sampling, future in queued:
                    by_sampling.setdefault(sampling, []).append((prompt, future))
                for sampling, requests in by_sampling.items():
                    try:
                        texts = await asyncio.to_thread(self._generate, [p for p, _ in requests], sampling)
                    except Exception as error:  # every waiting request learns what went wrong
                        for _, future in requests:
                            future.set_exception(error)
                        continue
                    for (prompt, future) in requests:
                        future.set_result(texts[prompt.item_id])
        finally:
            self._draining = False

    def _generate(self, prompts: Sequence[PrefillPrompt], sampling: SamplingConfig) -> dict[str, str]:
        from c2kit.generation import generate_with_engine

        unique = list({prompt.item_id: prompt for prompt in prompts}.values())  # the same request twice: one draw
        return {c.item_id: c.text for c in generate_with_engine(self.engine, unique, sampling, progress=False)}


@modelapi(name=PROVIDER)
def c2_provider() -> type[ModelAPI]:
    return C2ModelAPI
