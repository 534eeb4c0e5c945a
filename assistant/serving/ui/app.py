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
from assistant.serving.clientid import ClientCookie
from assistant.serving.guard import RequestGuard
from assistant.serving.conversations import ConversationStore
from assistant.serving.jobs import IndexJobs
from assistant.serving.progress import ConsoleProgress
from assistant.serving.saved import SavedChats
from assistant.serving.ui import conversations as saved
from assistant.serving.ui.render import escape_markdown
from assistant.serving.ui.handlers import (
    Saving,
    delete_document,
    documents_view,
    SessionQuestions,
    reindex,
    respond_in_turn,
    show_changes,
    upload_documents,
    version_choices,
)
from assistant.settings import Settings

DOCUMENT_HEADERS = ["document", "status", "language", "sections", "chunks", "pages", "versions", "indexed at", "detail"]
CSS = """
.source { border-left: 3px solid #d0d7de; padding: 4px 10px; margin: 8px 0; }
.source:target, .source.active { border-left-color: #f59e0b; background: #fffbeb; }
.source mark { background: #fde68a; }
.source .meta, .searched { font-size: 0.85em; color: #57606a; }
.verified { color: #1a7f37; }
.unverified { color: #9a6700; font-weight: 600; }
.legend { color: #57606a; }
.draft { color: #57606a; background: #f6f8fa; }
.source details.page img { max-width: 100%; border: 1px solid #d0d7de; margin-top: 4px; }
.changes td { vertical-align: top; width: 50%; }
.changes tr.removed td:first-child, .changes tr.changed td:first-child { background: #fff1f0; }
.changes tr.added td:last-child, .changes tr.changed td:last-child { background: #f0fff4; }
"""


