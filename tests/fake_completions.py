"""A small OpenAI-compatible *completions* server on 127.0.0.1 that speaks vLLM's extra routes, for engine tests.

Routes: ``GET /v1/models``, ``GET /version``, ``POST /tokenize`` (with a real tokenizer, text or chat messages with
``continue_final_message``), ``POST /v1/completions`` (``prompt`` = token ids; returns ``token_ids`` drawn from a
``random.Random(seed)`` stream, or given by ``draw(body)`` where one is passed, and their text). ``fail`` holds faults served first, one per completion request:
an HTTP status (``503``), a status with reply headers (``(429, {"Retry-After": "5"})``), ``"html"`` (a proxy's
page), ``"badjson"`` (cut-off JSON), ``"strchoices"`` (``choices`` a list of strings), ``"drop"`` (connection closed
without an answer), ``"slow"`` (answers after ``slow_s`` seconds). ``requests`` keeps every completion body,
``auth`` every Authorization header.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeCompletionsServer:
    def __init__(self, tokenizer, *, model: str = "tiny", version: str | None = "0.0-fake",
                 tokenize_offset: int = 0, tokenize_route: bool = True, return_ids: bool = True,
                 draw: Callable[[dict], list[int]] | None = None) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.version = version
        self.tokenize_offset = tokenize_offset  # != 0: /tokenize disagrees with the real tokenizer
        self.tokenize_route = tokenize_route
        self.return_ids = return_ids
        self.draw = draw
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.fail: list[int | str | tuple[int, dict[str, str]]] = []
        self.slow_s = 2.0
        self.lock = threading.Lock()
        state = self
        vocab = [i for i in range(len(tokenizer)) if i not in set(tokenizer.all_special_ids)]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                self.path = self.path.partition("?")[0]
                if self.path == "/v1/models":
                    return self._send(200, {"object": "list", "data": [{"id": state.model, "root": "/models/x",
                                                                         "max_model_len": 1024}]})
                if self.path == "/version" and state.version is not None:
                    return self._send(200, {"version": state.version})
                return self._send(404, {"error": "not found"})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.path = self.path.partition("?")[0]
                if self.path == "/tokenize" and state.tokenize_route:
                    if "messages" in body:
                        text = state.tokenizer.apply_chat_template(
                            body["messages"], tokenize=False, continue_final_message=body["continue_final_message"])
                    else:
                        text = body["prompt"]
                    ids = state.tokenizer(text, add_special_tokens=False)["input_ids"]
                    if state.tokenize_offset and len(ids) > 3:
                        ids[3] += state.tokenize_offset
                    return self._send(200, {"tokens": ids, "count": len(ids), "max_model_len": 1024})
                if self.path != "/v1/completions":
                    return self._send(404, {"error": "not found"})
                with state.lock:
                    state.requests.append(body)
                    state.auth.append(self.headers.get("Authorization", ""))
                    fault = state.fail.pop(0) if state.fail else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if fault == "slow":
                    time.sleep(state.slow_s)
                elif fault == "html":
                    return self._raw(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                elif fault == "badjson":
                    return self._raw(200, b'{"choices": [{"text": "ye', "application/json")
                elif fault == "strchoices":
                    return self._send(200, {"id": "c", "object": "text_completion", "choices": ["yes"]})
                elif isinstance(fault, (int, tuple)):
                    status, headers = fault if isinstance(fault, tuple) else (fault, {})
                    return self._send(status, {"error": {"message": f"fault {status}"}}, headers)
                if state.draw is not None:
                    ids = state.draw(body)
                else:
                    rng = random.Random(body["seed"] if body.get("temperature", 0) > 0 else 0)
                    ids = [rng.choice(vocab) for _ in range(body["max_tokens"])]
                choice = {"index": 0, "text": state.tokenizer.decode(ids), "finish_reason": "length"}
                if state.return_ids and body.get("return_token_ids"):
                    choice["token_ids"] = ids
                payload = {"id": "c", "object": "text_completion", "model": state.model, "choices": [choice]}
                if state.return_ids and body.get("return_token_ids"):
                    payload["prompt_token_ids"] = body["prompt"]
                return self._send(200, payload)

            def _send(self, status, payload, headers=None):
                self._raw(status, json.dumps(payload).encode(), "application/json", headers)

            def _raw(self, status, data, content_type, headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that timed out and left: expected here
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeCompletionsServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
