"""Answer events as server-sent events; errors after the headers went out travel as an ``error`` event."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain

from fastapi.responses import StreamingResponse

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


def event_stream(events: Iterator[StreamEvent]) -> StreamingResponse:
    """Errors raised before the first event keep their HTTP status; later ones arrive as an ``error`` event."""
    try:
        first = next(events)
    except AssistantError as exc:
        return StreamingResponse(
            iter([sse_frame({"message": str(exc)}, event="error")]), status_code=status_for(exc), media_type=EVENT_STREAM
        )
    return StreamingResponse(
        sse_frames(chain([first], events)),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
