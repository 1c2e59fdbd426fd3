"""A tiny OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1 for judge tests.

``answer(body)`` decides each reply from the request body: the answer text, or ``(status, payload)`` for an
error reply. Faults queued in ``fail`` are served first,
one per request: an HTTP status (``503``), a status with reply headers (``(429, {"Retry-After": "5"})``), or a
malformed 200 body (``"html"``: a proxy's HTML page, ``"badjson"``: JSON cut off mid-string). Every request body
is kept in ``requests``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-test-0123456789abcdef"

MALFORMED_BODIES = {
    "html": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "badjson": (b'{"id": "x", "choices": [{"message": {"content": "ye', "application/json"),
}


class FakeOpenAIServer:
    def __init__(self, answer: Callable[[dict], str | tuple[int, dict]]) -> None:
        self.answer = answer
        self.requests: list[dict] = []
        self.fail: list[int | str | tuple[int, dict[str, str]]] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                state.requests.append(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {KEY}":  # real servers echo (part of) the key: it must be redacted
                    return self._send(401, {"error": {"message": f"Incorrect API key provided: {auth}"}})
                if state.fail:
                    fault = state.fail.pop(0)
                    if isinstance(fault, str):
                        return self._send_raw(200, *MALFORMED_BODIES[fault])
                    status, headers = fault if isinstance(fault, tuple) else (fault, {})
                    return self._send(status, {"error": {"message": "try again later"}}, headers)
                content = state.answer(body)
                if isinstance(content, tuple):
                    return self._send(*content)
                self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}]})

            def _send(self, status, payload, headers=None):
                self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

            def _send_raw(self, status, data, content_type, headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def use_server(monkeypatch, server: FakeOpenAIServer) -> None:
    """Point the OpenAI client at ``server`` with the test key, bypassing any proxy."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def serving(monkeypatch, answer: Callable[[dict], str | tuple[int, dict]]):
    """A running fake server that the OpenAI client points at, closed afterwards (skips without openai)."""
    import pytest

    pytest.importorskip("openai")
    server = FakeOpenAIServer(answer)
    use_server(monkeypatch, server)
    try:
        yield server
    finally:
        server.close()
