"""LLM judges over any OpenAI-compatible chat API: ``openai-paper:MODEL`` and ``openai:MODEL``.

* ``openai-paper:MODEL`` is the paper's judge, verbatim (``eval/gpteval.py``): the official system message and user
  prompt (request, whole rendered model input with its template tokens, continuation, joined around the
  literal ``\\#\\#POS`` marker), temperature 0, ``max_tokens`` 2, seed 42, and "corrected" if and only if the
  stripped, lower-cased answer is exactly ``yes``. Every answer is kept: those that are neither ``yes`` nor
  ``no`` are counted (:meth:`Judge.tally`) and reported with the scores, never re-asked or hidden (an empty
  reply is no answer: see below).
* ``openai:MODEL`` asks the toolkit's own question (``c2-yesno-v1``, :mod:`c2kit.judges.prompts`): request,
  plain prefix and continuation as labelled sections, and a definition that excludes compliance with a
  caveat. Its numbers are not comparable to the paper's. A non-yes/no answer is asked again, then reported.

Shared by both:

* Endpoint: ``OPENAI_BASE_URL`` (vLLM, TGI, Together, ... or OpenAI itself when unset). ``info()`` records
  it (without user:password, query or fragment), so results say which server answered, not only which name.
* Answer length: ``max_completion_tokens`` for ``openai:`` (what OpenAI's reasoning models require);
  ``max_tokens`` for ``openai-paper:``, as the official script sent it.
* Key: ``OPENAI_API_KEY`` from the environment only. It is never stored on this object, written to the
  cache, logged, or shown in a repr or error message (server messages are redacted before re-raising).
* Cost: answers are cached on disk under a hash of the exact request (model, prompt version, inputs,
  settings, endpoint), so re-judging stored continuations costs nothing; duplicates are asked once.
* Robustness: rate limits, timeouts, connection errors, 5xx and 200 responses whose body is not a chat
  completion (malformed JSON, an HTML error page from a proxy, choices that are not choices) are retried with
  exponential backoff, or after the wait a server's ``Retry-After`` asks for, up to a bound
  (:mod:`c2kit.http_client`, shared with the ``openai`` engine); the last failure is one line naming the server.
* Empty answers: a 200 with no choices, or a choice whose ``message.content`` is null, empty or blank, is
  retried the same way (``max_attempts`` in all). One that stays empty is a failed request, not an answer:
  it is never cached, so the next run asks again, and in this run the input counts as ``unparsed`` (not
  corrected) in :meth:`tally` rather than stopping a run whose other answers are good. The CLI then warns or
  refuses the run by the share of unparsed answers (:mod:`c2kit.judges.unparsed`). Cached rows with an
  empty answer (written before this rule) are asked again too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from c2kit.errors import UserError
from c2kit.http_client import (GaveUp, Retry, UrlSecrets, default_backoff, public_url, redact, retry_after, retryable,
                               with_retries)
from c2kit.judges.base import Judge, JudgeError, JudgeInput
from c2kit.judges.cache import AnswerCache, default_cache_dir
from c2kit.judges.prompts import QUESTIONS, paper_verdict, read_yes_no
from c2kit.quiet import progress_shown

logger = logging.getLogger(__name__)

PROMPT_VERSION = QUESTIONS["c2"].version  # of ``openai:MODEL``; ``openai-paper:MODEL`` has its own
DEFAULT_BASE_URL = "https://api.openai.com/v1"
CACHE_FILE = "openai_judge.jsonl"

# Request fields that limit the answer's length: the current name and the legacy one.
TOKEN_PARAMS = ("max_completion_tokens", "max_tokens")


def build_messages(item: JudgeInput, question: str = "c2") -> list[dict[str, str]]:
    """The chat messages sent for one input: ``question`` is ``"c2"`` (``openai:``) or ``"paper"``."""
    return QUESTIONS[question].messages(item)


def parse_yes_no(answer: str) -> bool | None:
    """``True`` for yes, ``False`` for no (leading punctuation/markdown allowed), ``None`` otherwise."""
    reading = read_yes_no(answer)
    return None if reading == "unparsed" else reading == "yes"


def _import_openai():
    try:
        import openai
    except ImportError as error:
        raise ImportError(
            "the OpenAI-compatible judge needs the 'openai' package: pip install 'c2-toolkit[openai]'"
        ) from error
    return openai


class _UnusableAnswer(Exception):
    """The judge model answered, but not with yes or no."""


class _MalformedResponse(Exception):
    """A 200 response whose body is not a chat completion (bad JSON, an HTML page): retried like a 5xx."""


class _EmptyAnswer(_MalformedResponse):
    """A chat completion without answer text (no choices, content null or blank): retried; if it stays empty,
    the input counts as unparsed and nothing is cached."""


def _answer_text(response: Any) -> str:
    """The first choice's text; :class:`_EmptyAnswer` when there is none, :class:`_MalformedResponse` when the
    body is not a chat completion."""
    try:
        choices = response.choices
    except AttributeError:  # e.g. the SDK hands back an HTML page as str
        raise _MalformedResponse(f"{type(response).__name__} body instead of a chat completion") from None
    if not choices:
        raise _EmptyAnswer("empty answer (no choices)")
    first = choices[0] if isinstance(choices, list) else None
    try:
        text = first.message.content
    except AttributeError:  # e.g. choices that are strings
        what = f"choices[0] is a {type(first).__name__}" if isinstance(choices, list) else (
            f"choices is a {type(choices).__name__}")
        raise _MalformedResponse(f"{what}, not a chat completion choice with a message") from None
    if text is None or (isinstance(text, str) and not text.strip()):
        raise _EmptyAnswer("empty answer (no message content)")
    if not isinstance(text, str):
        raise _MalformedResponse(f"message content is {type(text).__name__}, not text")
    return text


class OpenAIJudge(Judge):
    """A yes/no judge over an OpenAI-compatible chat API at temperature 0.

    ``question="c2"`` is ``openai:MODEL`` (the toolkit's question); ``question="paper"`` is
    ``openai-paper:MODEL`` (the paper's request, settings and verdict rule, verbatim; see the module doc).
    """

    def __init__(
        self,
        model: str,
        *,
        question: str = "c2",
        cache_dir: str | Path | None = None,
        base_url: str | None = None,
        max_workers: int = 8,
        max_attempts: int = 6,
        answer_attempts: int | None = None,
        max_tokens: int | None = None,
        token_param: str | None = None,
        seed: int | None = 42,
        timeout: float = 60.0,
        backoff: Callable[[int], float] = default_backoff,
        progress: bool = True,
    ) -> None:
        if question not in QUESTIONS:
            raise UserError(f"question must be one of {', '.join(QUESTIONS)}, got {question!r}")
        paper = question == "paper"
        # The paper's script: max_tokens=2 under that (legacy) name, one ask, its verdict taken as it is.
        answer_attempts = answer_attempts if answer_attempts is not None else (1 if paper else 3)
        max_tokens = max_tokens if max_tokens is not None else (2 if paper else 5)
        token_param = token_param or ("max_tokens" if paper else "max_completion_tokens")
        prefix = "openai-paper" if paper else "openai"
        if not model:
            raise UserError(f"the OpenAI judge needs a model name: '{prefix}:MODEL', e.g. '{prefix}:gpt-4o'")
        if max_workers < 1 or max_attempts < 1 or answer_attempts < 1:
            raise UserError("max_workers, max_attempts and answer_attempts must be at least 1")
        if token_param not in TOKEN_PARAMS:
            raise UserError(f"token_param must be one of {', '.join(TOKEN_PARAMS)}, got {token_param!r}")
        openai = _import_openai()
        api_key = os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise JudgeError(
                f"judge {prefix}:{model} needs OPENAI_API_KEY in the environment (it is read from there only and "
                "never written to disk); for a local server without authentication set OPENAI_API_KEY=EMPTY"
            )
        self.name = f"{prefix}:{model}"
        self.model = model
        self.question = QUESTIONS[question]
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # What results, logs and messages show; self.base_url may carry user:password or a token query.
        self.endpoint = public_url(self.base_url)
        self.max_workers = max_workers
        self.max_attempts = max_attempts
        self.answer_attempts = answer_attempts
        self.max_tokens = max_tokens
        self.token_param = token_param
        self.seed = seed
        self.backoff = backoff
        self.progress = progress
        self.cache = AnswerCache(Path(cache_dir or default_cache_dir()) / CACHE_FILE)
        self._tally: Counter[str] = Counter()
        self.last_readings: list[str] = []  # how each answer of the last call was read: yes / no / unparsed
        self._openai = openai
        # Retries are ours (injectable backoff, logged without secrets), so the SDK's are off.
        self._client = openai.OpenAI(api_key=api_key, base_url=self.base_url, max_retries=0, timeout=timeout)

    def __repr__(self) -> str:
        return f"OpenAIJudge(name={self.name!r}, base_url={self.endpoint!r})"

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "base_url": self.endpoint,
            "question": self.question.name,
            "prompt_version": self.question.version,
            "verdict_rule": "answer.strip().lower() == 'yes'" if self._paper else "first word yes/no, re-asked",
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "token_param": self.token_param,
            "seed": self.seed,
        }

    def tally(self) -> dict[str, int]:
        return dict(self._tally)

    @property
    def _paper(self) -> bool:
        return self.question.name == "paper"

    def _payload(self, item: JudgeInput) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": self.question.messages(item),
            "temperature": 0.0,
            self.token_param: self.max_tokens,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        return payload

    def _cache_key(self, payload: dict[str, Any]) -> str:
        # The endpoint is part of the key: two servers may serve different weights under one model name.
        material = {"prompt_version": self.question.version, "base_url": self.base_url, "request": payload}
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _redact(self, text: str) -> str:
        """``text`` without the key and without the endpoint's user:password (as written and as the Basic auth
        header the HTTP client makes of it, which servers may echo) and query."""
        return redact(text, (self._client.api_key, *UrlSecrets.of(self.base_url).all()))

    def _complete(self, payload: dict[str, Any]) -> str:
        """One chat completion, retried with backoff on rate limits, timeouts, connection errors, 5xx and
        malformed or empty 200 bodies. Raises :class:`_EmptyAnswer` when the last attempt was still empty."""
        openai = self._openai

        def attempt() -> str:
            try:
                return _answer_text(self._client.chat.completions.create(**payload))
            except openai.APIStatusError as error:
                if not retryable(error.status_code):
                    raise JudgeError(
                        f"judge {self.name}: {self.endpoint} rejected the request (HTTP {error.status_code}): "
                        f"{self._redact(str(error))}"
                    ) from None
                raise Retry(f"HTTP {error.status_code}", after=retry_after(error.response.headers)) from error
            except openai.APIConnectionError as error:  # includes APITimeoutError
                raise Retry(type(error).__name__) from error
            except _EmptyAnswer as error:
                raise Retry(str(error)) from error
            except (_MalformedResponse, openai.APIResponseValidationError, ValueError) as error:
                raise Retry("malformed response body") from error  # ValueError: cut-off or invalid JSON

        try:
            return with_retries(attempt, max_attempts=self.max_attempts, backoff=self.backoff,
                                where=lambda: f"judge {self.name}")
        except GaveUp as gave_up:
            if isinstance(gave_up.cause, _EmptyAnswer):
                raise gave_up.cause from None
            raise JudgeError(
                f"judge {self.name}: gave up after {self.max_attempts} attempts at {self.endpoint}: "
                f"{type(gave_up.cause).__name__}: {self._redact(str(gave_up.cause))}"
            ) from None

    def _ask(self, payload: dict[str, Any]) -> str:
        """An answer. The toolkit's question asks again when the answer is neither yes nor no; the paper's
        takes the first answer as it comes (its rule decides, and the tally reports odd answers). An answer
        that stayed empty through :meth:`_complete`'s retries is not asked for again here."""
        for _ in range(self.answer_attempts):
            answer = self._complete(payload)
            if self._paper or parse_yes_no(answer) is not None:
                return answer
        raise _UnusableAnswer(answer)

    def _verdict(self, answer: str) -> tuple[bool, str]:
        """(corrected, how the answer was read: yes / no / unparsed, the labels every model judge tallies)."""
        if self._paper:
            reading = answer.strip().lower()
            return paper_verdict(answer), reading if reading in ("yes", "no") else "unparsed"
        reading = read_yes_no(answer)
        return reading == "yes", reading

    def _cached(self, key: str) -> dict[str, Any] | None:
        """The cached row of ``key``; ``None`` also for a row with an empty answer, which earlier versions
        cached and which must be asked again, not read as a verdict forever."""
        row = self.cache.get(key)
        answer = row.get("answer") if row is not None else None
        return row if isinstance(answer, str) and answer.strip() else None

    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool]:
        payloads = [self._payload(item) for item in inputs]
        keys = [self._cache_key(payload) for payload in payloads]
        todo = {key: payload for key, payload in zip(keys, payloads) if self._cached(key) is None}
        unusable: list[str] = []
        empty: set[str] = set()
        if todo:
            with (
                ThreadPoolExecutor(max_workers=self.max_workers) as pool,
                tqdm(total=len(todo), desc=f"judging ({self.name})", disable=not (self.progress and progress_shown())) as bar,
            ):
                futures = {pool.submit(self._ask, payload): key for key, payload in todo.items()}
                try:
                    for future in as_completed(futures):
                        key = futures[future]
                        try:
                            answer = future.result()
                        except _UnusableAnswer as error:
                            unusable.append(str(error))
                        except _EmptyAnswer:
                            empty.add(key)
                        else:
                            self.cache.put({"key": key, "model": self.model, "prompt_version": self.question.version,
                                            "answer": answer, "corrected": self._verdict(answer)[0]})
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # stop asking; answers so far are cached
                    raise
        if unusable:
            raise JudgeError(
                f"judge {self.name}: {len(unusable)} of {len(todo)} answers were not 'yes' or 'no' after "
                f"{self.answer_attempts} tries (first: {unusable[0][:80]!r}); the other answers are cached, "
                "so running again only re-asks these"
            )
        if empty:
            logger.warning("judge %s: %d of %d answers stayed empty after %d attempts each; they count as "
                           "unparsed (not corrected) in this run and are not cached, so the next run asks again",
                           self.name, len(empty), len(todo), self.max_attempts)
        verdicts, self.last_readings = [], []
        for key in keys:
            row = self._cached(key)
            corrected, reading = self._verdict(row["answer"]) if row is not None else (False, "unparsed")
            self._tally[reading] += 1
            self.last_readings.append(reading)
            verdicts.append(corrected)
        return verdicts