def build_app(assistant: Assistant, jobs: IndexJobs | None = None, chats: SavedChats | None = None) -> gr.Blocks:
    """The chat and the Documents tab; ``jobs`` runs the Re-index button's jobs and ``chats`` saves conversations
    (pass the API's, so both faces share them)."""
    jobs = jobs or IndexJobs(assistant.index)
    chats = chats or SavedChats(assistant, ConversationStore.from_settings(assistant.settings))
    questions = SessionQuestions()
    server = assistant.settings.server
    with gr.Blocks(title=server.title or "Document assistant · 文档助手") as app:
        current = gr.State("")  # the open conversation's id ("" until the first question starts one)
        header = gr.Markdown(elem_id="header")
        with gr.Tab("Chat · 问答"):
            with gr.Row():
                with gr.Column(scale=1, min_width=180):
                    new_chat = gr.Button("New chat · 新对话", elem_id="new-chat")
                    listed = gr.Radio(label="Conversations · 对话", choices=[], elem_id="conversations")
                    title = gr.Textbox(label="Title · 标题", elem_id="title")
                    with gr.Row():
                        rename = gr.Button("Rename · 重命名", size="sm", elem_id="rename")
                        forget = gr.Button("Delete · 删除", size="sm", variant="stop", elem_id="forget")
                    export = gr.Button("Export Markdown · 导出", size="sm", elem_id="export")
                    exported = gr.File(label="Export · 导出", interactive=False, height=80, elem_id="exported")
                    rated = gr.Markdown(elem_id="rated")
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
            with gr.Accordion("Changes · 修订对比", open=False, elem_id="changes-view"):
                with gr.Row():
                    compared = gr.Dropdown(label="Document · 文档", elem_id="changes-document", scale=3)
                    old_version = gr.Dropdown(label="From version · 旧版本", elem_id="changes-from", scale=1)
                    new_version = gr.Dropdown(label="To version · 新版本", elem_id="changes-to", scale=1)
                    compare = gr.Button("Compare · 对比", elem_id="compare", scale=1)
                changes = gr.HTML(elem_id="changes")
        footer = gr.Markdown(elem_id="footer")

        def ask(
            message: str, chat: list[dict], documents: list[str] | None, conversation_id: str, request: gr.Request
        ) -> Iterator[tuple[object, ...]]:
            """A browser's questions are saved in its open conversation (a new one for its first question); a client
            without the browser cookie (gradio_client) is answered without saving."""
            session = request.session_hash or uuid.uuid4().hex  # a client without a session shares its turn with nobody
            owner = saved.owner_of(request)
            opened: list[str] = []

            def conversation() -> Saving | None:
                if owner is None:
                    return None
                opened.append(saved.start_if_new(chats, owner, conversation_id))
                return Saving(chats, owner, opened[0])

            for update in respond_in_turn(assistant, questions, session, message, chat, documents or (), conversation):
                yield (*update, opened[0] if opened else gr.skip())

        def listing(conversation_id: str, request: gr.Request) -> gr.Radio:
            owner = saved.owner_of(request)
            listed = saved.choices(chats, owner, conversation_id) if owner else []
            return gr.Radio(choices=listed, value=conversation_id or None)

        def start(conversation_id: str, chat: list[dict] | None, request: gr.Request) -> tuple[object, ...]:
            """The page opens with the conversation last used; a load event that arrives after the first question
            (a slow page) leaves that question's conversation alone."""
            if conversation_id or chat:
                return gr.skip(), gr.skip(), gr.skip(), listing(conversation_id, request)
            conversation_id = saved.latest(chats, saved.owner_of(request))
            return (conversation_id, *reopen(conversation_id, request)[:2], listing(conversation_id, request))

        def reopen(conversation_id: str | None, request: gr.Request) -> tuple[object, ...]:
            owner = saved.owner_of(request)
            return saved.opened(chats, owner, conversation_id) if owner else ([], saved.NO_SOURCES, "")

        def retitle(conversation_id: str, text: str, request: gr.Request) -> gr.Radio:
            owner = saved.owner_of(request)
            listed = saved.rename(chats, owner, conversation_id, text) if owner else []
            return gr.Radio(choices=listed, value=conversation_id or None)

        def drop(conversation_id: str, request: gr.Request) -> tuple[object, ...]:
            owner = saved.owner_of(request)
            listed = saved.delete(chats, owner, conversation_id) if owner else []
            return [], saved.NO_SOURCES, "", gr.Radio(choices=listed, value=None)

        def download(conversation_id: str, request: gr.Request) -> str | None:
            owner = saved.owner_of(request)
            return saved.export_file(chats, owner, conversation_id) if owner else None

        def like(conversation_id: str, chat: list[dict], data: gr.LikeData, request: gr.Request) -> str:
            owner = saved.owner_of(request)
            if owner is None:
                return "Ratings are kept for browser sessions only. · 仅保存浏览器会话中的评价。"
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            return saved.rate(chats, owner, conversation_id, chat, int(index), bool(data.liked))

        def save(paths: list[str] | None, given: str) -> tuple[str, None]:
            return upload_documents(assistant, paths, given), None  # None empties the upload box

        def remove(doc_id: str | None, given: str) -> str:
            return delete_document(assistant, doc_id, given)

        def run_index(given: str, progress: gr.Progress = gr.Progress()) -> Iterator[str]:
            yield from reindex(jobs, assistant.settings.server, given, progress)

        def show() -> tuple[list[list[object]], gr.Dropdown, str, gr.Dropdown, str, gr.Dropdown]:
            rows, deletable, footer_line = documents_view(assistant)
            indexed = [str(row[0]) for row in rows if row[2]]  # the ones with a language were indexed
            title = server.title or " · ".join(indexed) or "Document assistant · 文档助手"
            heading = f"## {escape_markdown(title)} — ask in Chinese or English · 中英文提问"
            return rows, gr.Dropdown(choices=deletable, value=None), footer_line, gr.Dropdown(choices=indexed), heading, gr.Dropdown(choices=indexed)

        def pick_versions(doc_id: str | None) -> tuple[gr.Dropdown, gr.Dropdown]:
            return version_choices(assistant, doc_id)

        def compare_versions(doc_id: str | None, old: int | None, new: int | None) -> str:
            return show_changes(assistant, doc_id, old, new)

        view = [documents, doomed, footer, picked, header, compared]
        private: dict[str, Any] = {"api_visibility": "private"}
        # Admin writes share one slot, so an upload is saved before a re-index clicked after it;
        # chat events have slots of their own, so questions are answered while an index is built.
        admin: dict[str, Any] = {"concurrency_id": "documents", "concurrency_limit": 1, **private}
        # "multiple": a question asked while an answer is written reaches ``ask``, which queues it in the session
        # "multiple": a question asked while an answer is written reaches ``ask``, which queues it in the session
        chat_io: dict[str, Any] = {
            "inputs": [question, chatbot, picked, current], "outputs": [chatbot, sources, question, current],
            "trigger_mode": "multiple",
        }
        question.submit(ask, api_name="ask", **chat_io).then(listing, current, listed, **private)
        ask_button.click(ask, **chat_io, **private).then(listing, current, listed, **private)
        new_chat.click(lambda: ([], saved.NO_SOURCES, "", gr.Radio(value=None)), None, [chatbot, sources, current, listed], **private)
        listed.input(reopen, listed, [chatbot, sources, current], **private)
        rename.click(retitle, [current, title], listed, **private)
        forget.click(drop, current, [chatbot, sources, current, listed], **private)
        export.click(download, current, exported, **private)
        chatbot.like(like, [current, chatbot], rated, **private)
        upload.upload(save, [upload, token], [document_status, upload], **admin).then(show, None, view, **private)
        delete.click(remove, [doomed, token], document_status, **admin).then(show, None, view, **private)
        reindex_button.click(run_index, token, index_status, **admin).then(show, None, view, **private)
        refresh.click(show, None, view, **private)
        compared.input(pick_versions, compared, [old_version, new_version], **private).then(
            compare_versions, [compared, old_version, new_version], changes, **private
        )
        compare.click(compare_versions, [compared, old_version, new_version], changes, **private)
        app.load(show, None, view, **private)
        app.load(start, [current, chatbot], [current, chatbot, sources, listed], **private)
    return app


def web_app(assistant: Assistant) -> FastAPI:
    """The REST API with the chat mounted at "/": one process, so both share the models and the index."""
    jobs = IndexJobs(assistant.index)  # one runner: the API and the Re-index button start or join the same job
    chats = SavedChats(assistant, ConversationStore.from_settings(assistant.settings))  # one store, one lock per conversation
    blocks = build_app(assistant, jobs, chats).queue(default_concurrency_limit=4)
    server = assistant.settings.server
    app = gr.mount_gradio_app(
        create_app(assistant, jobs, chats), blocks, path="/", server_name=server.host, server_port=server.port, show_error=False, css=CSS
    )
    # Gradio refuses event inputs that name files outside its upload folder only once an app "has launched";
    # ``mount_gradio_app`` never sets that, so without this any server file could be passed as an upload.
    blocks.has_launched = True
    app.add_middleware(ClientCookie)  # every browser gets its id before its first chat event
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
