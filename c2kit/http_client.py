"""HTTP for OpenAI-compatible servers, shared by the ``openai`` engine and the ``openai:`` / ``openai-paper:`` judges.

* Addresses shown without their secrets (:func:`public_url`), and secrets taken out of any text that is shown
  (:class:`UrlSecrets`, :func:`redact`): user:password (also as the Basic header made of it, which servers may
  echo), a query (a token some gateways want) and the API key.
* Retries (:func:`with_retries`): what is worth another attempt (connection errors, timeouts, HTTP 408/409/429
  and 5xx, malformed bodies: :func:`retryable`) is tried again after an exponential backoff with jitter
  (:func:`default_backoff`), each retry logged in one line; other failures end at once.
* JSON requests (:func:`request_json`, urllib): the engine's transport (token ids in and out, and vLLM's
  ``/tokenize`` and ``/version``, which no SDK has). The judges send chat completions through the ``openai``
  SDK (with its own retries off) and share the rest.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

# HTTP statuses worth retrying besides 5xx: request timeout, conflict, rate limit (the OpenAI SDK's own list).
RETRY_STATUSES = frozenset({408, 409, 429})

T = TypeVar("T")


def retryable(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt."""
    return status in RETRY_STATUSES or status >= 500


def default_backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): 1, 2, 4, ... capped at 60, with jitter."""
    return min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)


def public_url(url: str) -> str:
    """``url`` without what may be a secret: user:password, query and fragment (scheme, host, port, path stay)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class UrlSecrets:
    """The secret parts of a base URL: ``userinfo`` (user:password as written), ``basic`` (the Basic
    authorization value made of it) and ``query``; empty strings where absent."""

    userinfo: str
    basic: str
    query: str

    @classmethod
    def of(cls, url: str) -> "UrlSecrets":
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        basic = base64.b64encode(unquote(userinfo).encode()).decode() if userinfo else ""
        return cls(userinfo, basic, parts.query)

    def all(self) -> tuple[str, ...]:
        return tuple(secret for secret in (self.userinfo, self.query, self.basic) if secret)


def redact(text: str, secrets) -> str:
    """``text`` with every non-empty secret in ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Retry(Exception):
    """A failure worth another attempt; the message says what happened."""


class Fatal(Exception):
    """A failure no retry fixes (an HTTP 4xx other than 404, 408, 409, 429)."""


class Missing(Exception):
    """HTTP 404: the route does not exist on this server."""


class GaveUp(Exception):
    """Every attempt failed with :class:`Retry`; ``reason`` is the last one's message and ``cause`` what raised it."""

    def __init__(self, reason: str, cause: BaseException | None, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.attempts = attempts


class Stopped(Exception):
    """``wait`` reported that the caller wants no more attempts (e.g. another request failed)."""


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def with_retries(attempt: Callable[[], T], *, max_attempts: int, backoff: Callable[[int], float],
                 where: Callable[[], str], wait: Callable[[float], bool] = _sleep) -> T:
    """The result of the first ``attempt()`` that does not raise :class:`Retry`, trying up to ``max_attempts`` times.

    Between attempts, one warning ``"{where()}: {reason}; retry i/n in s"`` and ``wait(backoff(i))``; ``wait``
    returning True raises :class:`Stopped`. Other exceptions of ``attempt`` pass through at once. After the last
    attempt: :class:`GaveUp` with the last reason and the exception that caused it.
    """
    for number in range(max_attempts):
        try:
            return attempt()
        except Retry as retry:
            last = retry
        if number + 1 < max_attempts:
            delay = backoff(number)
            logger.warning("%s: %s; retry %d/%d in %.1fs", where(), last, number + 1, max_attempts - 1, delay)
            if wait(delay):
                raise Stopped
    raise GaveUp(str(last), last.__cause__ or last, max_attempts)


def request_json(url: str, method: str = "GET", body: dict | None = None, *, timeout: float,
                 authorization: str | None = None, redact_text: Callable[[str], str] = lambda text: text
                 ) -> dict[str, Any]:
    """One JSON request; the parsed JSON object it answered, or :class:`Retry`, :class:`Fatal` or :class:`Missing`.

    ``authorization`` (e.g. ``"Bearer KEY"``) goes out as an unredirected header, so a redirect (possibly to
    another host) never carries it along; ``redact_text`` cleans the server's error text before it is raised.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if authorization:
        request.add_unredirected_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = " ".join(redact_text(error.read().decode("utf-8", "replace")).split())[:300]
        if error.code == 404:
            raise Missing(f"HTTP 404: {detail}") from None
        if retryable(error.code):
            raise Retry(f"HTTP {error.code}: {detail}") from None
        raise Fatal(f"HTTP {error.code}: {detail}") from None
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError,
            http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Retry(f"{type(reason).__name__}: {' '.join(redact_text(str(reason)).split())[:300]}" if str(reason)
                    else type(reason).__name__) from None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Retry(f"malformed response body ({len(raw)} bytes, not JSON)") from None
    if not isinstance(parsed, dict):
        raise Retry("malformed response body (not a JSON object)")
    return parsed
