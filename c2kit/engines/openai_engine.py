"""``--engine openai``: any OpenAI-compatible completions server, at one or more ``--base-url``.

Requests: ``POST /v1/completions`` with ``prompt`` = the toolkit's token ids, ``n`` 1, the path's own ``seed``
and every sampling setting explicitly (``temperature``, ``top_p``, and the vLLM/SGLang extensions ``top_k`` and
``repetition_penalty``: a server otherwise applies the model's generation_config.json defaults), plus
``return_token_ids`` so the generated ids come back and are decoded here, by the rule the transformers engine
uses. A server that returns no ids (not vLLM) has its text used instead, and ``info()["decoded_by"]`` says so.

Spread and concurrency: up to ``max_concurrency`` requests in flight (a thread pool); each attempt goes to the
next URL in turn, so several servers share the work and a retry moves on from a server that failed.

Before a run (:meth:`OpenAIEngine.check_parity`): every server is asked for its model (``/v1/models``), its
version (``/version``, where present) and, on a sample of prompts, to tokenize the rendered text and the chat
messages (``/tokenize``, vLLM's: with ``continue_final_message``), which must give our ids exactly.

Faults: connection errors, timeouts, HTTP 408/409/429/5xx and malformed bodies are retried with exponential
backoff (:mod:`c2kit.http_client`, shared with the OpenAI judges); other 4xx fail at once. Whatever ends a run is
one line naming the URL (without credentials: :func:`~c2kit.http_client.public_url`) and what happened. The key
is read from the environment (``OPENAI_API_KEY`` or ``--api-key-env``), sent only as a bearer header, and
redacted from every message.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

from c2kit.engines.base import EngineError, ParityProbe, PathRequest, PathRequestEngine, parity_message, sampling_fields
from c2kit.errors import UserError
from c2kit.http_client import (Fatal, GaveUp, Missing, Retry, Stopped, UrlSecrets, default_backoff, public_url,
                               redact, request_json, with_retries)

logger = logging.getLogger(__name__)


class _Server:
    """One base URL: ``root`` (for ``/tokenize``, ``/version``) and ``api`` (``root/v1``)."""

    def __init__(self, url: str) -> None:
        url = url.strip()
        if not url.startswith(("http://", "https://")):
            raise UserError(f"--base-url {public_url(url)!r} must start with http:// or https://")
        # user:password becomes a Basic header and a query (a token some gateways want) rides on every request;
        # both stay out of everything shown (``public``).
        secrets = UrlSecrets.of(url)
        self.secrets = secrets.all()
        self.basic = secrets.basic
        self.query = urlsplit(url).query
        self.url = url
        bare = public_url(url).rstrip("/")
        self.root = bare[: -len("/v1")] if bare.endswith("/v1") else bare
        self.api = self.root + "/v1"
        self.public = self.root
        self.version: str | None = None
        self.models: list[dict] = []


class OpenAIEngine(PathRequestEngine):
    name = "openai"

    def __init__(
        self,
        base_urls: Sequence[str],
        tokenizer,
        *,
        api_key: str | None = None,
        served_model: str | None = None,
        max_concurrency: int = 32,
        timeout: float = 600.0,
        max_attempts: int = 6,
        backoff: Callable[[int], float] = default_backoff,
        model_hint: str | None = None,
    ) -> None:
        super().__init__(tokenizer)
        if not base_urls:
            raise UserError("the openai engine needs at least one base URL")
        self.servers = [_Server(url) for url in base_urls]
        self._api_key = api_key
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.batch_paths = max(256, 8 * max_concurrency)
        self._turn = itertools.cycle(range(len(self.servers)))
        self._turn_lock = threading.Lock()
        self._stop = threading.Event()
        self.decoded_by = "client (token ids)"
        self._warned_text = False
        self.parity: dict[str, Any] = {"checked": 0}
        self._connect(served_model, model_hint)

    # -- connection --------------------------------------------------------------------------------------

    def _connect(self, served_model: str | None, model_hint: str | None) -> None:
        for server in self.servers:
            body = self._call(server, "GET", server.api + "/models")
            try:
                server.models = [m for m in body["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)]
            except (KeyError, TypeError):
                raise EngineError(f"engine openai: {server.public}/v1/models: malformed body (no data list)") from None
            try:
                server.version = str(self._call(server, "GET", server.root + "/version", retry_missing=False)["version"])
            except (Missing, KeyError, TypeError):
                server.version = None
        ids = [[m["id"] for m in server.models] for server in self.servers]
        if served_model is None:
            first = ids[0]
            if len(first) == 1:
                served_model = first[0]
            elif model_hint in first:
                served_model = model_hint
            else:
                raise EngineError(f"engine openai: {self.servers[0].public} serves {len(first)} models "
                                  f"({', '.join(first[:5]) or 'none'}); name one with --served-model")
        for server, names in zip(self.servers, ids):
            if served_model not in names:
                raise EngineError(f"engine openai: {server.public} does not serve {served_model!r} "
                                  f"(it serves: {', '.join(names[:5]) or 'nothing'})")
        versions = {server.version for server in self.servers}
        if len(versions) > 1:
            raise EngineError("engine openai: the servers run different versions ("
                              + ", ".join(f"{s.public}: {s.version}" for s in self.servers)
                              + "); outputs would depend on which server answered")
        self.served_model = served_model
        model = next(m for m in self.servers[0].models if m["id"] == served_model)
        self.model_root = model.get("root")
        self.max_model_len = model.get("max_model_len")

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.servers[0].version, "served_model": self.served_model,
                "model_root": self.model_root, "max_model_len": self.max_model_len,
                "base_urls": [s.public for s in self.servers], "max_concurrency": self.max_concurrency,
                "decoded_by": self.decoded_by, "parity": self.parity}

    def cache_identity(self) -> dict[str, Any]:
        # Not the URLs: the same model and version behind another address gives the same outputs, so a rerun
        # against restarted or additional servers resumes.
        return {"engine": self.name, "version": self.servers[0].version, "served_model": self.served_model,
                "request": "completions/token-ids/n1-path-seed-v1"}

    # -- HTTP ----------------------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, [self._api_key or "", *(secret for server in self.servers for secret in server.secrets)])

    def _once(self, server: _Server, method: str, url: str, body: dict | None) -> dict:
        if self._api_key:
            authorization = f"Bearer {self._api_key}"
        else:
            authorization = f"Basic {server.basic}" if server.basic else None
        return request_json(url + (f"?{server.query}" if server.query else ""), method, body, timeout=self.timeout,
                            authorization=authorization, redact_text=self._redact)

    def _call(self, server: _Server | None, method: str, url: str | Callable[[_Server], str],
              body: dict | None = None, *, parse: Callable[[dict], Any] = lambda b: b,
              retry_missing: bool = True) -> Any:
        """One call with retries. ``server`` None: each attempt takes the next server in turn (``url`` is then a
        function of the server). The last failure is one line naming the URL."""
        last_url = ""

        def attempt() -> Any:
            nonlocal last_url
            if self._stop.is_set():
                raise Stopped
            target = server or self._next_server()
            last_url = url(target) if callable(url) else url
            try:
                return parse(self._once(target, method, last_url, body))
            except Missing as missing:
                if not retry_missing:
                    raise
                raise EngineError(f"engine openai: {public_url(last_url)}: {missing} (is this an OpenAI-compatible "
                                  "server? --base-url is the server's address, e.g. http://127.0.0.1:8000/v1)") from None
            except Fatal as fatal:
                raise EngineError(f"engine openai: {public_url(last_url)} rejected the request: {fatal}") from None

        try:
            return with_retries(attempt, max_attempts=self.max_attempts, backoff=self.backoff,
                                where=lambda: f"engine openai: {public_url(last_url)}", wait=self._stop.wait)
        except Stopped:
            raise EngineError("engine openai: stopped (another request failed)") from None
        except GaveUp as gave_up:
            raise EngineError(f"engine openai: {public_url(last_url)}: {gave_up.reason} (gave up after "
                              f"{self.max_attempts} attempts; finished batches are cached, so running the same "
                              "command again resumes)") from None

    def _next_server(self) -> _Server:
        with self._turn_lock:
            return self.servers[next(self._turn)]

    # -- sampling ------------------------------------------------------------------------------------------

    def _sample(self, requests: Sequence[PathRequest], sampling) -> list[list[int] | str]:
        fields = sampling_fields(sampling, self.tokenizer)
        self._stop.clear()
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests)) or 1,
                                  thread_name_prefix="c2-openai")
        try:
            futures = [pool.submit(self._complete, request, fields) for request in requests]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f.done() and f.exception() is not None), None)
            if failed is not None:
                self._stop.set()
                raise failed.exception()
            return [f.result() for f in futures]
        except BaseException:
            self._stop.set()  # the other threads stop at their next attempt or backoff
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _complete(self, request: PathRequest, fields: dict[str, Any]) -> list[int] | str:
        body = {"model": self.served_model, "prompt": list(request.prompt_ids), "n": 1, "seed": request.seed,
                "stream": False, "return_token_ids": True, **fields}

        def parse(response: dict) -> list[int] | str:
            try:
                choice = response["choices"][0]
            except (KeyError, IndexError, TypeError):
                raise Retry("malformed response body (no choices)") from None
            if not isinstance(choice, dict):
                raise Retry(f"malformed response body (choices[0] is a {type(choice).__name__}, not an object)")
            echoed = response.get("prompt_token_ids", choice.get("prompt_token_ids"))
            if isinstance(echoed, list) and echoed and list(echoed) != list(request.prompt_ids):
                raise Fatal(f"the server received other prompt ids than were sent for {request.label}")
            ids = choice.get("token_ids")
            if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
                return ids
            if ids is not None:
                raise Retry("malformed response body (token_ids is not a list of integers)")
            text = choice.get("text")
            if not isinstance(text, str):
                raise Retry("malformed response body (neither token_ids nor text)")
            if not self._warned_text:
                self._warned_text = True
                logger.warning("engine openai: the server returns no token ids (return_token_ids); using its text")
            self.decoded_by = "server (text)"
            return text

        return self._call(None, "POST", lambda server: server.api + "/completions", body, parse=parse)

    # -- parity --------------------------------------------------------------------------------------------

    def check_parity(self, probes: Sequence[ParityProbe]) -> dict[str, Any]:
        """Every server tokenizes every probe's text (and its messages, where given) exactly as we do."""
        checked, templates, unsupported = 0, 0, []
        for server in self.servers:
            for probe in probes:
                body = {"model": self.served_model, "prompt": probe.text, "add_special_tokens": False}
                try:
                    theirs = self._call(server, "POST", server.root + "/tokenize", body, parse=_tokens,
                                        retry_missing=False)
                except Missing:
                    unsupported.append(server.public)
                    break
                if list(theirs) != list(probe.ids):
                    raise EngineError("engine openai: " + parity_message(server.public, probe, theirs, "tokenizer"))
                checked += 1
                if probe.messages:
                    body = {"model": self.served_model, "messages": probe.messages, "add_generation_prompt": False,
                            "continue_final_message": True, "add_special_tokens": False}
                    theirs = self._call(server, "POST", server.root + "/tokenize", body, parse=_tokens,
                                        retry_missing=False)
                    if list(theirs) != list(probe.ids):
                        raise EngineError("engine openai: " + parity_message(server.public, probe, theirs,
                                                                             "chat template"))
                    templates += 1
        for url in unsupported:
            logger.warning("engine openai: %s has no /tokenize; its tokenizer could not be checked against ours "
                           "(the prompts are still sent as our token ids)", url)
        self.parity = {"checked": checked, "chat_template_checked": templates, "servers_without_tokenize": unsupported,
                       "how": "/tokenize of the rendered text (and of the chat messages with continue_final_message) "
                              "equals our ids"}
        return self.parity


def _tokens(body: dict) -> list[int]:
    tokens = body.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise Retry("malformed /tokenize body (no token list)")
    return tokens


def open_openai(options, request):
    """The registered factory of ``--engine openai``: the key read from the environment, never stored."""
    import os

    from c2kit.engines.registry import OpenedEngine, tokenizer_here

    loaded, generation_config = tokenizer_here(request)
    engine = OpenAIEngine(options.base_urls, loaded.tokenizer, api_key=os.environ.get(options.api_key_env) or None,
                          served_model=options.served_model, max_concurrency=options.max_concurrency,
                          timeout=options.timeout, max_attempts=options.max_attempts, model_hint=request.model)
    return OpenedEngine(engine, loaded, generation_config)
