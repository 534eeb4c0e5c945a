"""A scripted OpenAI chat-completions server on 127.0.0.1 for failure tests real servers cannot stage.

It speaks the wire protocol the real clients use (POST /v1/chat/completions, JSON or server-sent
events), records every request body, and answers each request with the next scripted behaviour;
the last one repeats, so ``script(Status(500))`` fails every retry.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

DELTA_CHARS = 4
"""Streamed replies are cut into pieces this long, so a normal reply arrives as several deltas."""


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Delay:
    """Answer ``text`` only after ``seconds``; the client should have given up by then."""

    seconds: float
    text: str = "too late"


@dataclass(frozen=True)
class Status:
    code: int


@dataclass(frozen=True)
class Drop:
    """Stream ``text`` and then close the connection without a finish reason or ``[DONE]``."""

    text: str


Behaviour = Reply | Delay | Status | Drop


def pieces(text: str) -> list[str]:
    return [text[i : i + DELTA_CHARS] for i in range(0, len(text), DELTA_CHARS)]


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": len(pieces(text)), "total_tokens": 1 + len(pieces(text))},
    }


def _chunk(model: str, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class FakeOpenAI:
    """Start with ``with FakeOpenAI() as server:``; point clients at ``server.base_url``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Behaviour] = deque([Reply("Hello from the fake server.")])
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script = deque(behaviours)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # releases handlers still sleeping in a Delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _next(self, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append(body)
            return self._script.popleft() if len(self._script) > 1 else self._script[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                behaviour = server._next(body)
                try:
                    self._respond(behaviour, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, which is what Delay is for

            def _respond(self, behaviour: Behaviour, body: dict[str, Any]) -> None:
                model = body.get("model", "fake")
                if isinstance(behaviour, Status):
                    message = {"error": {"message": f"scripted HTTP {behaviour.code}", "type": "scripted"}}
                    self._json(behaviour.code, message)
                    return
                if isinstance(behaviour, Delay):
                    if server._stopping.wait(behaviour.seconds):
                        return
                    behaviour = Reply(behaviour.text)
                if not body.get("stream"):
                    assert isinstance(behaviour, Reply), "a dropped stream needs a streaming request"
                    self._json(200, _completion(behaviour.text, model))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                self.wfile.write(_chunk(model, {"role": "assistant", "content": ""}))
                for piece in pieces(behaviour.text):
                    self.wfile.write(_chunk(model, {"content": piece}))
                    self.wfile.flush()
                if isinstance(behaviour, Reply):
                    self.wfile.write(_chunk(model, {}, finish_reason="stop"))
                    self.wfile.write(b"data: [DONE]\n\n")

            def _json(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
