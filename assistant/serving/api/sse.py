"""Answer events as server-sent events; errors after the headers went out travel as an ``error`` event.

A client that hangs up frees the model: the answer's generator is closed within one step (a token) of the
disconnect, which stops the engine and lets the next question in the queue start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from itertools import chain

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from assistant.errors import AssistantError
from assistant.serving.api.errors import status_for
from assistant.types import StreamEvent

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
INTERNAL_ERROR = "Internal error while answering; the server log has the details."


def sse_frame(data: Mapping[str, object], event: str | None = None) -> str:
    """One server-sent event; JSON never contains a raw newline, so one ``data:`` line suffices."""
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def sse_frames(events: Iterable[StreamEvent]) -> Iterator[str]:
    """Events as SSE; a failure after the headers were sent can only reach the client as an ``error`` event."""
    try:
        for event in events:
            yield sse_frame(event.to_dict())
    except AssistantError as exc:
        yield sse_frame({"message": str(exc)}, event="error")
    except Exception:  # the stream is the only channel left to tell the client it ended early
        log.exception("answer stream failed")
        yield sse_frame({"message": INTERNAL_ERROR}, event="error")


class AnswerStream(StreamingResponse):
    """SSE frames produced by a worker thread of their own, relayed to the client.

    Starlette consumes a plain iterator on the thread pool and, when the client hangs up, stops reading it
    without closing it: the model would go on generating for nobody while every other user waits. Here the
    response ends early (disconnect, cancellation or a failed send) by telling the worker, which closes the
    answer's generator before it computes another frame.
    """

    def __init__(self, events: Generator[StreamEvent, None, None], first: StreamEvent) -> None:
        self._events = events
        self._first = first
        self._stop = threading.Event()
        super().__init__(self._relay(), media_type=EVENT_STREAM, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop.set()

    async def _relay(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Queue[str | None] = asyncio.Queue()

        def deliver(frame: str | None) -> None:
            try:
                loop.call_soon_threadsafe(ready.put_nowait, frame)
            except RuntimeError:  # the server shut down meanwhile
                self._stop.set()

        def pump() -> None:
            frames = sse_frames(chain([self._first], self._events))
            try:
                for frame in frames:
                    if self._stop.is_set():
                        break
                    deliver(frame)
            finally:
                frames.close()
                self._events.close()  # GeneratorExit inside the answer: the model's stream is closed, the queue moves on
                deliver(None)

        threading.Thread(target=pump, name="answer-stream", daemon=True).start()
        try:
            while (frame := await ready.get()) is not None:
                yield frame
        finally:
            self._stop.set()


def event_stream(events: Generator[StreamEvent, None, None]) -> StreamingResponse:
    """Errors raised before the first event keep their HTTP status; later ones arrive as an ``error`` event."""
    try:
        first = next(events)
    except AssistantError as exc:
        return StreamingResponse(
            iter([sse_frame({"message": str(exc)}, event="error")]), status_code=status_for(exc), media_type=EVENT_STREAM
        )
    return AnswerStream(events, first)
