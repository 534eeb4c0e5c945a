"""REST API over ``Assistant``: answers (JSON or server-sent events), passages, documents, health, metrics, indexing.

Routes are plain ``def`` functions, so FastAPI runs their blocking work in its
threadpool and the event loop stays free; the one ``Assistant`` (models loaded
once, thread-safe) is shared by every request. Like the CLI and UI, this is an
edge that turns ``AssistantError`` into a message the caller can act on.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from .documents import MB, add_document, check_size, remove_document, safe_name
from .errors import (
    AssistantError,
    BadQuestion,
    BadUpload,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    UnknownDocument,
    UploadTooLarge,
)
from .manifest import file_hashes
from .metrics import ApiMetrics, MetricsMiddleware
from .service import Assistant
from .settings import LimitSettings, ServerSettings
from .store import Manifest
from .types import StreamEvent

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 100_000  # caps the request body; the configured, usually lower, limit is Assistant.validate's
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 20_000
MAX_JSON_BYTES = 12 * (MAX_QUESTION_CHARS + 2 * MAX_HISTORY_TURNS * MAX_TURN_CHARS) + 64 * 1024
"""Largest accepted JSON body: the longest escape of one character is 12 bytes (a surrogate pair), plus keys."""
MAX_UPLOAD_FILES = 20
FORM_OVERHEAD_BYTES = MB  # multipart headers and boundaries around the files
MAX_TRACKED_CLIENTS = 10_000
EVENT_STREAM = "text/event-stream"
INTERNAL_ERROR = "Internal error while answering; the server log has the details."
STATUS_BY_ERROR: tuple[tuple[type[AssistantError], int], ...] = (
    (BadQuestion, 422),
    (UnknownDocument, 404),
    (UploadTooLarge, 413),
    (BadUpload, 422),
    (IndexBusy, 409),
    (IndexMissing, 503),
    (IndexMismatch, 503),
    (IndexCorrupt, 503),
)

BEARER = HTTPBearer(auto_error=False, description="The value of ASSISTANT_SERVER__ADMIN_TOKEN.")
ADMIN_HEADER = APIKeyHeader(name="X-Admin-Token", auto_error=False, description="Alternative to the bearer token.")


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="Chinese or English question.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (default: the retrieve.k setting).")


class HistoryTurn(BaseModel):
    question: str = Field(max_length=MAX_TURN_CHARS)
    answer: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(RetrieveRequest):
    history: list[HistoryTurn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS, description="Earlier turns of the conversation, oldest first."
    )


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(False, description="Build from scratch even when the index is up to date.")


# -- pure helpers -----------------------------------------------------------------------------


def status_for(exc: AssistantError) -> int:
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind)), 500)


def is_loopback(host: str) -> bool:
    """True for hosts only this machine can reach; ``0.0.0.0`` and names other than localhost are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def index_size(manifest: Manifest) -> tuple[int, int]:
    """(documents indexed without error, chunks) of a manifest."""
    indexed = [info for info in manifest.documents.values() if "error" not in info]
    return len(indexed), sum(int(info.get("chunks", 0)) for info in indexed)


def document_status(info: Mapping[str, object] | None, on_disk_sha256: str | None) -> str:
    if info is None:
        return "not indexed"
    if on_disk_sha256 is None:
        return "missing on disk"
    if info.get("sha256") != on_disk_sha256:
        return "changed on disk"
    return "error" if "error" in info else "indexed"


def document_statuses(indexed: Mapping[str, Mapping[str, object]], on_disk: Mapping[str, str]) -> list[dict[str, object]]:
    """Every document in the index or the corpus folder, with what the index knows and how it compares to disk."""
    return [
        {
            "doc_id": doc_id,
            **indexed.get(doc_id, {}),
            "status": document_status(indexed.get(doc_id), on_disk.get(doc_id)),
        }
        for doc_id in sorted(indexed.keys() | on_disk.keys())
    ]


