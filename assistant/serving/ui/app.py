"""The Gradio app: components first, events second; handlers only delegate (``handlers``); ``serve`` runs it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.indexing.manifest import SETTINGS_CHANGED
from assistant.service import Assistant
from assistant.serving.api import create_app
from assistant.serving.guard import RequestGuard
from assistant.serving.jobs import IndexJobs
from assistant.serving.progress import ConsoleProgress
from assistant.serving.ui.render import escape_markdown
from assistant.serving.ui.handlers import (
    delete_document,
    documents_view,
    SessionQuestions,
    reindex,
    respond_in_turn,
    upload_documents,
)
from assistant.settings import Settings

DOCUMENT_HEADERS = ["document", "status", "language", "sections", "chunks", "pages", "indexed at", "detail"]
CSS = """
.source { border-left: 3px solid #d0d7de; padding: 4px 10px; margin: 8px 0; }
.source:target, .source.active { border-left-color: #f59e0b; background: #fffbeb; }
.source mark { background: #fde68a; }
.source .meta, .searched { font-size: 0.85em; color: #57606a; }
.verified { color: #1a7f37; }
.unverified { color: #9a6700; font-weight: 600; }
.legend { color: #57606a; }
.draft { color: #57606a; background: #f6f8fa; }
"""


def build_app(assistant: Assistant, jobs: IndexJobs | None = None) -> gr.Blocks:
    """The chat and the Documents tab; ``jobs`` runs the Re-index button's jobs (pass the API's to share them)."""
    jobs = jobs or IndexJobs(assistant.index)
    questions = SessionQuestions()
    server = assistant.settings.server
    with gr.Blocks(title=server.title or "Document assistant · 文档助手") as app:
        header = gr.Markdown(elem_id="header")
        with gr.Tab("Chat · 问答"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Chat", height=480, sanitize_html=True, elem_id="chat")
                    question = gr.Textbox(label="Question · 问题", placeholder="Ask in Chinese or English · 中英文提问", elem_id="question")
                    with gr.Row():
                        picked = gr.Dropdown(
                            label="Documents · 文档 (none picked: all)", multiselect=True, elem_id="picker", scale=3
                        )
                        ask_button = gr.Button("Ask · 提问", variant="primary", elem_id="ask", scale=1)
                    if server.examples:
                        gr.Examples(server.examples, inputs=question)
                with gr.Column(scale=2):
                    gr.Markdown("### Sources · 出处")
                    sources = gr.HTML("<p>Citations appear here.</p>", elem_id="sources")
        with gr.Tab("Documents"):
            token = gr.Textbox(label="Admin token", type="password", elem_id="admin-token")
            documents = gr.Dataframe(headers=DOCUMENT_HEADERS, interactive=False, elem_id="documents")
            with gr.Row():
                upload = gr.File(label="Upload documents", file_count="multiple", elem_id="upload")
                with gr.Column():
                    doomed = gr.Dropdown(label="Document to delete", elem_id="delete-choice")
                    delete = gr.Button("Delete", variant="stop", elem_id="delete")
            document_status = gr.Textbox(label="Documents", interactive=False, elem_id="document-status")
            with gr.Row():
                reindex_button = gr.Button("Re-index", variant="primary", elem_id="reindex")
                refresh = gr.Button("Refresh")
            index_status = gr.Textbox(label="Index", interactive=False, lines=10, elem_id="index-status")
        footer = gr.Markdown(elem_id="footer")

        def ask(
            message: str, chat: list[dict], documents: list[str] | None, request: gr.Request
        ) -> Iterator[tuple[object, object, object]]:
            session = request.session_hash or uuid.uuid4().hex  # a client without a session shares its turn with nobody
            yield from respond_in_turn(assistant, questions, session, message, chat, documents or ())

        def save(paths: list[str] | None, given: str) -> tuple[str, None]:
            return upload_documents(assistant, paths, given), None  # None empties the upload box

        def remove(doc_id: str | None, given: str) -> str:
            return delete_document(assistant, doc_id, given)

        def run_index(given: str, progress: gr.Progress = gr.Progress()) -> Iterator[str]:
            yield from reindex(jobs, assistant.settings.server, given, progress)

        def show() -> tuple[list[list[object]], gr.Dropdown, str, gr.Dropdown, str]:
            rows, deletable, footer_line = documents_view(assistant)
            indexed = [str(row[0]) for row in rows if row[2]]  # the ones with a language were indexed
            title = server.title or " · ".join(indexed) or "Document assistant · 文档助手"
            heading = f"## {escape_markdown(title)} — ask in Chinese or English · 中英文提问"
            return rows, gr.Dropdown(choices=deletable, value=None), footer_line, gr.Dropdown(choices=indexed), heading

        view = [documents, doomed, footer, picked, header]
        private: dict[str, Any] = {"api_visibility": "private"}
        # Admin writes share one slot, so an upload is saved before a re-index clicked after it;
        # chat events have slots of their own, so questions are answered while an index is built.
        admin: dict[str, Any] = {"concurrency_id": "documents", "concurrency_limit": 1, **private}
        # "multiple": a question asked while an answer is written reaches ``ask``, which queues it in the session
        chat_io: dict[str, Any] = {"inputs": [question, chatbot, picked], "outputs": [chatbot, sources, question], "trigger_mode": "multiple"}
        question.submit(ask, api_name="ask", **chat_io)
        ask_button.click(ask, **chat_io, **private)
        upload.upload(save, [upload, token], [document_status, upload], **admin).then(show, None, view, **private)
        delete.click(remove, [doomed, token], document_status, **admin).then(show, None, view, **private)
        reindex_button.click(run_index, token, index_status, **admin).then(show, None, view, **private)
        refresh.click(show, None, view, **private)
        app.load(show, None, view, **private)
    return app


def web_app(assistant: Assistant) -> FastAPI:
    """The REST API with the chat mounted at "/": one process, so both share the models and the index."""
    jobs = IndexJobs(assistant.index)  # one runner: the API and the Re-index button start or join the same job
    blocks = build_app(assistant, jobs).queue(default_concurrency_limit=4)
    server = assistant.settings.server
    app = gr.mount_gradio_app(
        create_app(assistant, jobs), blocks, path="/", server_name=server.host, server_port=server.port, show_error=False, css=CSS
    )
    # Gradio refuses event inputs that name files outside its upload folder only once an app "has launched";
    # ``mount_gradio_app`` never sets that, so without this any server file could be passed as an upload.
    blocks.has_launched = True
    app.add_middleware(RequestGuard, server=server)  # outermost: Host and Origin are checked before any route runs
    return app


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Build the index if it is missing or stale (with progress), then serve until interrupted."""
    server = settings.server.model_copy(update={"host": host or settings.server.host, "port": port or settings.server.port})
    settings = settings.model_copy(update={"server": server})  # admin checks must see the address actually bound
    assistant = Assistant(settings)
    reason = assistant.stale_reason()
    if reason:
        # After an upgrade that changes how text is cleaned or chunked the old index cannot be reused; serving
        # must not stop at the advice to rebuild, so it rebuilds (nothing is served before it is complete).
        rebuild = reason == SETTINGS_CHANGED
        print(f"{'Rebuilding' if rebuild else 'Building'} the index ({reason})…", file=sys.stderr)
        progress = ConsoleProgress()
        try:
            assistant.index(rebuild=rebuild, progress=progress)
        finally:
            progress.close()
    assistant.retriever()  # load models and index before the first user waits for them
    # One process: the models are loaded once, and FastAPI's threadpool answers requests in parallel.
    # X-Forwarded-For is believed only from configured proxies (uvicorn trusts 127.0.0.1 by default, which let any
    # local client pick the address the rate limit counts).
    proxies = server.trusted_proxies
    uvicorn.run(
        web_app(assistant),
        host=server.host,
        port=server.port,
        workers=1,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) or None,
    )
