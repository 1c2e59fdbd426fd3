"""HTTP for OpenAI-compatible servers, shared by the ``openai`` engine and the ``openai:`` / ``openai-paper:`` judges.

* Addresses shown without their secrets (:func:`public_url`), and secrets taken out of any text that is shown
  (:class:`UrlSecrets`, :func:`redact`): user:password (also as the Basic header made of it, which servers may
  echo), a query (a token some gateways want) and the API key.
* Retries (:func:`with_retries`): what is worth another attempt (connection errors, timeouts, HTTP 408/409/429
  and 5xx, malformed bodies: :func:`retryable`) is tried again after an exponential backoff with jitter
  (:func:`default_backoff`), each retry logged in one line; other failures end at once. A server that says how
  long to wait (``Retry-After``, in seconds or as a date, or OpenAI's ``retry-after-ms``: :func:`retry_after`)
  is waited for at least that long, up to :data:`RETRY_AFTER_MAX` seconds.
* JSON requests (:func:`request_json`, urllib): the engine's transport (token ids in and out, and vLLM's
  ``/tokenize`` and ``/version``, which no SDK has). The judges send chat completions through the ``openai``
  SDK (with its own retries off) and share the rest.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import math
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

# HTTP statuses worth retrying besides 5xx: request timeout, conflict, rate limit (the OpenAI SDK's own list).
RETRY_STATUSES = frozenset({408, 409, 429})
# The longest wait a server's Retry-After gets (the OpenAI SDK's bound): a longer one (a quota that resets in an
# hour) is waited this long, so a run never hangs on one header; the attempts that follow say if it still holds.
RETRY_AFTER_MAX = 60.0

T = TypeVar("T")


def retryable(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt."""
    return status in RETRY_STATUSES or status >= 500


def default_backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): 1, 2, 4, ... capped at 60, with jitter."""
    return min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)


def retry_after(headers: Any) -> float | None:
    """Seconds a reply asks the client to wait before it tries again, from ``headers`` (any mapping with a
    case-insensitive ``get``: urllib's and httpx's): ``retry-after-ms`` (OpenAI's), else ``Retry-After`` in
    seconds or as an HTTP date. None when there is none or it is unreadable."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    try:
        if milliseconds is not None and math.isfinite(float(milliseconds)):
            return max(0.0, float(milliseconds) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


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
    """A failure worth another attempt; the message says what happened, ``after`` how many seconds the server
    asked to wait (None: it did not say)."""

    def __init__(self, reason: str, *, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


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
                 where: Callable[[], str], wait: Callable[[float], bool] | None = None) -> T:
    """The result of the first ``attempt()`` that does not raise :class:`Retry`, trying up to ``max_attempts`` times.

    Between attempts, one warning ``"{where()}: {reason}; retry i/n in s"`` and ``wait(s)`` (default: sleep), where
    ``s`` is ``backoff(i)``, or what the server asked for (:attr:`Retry.after`, at most :data:`RETRY_AFTER_MAX`)
    when that is longer; ``wait`` returning True raises :class:`Stopped`. Other exceptions of ``attempt`` pass
    through at once. After the last attempt: :class:`GaveUp` with the last reason and the exception that caused it.
    """
    for number in range(max_attempts):
        try:
            return attempt()
        except Retry as retry:
            last = retry
        if number + 1 < max_attempts:
            delay, asked = backoff(number), ""
            if last.after is not None:
                delay = max(delay, min(last.after, RETRY_AFTER_MAX))
                asked = f" (the server asked for {last.after:g}s" + (
                    f"; waiting at most {RETRY_AFTER_MAX:g}s)" if last.after > RETRY_AFTER_MAX else ")")
            logger.warning("%s: %s; retry %d/%d in %.1fs%s", where(), last, number + 1, max_attempts - 1, delay, asked)
            if (wait or _sleep)(delay):
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
            raise Retry(f"HTTP {error.code}: {detail}", after=retry_after(error.headers)) from None
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
