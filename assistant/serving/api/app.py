"""REST API over ``Assistant``: answers (JSON or server-sent events), passages, documents, health, metrics, indexing.

Routes are plain ``def`` functions, so FastAPI runs their blocking work in its
threadpool and the event loop stays free; the one ``Assistant`` (models loaded
once, thread-safe) is shared by every request. Like the CLI and UI, this is an
edge that turns ``AssistantError`` into a message the caller can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from assistant.errors import AdminRequired, AssistantError, BadQuestion
from assistant.ingest.documents import (
    MB,
    check_size,
    document_file,
    remove_document,
    safe_name,
    save_uploads,
)
from assistant.service import Assistant, final_answer
from assistant.serving.admin import check_admin
from assistant.serving.api.errors import status_for, validation_message
from assistant.serving.api.ratelimit import RateLimiter, rate_limit
from assistant.serving.api.responses import (
    AnswerOut,
    DocumentOut,
    IndexJobOut,
    PassageOut,
)
from assistant.serving.api.schemas import (
    MAX_JSON_BYTES,
    AskRequest,
    ConversationRequest,
    IndexRequest,
    RatingRequest,
    ResolveRequest,
    RetrieveRequest,
)
from assistant.serving.api.sse import EVENT_STREAM, event_stream
from assistant.serving.conversations import CLIENT_HEADER, ConversationStore, client_id
from assistant.serving.export import conversation_markdown
from assistant.serving.jobs import IndexJobs
from assistant.serving.saved import SavedChats
from assistant.serving.metrics import ApiMetrics, MetricsMiddleware
from assistant.serving.pages import MAX_QUOTE_CHARS, page_png
from assistant.serving.status import index_bytes, index_size, list_documents
from assistant.settings import LimitSettings, ServerSettings
from assistant.types import Answer, AnswerMode, Citation

log = logging.getLogger(__name__)

MAX_UPLOAD_FILES = 20
FORM_OVERHEAD_BYTES = MB  # multipart headers and boundaries around the files
BEARER = HTTPBearer(auto_error=False, description="The value of ASSISTANT_SERVER__ADMIN_TOKEN.")
ADMIN_HEADER = APIKeyHeader(name="X-Admin-Token", auto_error=False, description="Alternative to the bearer token.")
API_TOKEN_ADVICE = "send 'Authorization: Bearer <token>' or 'X-Admin-Token: <token>'"


def denial_headers(exc: AdminRequired) -> dict[str, str]:
    """A missing or wrong token (401) tells the client which scheme to use; a disabled route (403) has none."""
    return {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}


def admin_guard(server: ServerSettings) -> Callable[..., None]:
    """A dependency that lets a request through only with the admin token, or on loopback when none is set."""
    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        header_token: Annotated[str | None, Depends(ADMIN_HEADER)],
    ) -> None:
        try:
            check_admin(server, credentials.credentials if credentials else header_token, how=API_TOKEN_ADVICE)
        except AdminRequired as exc:
            raise HTTPException(exc.status, str(exc), headers=denial_headers(exc) or None) from exc

    return require_admin


def json_only(request: Request) -> None:
    """A body must be declared JSON: a cross-site form can send text/plain or form data without a preflight, not JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if (media or has_body) and media != "application/json":
        raise HTTPException(
            415, f"Send the body as JSON with 'Content-Type: application/json' (got {media or 'none'}), or send no body."
        )


def upload_body_limit(limits: LimitSettings) -> int:
    """No upload request can usefully exceed what the corpus may hold, nor the largest batch of largest files."""
    return int(min(limits.max_corpus_mb, MAX_UPLOAD_FILES * limits.max_upload_mb) * MB) + FORM_OVERHEAD_BYTES


def read_upload(file: UploadFile, max_mb: float) -> bytes:
    """The file's bytes, refused by its size (known once the form is parsed) before it is read into memory."""
    check_size(safe_name(file.filename or ""), file.size or 0, max_mb)
    return file.file.read()


def owner(client: Annotated[str | None, Header(alias=CLIENT_HEADER, description="The client's own random id.")] = None) -> str:
    """Whose conversations a request may see: the id the client keeps and sends with each request."""
    return client_id(client)


Owner = Annotated[str, Depends(owner)]