def list_documents(assistant: Assistant) -> list[dict[str, object]]:
    """``document_statuses`` of the live index and the corpus folder; shared by the API and the Documents tab."""
    try:
        indexed = assistant.manifest().documents
    except IndexMissing:
        indexed = {}
    return document_statuses(indexed, file_hashes(assistant.settings.paths.corpus_dir))


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


def validation_message(errors: Iterable[Mapping[str, Any]]) -> str:
    """``field: problem`` pairs, e.g. ``k: Input should be less than or equal to 50``."""
    parts = []
    for error in errors:
        names_a_field = error.get("type") != "json_invalid"  # its loc is a character position, not a field
        location = ".".join(str(part) for part in error.get("loc", ())[1:]) if names_a_field else ""
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


class RateLimiter:
    """Token buckets per client: ``burst`` requests at once, then ``per_minute``; a per-minute rate of 0 turns it off."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when last updated)
        self._lock = threading.Lock()  # routes run in a threadpool

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may send a request; 0.0 means now, and the request is counted."""
        if not self.per_minute:
            return 0.0
        rate = self.per_minute / 60
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / rate
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_CLIENTS:
                refill = self.burst / rate  # a bucket idle this long is full again, the same as a forgotten one
                self._buckets = {key: value for key, value in self._buckets.items() if now - value[1] < refill}
            return 0.0


# -- the app ----------------------------------------------------------------------------------


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