def create_app(assistant: Assistant, jobs: IndexJobs | None = None, chats: SavedChats | None = None) -> FastAPI:
    """The API for one shared ``Assistant``; mount the chat UI on it afterwards (its catch-all mount goes last).

    ``jobs`` runs index jobs and ``chats`` saves conversations; pass the chat's, so both faces share them.
    """
    jobs = jobs or IndexJobs.of(assistant)
    chats = chats or SavedChats(assistant, ConversationStore.from_settings(assistant.settings))
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

    @app.middleware("http")
    async def admin_before_upload_body(request: Request, call_next: Callable) -> Response:
        """Refuse an upload without the token from its headers alone: its body (up to ~200 MB) is never read."""
        if request.method == "POST" and request.url.path == "/api/documents":
            bearer = request.headers.get("authorization", "")
            token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else request.headers.get("x-admin-token")
            try:
                check_admin(assistant.settings.server, token, how=API_TOKEN_ADVICE)
            except AdminRequired as exc:
                headers = {**denial_headers(exc), "Connection": "close"}  # the unread body must not be taken for a request
                return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)
        return await call_next(request)

    @app.exception_handler(AssistantError)
    def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{key: error.get(key) for key in ("loc", "msg", "type")} for error in exc.errors()]
        return JSONResponse({"detail": validation_message(errors), "errors": errors}, status_code=422)

    @app.post(
        "/api/ask",
        response_model=AnswerOut,
        responses={200: {"content": {EVENT_STREAM: {"schema": {"description": "token, notice and answer events"}}}}},
        dependencies=[limited],
        max_body_size=MAX_JSON_BYTES,
    )
    def ask(
        body: AskRequest, stream: bool = False, client: Annotated[str | None, Header(alias=CLIENT_HEADER)] = None
    ) -> AnswerOut | StreamingResponse:
        """The answer with citations, as in `assistant ask --json`; `?stream=true` sends server-sent events.
        With `conversation_id` (and the X-Client-Id that created it) the answer is saved in that conversation."""
        if body.conversation_id is not None:
            if body.history:
                raise BadQuestion("Send either history or conversation_id: a saved conversation is its own history.")
            chats.open(client_id(client), body.conversation_id)  # 404 or 413 now, not inside a started stream
            events = chats.ask_stream(client_id(client), body.conversation_id, body.question, body.k, body.documents)
        else:
            history = [(turn.question, turn.answer) for turn in body.history]
            events = assistant.ask_stream(body.question, body.k, history, body.documents)
        if stream:
            return event_stream(events)
        return AnswerOut.model_validate(final_answer(events).to_dict())

    @app.post("/api/citations/resolve", dependencies=[limited], max_body_size=MAX_JSON_BYTES)
    def resolve_citations(body: ResolveRequest) -> dict[str, object]:
        """Citations an answer gave earlier, read against the documents as they are now: one whose quote the
        current version still holds comes back with version null; one whose passage a later version changed or
        removed keeps its version, and `notice` says which version did what and when."""
        given = tuple(Citation.from_dict(c.model_dump()) for c in body.citations)
        now = assistant.as_of_now(Answer("", body.language, "", True, AnswerMode.EXTRACTIVE, given))
        return {"citations": [c.to_dict() for c in now.citations], "notice": now.notice}

    @app.get("/api/conversations")
    def conversations(owner: Owner) -> list[dict[str, object]]:
        """This client's saved conversations, the most recently used first."""
        return [c.to_dict() for c in chats.store.list(owner)]

    @app.post("/api/conversations", status_code=201, dependencies=[Depends(json_only)])
    def new_conversation(owner: Owner, body: ConversationRequest | None = None) -> dict[str, object]:
        """Start a conversation; ask in it with `conversation_id` on POST /api/ask."""
        return chats.store.create(owner, body.title if body else "").to_dict()

    @app.get("/api/conversations/{conversation_id}")
    def conversation(
        conversation_id: str,
        owner: Owner,
        now: bool = Query(False, description="Read each answer against the documents as they are now: a citation whose"
                          " passage a later version changed or removed keeps its version and the answer's notice says so."),
    ) -> dict[str, object]:
        """A conversation with every question and its saved answer (citations carry their document version)."""
        saved = chats.store.get(owner, conversation_id)
        return (chats.reread(saved) if now else saved).to_dict(with_turns=True)

    @app.patch("/api/conversations/{conversation_id}", dependencies=[Depends(json_only)])
    def rename_conversation(conversation_id: str, body: ConversationRequest, owner: Owner) -> dict[str, object]:
        return chats.store.rename(owner, conversation_id, body.title).to_dict()

    @app.delete("/api/conversations/{conversation_id}", status_code=204)
    def delete_conversation(conversation_id: str, owner: Owner) -> Response:
        chats.store.delete(owner, conversation_id)
        return Response(status_code=204)

    @app.get("/api/conversations/{conversation_id}/export")
    def export_conversation(
        conversation_id: str, owner: Owner, format: str = Query("md", pattern="^(md|json)$", description="md or json")
    ) -> Response:
        """The conversation as a Markdown document (every citation's quote verbatim) or as JSON, to download."""
        saved = chats.store.get(owner, conversation_id)
        disposition = {"Content-Disposition": f'attachment; filename="conversation-{saved.id}.{format}"'}
        if format == "json":
            return JSONResponse(saved.to_dict(with_turns=True), headers=disposition)
        return PlainTextResponse(conversation_markdown(saved), media_type="text/markdown; charset=utf-8", headers=disposition)

    @app.put("/api/conversations/{conversation_id}/turns/{n}/rating", status_code=204, dependencies=[Depends(json_only)])
    def rate(conversation_id: str, n: int, body: RatingRequest, owner: Owner) -> Response:
        """Rate answer n of the conversation (1 = the first); `assistant feedback export` turns ratings into dev-set rows."""
        chats.rate(owner, conversation_id, n, body.up, body.comment)
        return Response(status_code=204)

    @app.post("/api/retrieve", response_model=list[PassageOut], dependencies=[limited], max_body_size=MAX_JSON_BYTES)
    def retrieve(body: RetrieveRequest) -> list[dict[str, object]]:
        """The passages an answer would be drawn from, best first."""
        return [hit.to_dict() for hit in assistant.retrieve(body.question, body.k, body.documents)]

    @app.get("/api/documents", response_model=list[DocumentOut], response_model_exclude_none=True)
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
        uploads = [(file.filename or "", lambda file=file: read_upload(file, limits.max_upload_mb)) for file in files]
        saved, rejected = save_uploads(assistant.settings, uploads)
        if not rejected:
            return JSONResponse({"saved": saved, "rejected": []})
        messages = [str(exc) for exc in rejected]
        body = {"detail": " ".join(messages), "saved": saved, "rejected": messages}
        return JSONResponse(body, status_code=status_for(rejected[0]))

    @app.get("/api/documents/{doc_id:path}/changes")
    def changes(
        doc_id: str,
        old: int | None = Query(None, alias="from", ge=1, description="Earlier version (default: the one before `to`)."),
        new: int | None = Query(None, alias="to", ge=1, description="Later version (default: the latest)."),
    ) -> dict[str, object]:
        """What changed between two indexed versions of a document: added, removed and changed sentences or table
        rows, with the changed figures; 404 names the versions kept."""
        return assistant.changes(doc_id, old, new).to_dict()

    @app.get("/api/documents/{doc_id:path}/pages/{page}.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
    def page_image(doc_id: str, page: int, quote: str = Query("", max_length=MAX_QUOTE_CHARS)) -> Response:
        """A PDF page rendered as PNG, with `quote` (a citation's) highlighted at its position on the page."""
        png = page_png(document_file(assistant.settings, doc_id), page, quote)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.get("/api/documents/{doc_id:path}/versions")
    def versions(doc_id: str) -> dict[str, object]:
        """The versions kept of a document, oldest first."""
        found, history = assistant.versions(doc_id)
        return {"doc_id": found, "versions": [v.to_dict() for v in history]}

    @app.delete("/api/documents/{doc_id:path}", dependencies=[Depends(require_admin)])
    def delete(doc_id: str) -> dict[str, list[str]]:
        """Delete a document from the corpus folder; admin only; POST /api/index then drops it from the index."""
        remove_document(assistant.settings, doc_id)
        return {"removed": [doc_id]}

    @app.post(
        "/api/index",
        response_model=IndexJobOut,
        status_code=202,
        responses={200: {"model": IndexJobOut, "description": "An indexing job was already running: that job."}},
        dependencies=[Depends(require_admin), Depends(json_only)],
        max_body_size=MAX_JSON_BYTES,
    )
    def index(response: Response, body: IndexRequest | None = None) -> dict[str, object]:
        """Start bringing the index up to date (from scratch with rebuild) in the background; admin only.

        202 with the new job, or 200 with the running one (whatever its rebuild flag); poll the Location header.
        """
        job, started = jobs.start(rebuild=body is not None and body.rebuild)
        response.status_code = 202 if started else 200
        response.headers["Location"] = f"/api/index/{job.id}"
        return job.to_dict()

    @app.get("/api/index/{job_id}", response_model=IndexJobOut, dependencies=[Depends(require_admin)])
    def index_job(job_id: str) -> dict[str, object]:
        """An indexing job's state, stage and progress; when done the `index --json` summary, or why it failed."""
        return jobs.get(job_id).to_dict()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 while questions can be answered, 503 (with the reason) when the index cannot be loaded."""
        llm = assistant.settings.llm
        model = {"embedding_model": assistant.embedder.identity, "answerer": llm.resolved(), "answers": llm.describe()}
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
                "index_bytes": index_bytes(assistant),
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
        metrics.engine.set(assistant.engine_queue.waiting())
        metrics.stopped.set(assistant.engine_queue.stopped)
        return Response(metrics.render(), headers={"Content-Type": metrics.content_type})

    return app