def admin_guard(server: ServerSettings) -> Callable[..., None]:
    """A dependency that lets a request through only with the admin token, or on loopback when none is set."""
    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        header_token: Annotated[str | None, Depends(ADMIN_HEADER)],
    ) -> None:
        if server.admin_token is None:
            if not is_loopback(server.host):
                raise HTTPException(
                    403,
                    f"Admin routes are disabled: the server listens on {server.host} and no admin token is set. "
                    "Set ASSISTANT_SERVER__ADMIN_TOKEN and send it as 'Authorization: Bearer <token>'.",
                )
            return
        given = credentials.credentials if credentials else header_token
        if not token_matches(given, server.admin_token.get_secret_value()):
            raise HTTPException(
                401,
                "A valid admin token is required: send 'Authorization: Bearer <token>' or 'X-Admin-Token: <token>' "
                "with the value of ASSISTANT_SERVER__ADMIN_TOKEN.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_admin


def rate_limit(limiter: RateLimiter) -> Callable[[Request], None]:
    """A dependency that answers 429 with Retry-After once the calling address has used up its questions."""
    def limit(request: Request) -> None:
        wait = limiter.wait(request.client.host if request.client else "")
        if wait:
            seconds = math.ceil(wait)
            raise HTTPException(
                429,
                f"Too many questions from this address: the limit is {limiter.per_minute} a minute, in bursts of at "
                f"most {limiter.burst}. Try again in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )

    return limit


def upload_body_limit(limits: LimitSettings) -> int:
    """No upload request can usefully exceed what the corpus may hold, nor the largest batch of largest files."""
    return int(min(limits.max_corpus_mb, MAX_UPLOAD_FILES * limits.max_upload_mb) * MB) + FORM_OVERHEAD_BYTES


def read_upload(file: UploadFile, max_mb: float) -> bytes:
    """The file's bytes, refused by its size (known once the form is parsed) before it is read into memory."""
    check_size(safe_name(file.filename or ""), file.size or 0, max_mb)
    return file.file.read()


def create_app(assistant: Assistant) -> FastAPI:
    """The API for one shared ``Assistant``; mount the chat UI on it afterwards (its catch-all mount goes last)."""
    app = FastAPI(
        title="Report assistant API",
        description="Cited answers, in Chinese or English, about the documents in the corpus.",
        version="1",
    )
    metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router.routes)
    require_admin = admin_guard(assistant.settings.server)
    limits = assistant.settings.limits
    limited = Depends(rate_limit(RateLimiter(limits.rate_per_minute, limits.rate_burst)))

    @app.exception_handler(AssistantError)
    def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{key: error.get(key) for key in ("loc", "msg", "type")} for error in exc.errors()]
        return JSONResponse({"detail": validation_message(errors), "errors": errors}, status_code=422)

    @app.post(
        "/api/ask",
        response_model=None,
        responses={200: {"content": {EVENT_STREAM: {}}}},
        dependencies=[limited],
        max_body_size=MAX_JSON_BYTES,
    )
    def ask(body: AskRequest, stream: bool = False) -> JSONResponse | StreamingResponse:
        """The answer with citations, as in `assistant ask --json`; `?stream=true` sends server-sent events."""
        history = [(turn.question, turn.answer) for turn in body.history]
        if stream:
            return event_stream(assistant.ask_stream(body.question, body.k, history))
        return JSONResponse(assistant.ask(body.question, body.k, history).to_dict())

    @app.post("/api/retrieve", dependencies=[limited], max_body_size=MAX_JSON_BYTES)
    def retrieve(body: RetrieveRequest) -> list[dict[str, object]]:
        """The passages an answer would be drawn from, best first."""
        return [hit.to_dict() for hit in assistant.retrieve(body.question, body.k)]

    @app.get("/api/documents")
    def documents() -> list[dict[str, object]]:
        """Indexed and on-disk documents; status is indexed, changed on disk, missing on disk, error or not indexed."""
        return list_documents(assistant)

    @app.post(
        "/api/documents",
        dependencies=[Depends(require_admin)],
        max_body_size=upload_body_limit(limits),
        form_limits={"max_files": MAX_UPLOAD_FILES},
    )
    def upload(files: list[UploadFile]) -> JSONResponse:
        """Save documents into the corpus folder (a same-named one is replaced); admin only; POST /api/index indexes them.

        Each file is checked on its own: when any is refused the status is an error and ``saved`` lists the rest.
        """
        saved: list[str] = []
        rejected: list[BadUpload] = []
        for file in files:
            try:
                saved.append(add_document(assistant.settings, file.filename or "", read_upload(file, limits.max_upload_mb)))
            except BadUpload as exc:
                rejected.append(exc)
        if not rejected:
            return JSONResponse({"saved": saved, "rejected": []})
        messages = [str(exc) for exc in rejected]
        body = {"detail": " ".join(messages), "saved": saved, "rejected": messages}
        return JSONResponse(body, status_code=status_for(rejected[0]))

    @app.delete("/api/documents/{doc_id:path}", dependencies=[Depends(require_admin)])
    def delete(doc_id: str) -> dict[str, list[str]]:
        """Delete a document from the corpus folder; admin only; POST /api/index then drops it from the index."""
        remove_document(assistant.settings, doc_id)
        return {"removed": [doc_id]}

    @app.post("/api/index", dependencies=[Depends(require_admin)], max_body_size=MAX_JSON_BYTES)
    def index(body: IndexRequest | None = None) -> dict[str, object]:
        """Bring the index up to date (from scratch with rebuild); admin only; 409 while another run holds it."""
        return assistant.index(rebuild=body is not None and body.rebuild).to_dict()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 while questions can be answered, 503 (with the reason) when the index cannot be loaded."""
        model = {"embedding_model": assistant.embedder.identity}
        try:
            assistant.retriever()
            manifest = assistant.manifest()
        except AssistantError as exc:
            return JSONResponse({"status": "unavailable", "index_loaded": False, "detail": str(exc), **model}, 503)
        documents, chunks = index_size(manifest)
        return JSONResponse(
            {
                "status": "ok",
                "index_loaded": True,
                "documents": documents,
                "chunks": chunks,
                "built_at": manifest.built_at,
                "stale_reason": assistant.stale_reason(),
                **model,
            }
        )

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        try:
            metrics.set_index_size(*index_size(assistant.manifest()))
        except AssistantError:
            metrics.set_index_size(0, 0)
        return Response(metrics.render(), headers={"Content-Type": metrics.content_type})

    return app
