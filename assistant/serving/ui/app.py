"""The Gradio app: components first, events second; handlers only delegate (``handlers``); ``serve`` runs it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

import gradio as gr
import uvicorn
from fastapi import FastAPI

from assistant.indexing.store.manifest import SETTINGS_CHANGED
from assistant.service import Assistant
from assistant.serving.api.app import create_app
from assistant.serving.clientid import ClientCookie
from assistant.serving.guard import RequestGuard
from assistant.serving.conversations import ConversationStore
from assistant.serving.jobs import IndexJobs
from assistant.serving.progress import ConsoleProgress
from assistant.serving.saved import SavedChats
from assistant.serving.ui import conversations as saved
from assistant.serving.ui.render import escape_markdown
from assistant.serving.ui.text import LANGUAGE_COOKIE, LANGUAGE_NAMES, UiLanguage, interface_language, say
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

COLUMNS = ["document", "status", "language", "sections", "chunks", "pages", "versions", "indexed_at", "detail"]
SET_LANGUAGE_COOKIE = (  # the switch's choice outlives the page: the next visit opens in it
    f"(language, ...rest) => {{ document.cookie = '{LANGUAGE_COOKIE}=' + language + '; path=/; max-age=31536000;"
    " SameSite=Lax'; return [language, ...rest]; }"
)
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


B = TypeVar("B", bound=gr.blocks.Block)


class Wording:
    """The interface's words on its components: each is made with its English words, and ``update`` gives every
    one its words in another language (labels, button texts, placeholders, tab names, headings)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[gr.blocks.Block, dict[str, str]]] = []

    def __call__(self, kind: type[B], words: dict[str, str], **options: Any) -> B:
        """``kind(**options)`` with each property named in ``words`` set to that text of ``text.TEXT``."""
        block = kind(**{prop: say(key, "en") for prop, key in words.items()}, **options)
        self.blocks.append((block, words))
        return block

    @property
    def outputs(self) -> list[gr.blocks.Block]:
        return [block for block, _ in self.blocks]

    def update(self, language: UiLanguage) -> list[dict[str, Any]]:
        return [gr.update(**{prop: say(key, language) for prop, key in words.items()}) for _, words in self.blocks]


def build_app(assistant: Assistant, jobs: IndexJobs | None = None, chats: SavedChats | None = None) -> gr.Blocks:
    """The chat and the Documents tab; ``jobs`` runs the Re-index button's jobs and ``chats`` saves conversations
    (pass the API's, so both faces share them)."""
    jobs = jobs or IndexJobs.of(assistant)
    chats = chats or SavedChats(assistant, ConversationStore.from_settings(assistant.settings))
    questions = SessionQuestions()
    server = assistant.settings.server
    worded = Wording()
    with gr.Blocks(title=server.title or f"{say('app', 'en')} · {say('app', 'zh')}") as app:
        current = gr.State("")  # the open conversation's id ("" until the first question starts one)
        language = gr.State("en")  # the interface's: the browser's language, or the switch's choice
        with gr.Row():
            header = gr.Markdown(elem_id="header")
            switch = gr.Radio(LANGUAGE_NAMES, value="en", label=say("interface", "en"), elem_id="ui-language", scale=0, min_width=220)
        with worded(gr.Tab, {"label": "tab_chat"}, elem_id="chat-tab"):
            with gr.Row():
                with gr.Column(scale=1, min_width=180):
                    new_chat = worded(gr.Button, {"value": "new_chat"}, elem_id="new-chat")
                    listed = worded(gr.Radio, {"label": "conversations"}, choices=[], elem_id="conversations")
                    title = worded(gr.Textbox, {"label": "title"}, elem_id="title")
                    with gr.Row():
                        rename = worded(gr.Button, {"value": "rename"}, size="sm", elem_id="rename")
                        forget = worded(gr.Button, {"value": "delete"}, size="sm", variant="stop", elem_id="forget")
                    export = worded(gr.Button, {"value": "export"}, size="sm", elem_id="export")
                    exported = worded(gr.File, {"label": "exported"}, interactive=False, height=80, elem_id="exported")
                    rated = gr.Markdown(elem_id="rated")
                with gr.Column(scale=3):
                    chatbot = worded(gr.Chatbot, {"label": "chat"}, height=480, sanitize_html=True, elem_id="chat")
                    question = worded(gr.Textbox, {"label": "question", "placeholder": "placeholder"}, elem_id="question")
                    with gr.Row():
                        picked = worded(gr.Dropdown, {"label": "picker"}, multiselect=True, elem_id="picker", scale=3)
                        ask_button = worded(gr.Button, {"value": "ask"}, variant="primary", elem_id="ask", scale=1)
                    if server.examples:
                        gr.Examples(server.examples, inputs=question)
                with gr.Column(scale=2):
                    worded(gr.Markdown, {"value": "sources"})
                    sources = gr.HTML(say("no_sources", "en"), elem_id="sources")
        with worded(gr.Tab, {"label": "tab_documents"}, elem_id="documents-tab"):
            token = worded(gr.Textbox, {"label": "admin_token"}, type="password", elem_id="admin-token")
            documents = gr.Dataframe(headers=[say(f"col_{c}", "en") for c in COLUMNS], interactive=False, elem_id="documents")
            with gr.Row():
                upload = worded(gr.File, {"label": "upload"}, file_count="multiple", elem_id="upload")
                with gr.Column():
                    doomed = worded(gr.Dropdown, {"label": "delete_choice"}, elem_id="delete-choice")
                    delete = worded(gr.Button, {"value": "delete"}, variant="stop", elem_id="delete")
            document_status = worded(gr.Textbox, {"label": "document_status"}, interactive=False, elem_id="document-status")
            with gr.Row():
                reindex_button = worded(gr.Button, {"value": "reindex"}, variant="primary", elem_id="reindex")
                refresh = worded(gr.Button, {"value": "refresh"}, elem_id="refresh")
            index_status = worded(gr.Textbox, {"label": "index_status"}, interactive=False, lines=10, elem_id="index-status")
            with worded(gr.Accordion, {"label": "changes"}, open=False, elem_id="changes-view"):
                with gr.Row():
                    compared = worded(gr.Dropdown, {"label": "changes_document"}, elem_id="changes-document", scale=3)
                    old_version = worded(gr.Dropdown, {"label": "from_version"}, elem_id="changes-from", scale=1)
                    new_version = worded(gr.Dropdown, {"label": "to_version"}, elem_id="changes-to", scale=1)
                    compare = worded(gr.Button, {"value": "compare"}, elem_id="compare", scale=1)
                changes = gr.HTML(elem_id="changes")
        footer = gr.Markdown(elem_id="footer")

        def ask(
            message: str,
            chat: list[dict],
            documents: list[str] | None,
            conversation_id: str,
            shown_in: UiLanguage,
            request: gr.Request,
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

            answers = respond_in_turn(assistant, questions, session, message, chat, documents or (), conversation, shown_in)
            for update in answers:
                yield (*update, opened[0] if opened else gr.skip())

        def listing(conversation_id: str, request: gr.Request) -> gr.Radio:
            owner = saved.owner_of(request)
            listed = saved.choices(chats, owner, conversation_id) if owner else []
            return gr.Radio(choices=listed, value=conversation_id or None)

        def choose_language(request: gr.Request) -> tuple[object, ...]:
            """The page opens in the switch's last choice, else in the browser's language."""
            chosen = interface_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
            return (chosen, gr.update(value=chosen, label=say("interface", chosen)), *worded.update(chosen))

        def start(conversation_id: str, chat: list[dict] | None, shown_in: UiLanguage, request: gr.Request) -> tuple[object, ...]:
            """The page opens with the conversation last used; a load event that arrives after the first question
            (a slow page) leaves that question's conversation alone, even before its answer reached the page: the
            chat it read is then still empty, and replacing it would hide the answer's draft."""
            if conversation_id or chat or questions.busy(request.session_hash or ""):
                return gr.skip(), gr.skip(), gr.skip(), listing(conversation_id, request)
            conversation_id = saved.latest(chats, saved.owner_of(request))
            return (conversation_id, *reopen(conversation_id, shown_in, request)[:2], listing(conversation_id, request))

        def reopen(conversation_id: str | None, shown_in: UiLanguage, request: gr.Request) -> tuple[object, ...]:
            owner = saved.owner_of(request)
            return saved.opened(chats, owner, conversation_id, shown_in) if owner else ([], say("no_sources", shown_in), "")

        def switched(chosen: UiLanguage, conversation_id: str, request: gr.Request) -> tuple[object, ...]:
            """Every label in the chosen language, and the open conversation shown again in it."""
            relabelled = (gr.update(label=say("interface", chosen)), *worded.update(chosen))
            return (chosen, *relabelled, *reopen(conversation_id, chosen, request))

        def retitle(conversation_id: str, text: str, request: gr.Request) -> gr.Radio:
            owner = saved.owner_of(request)
            listed = saved.rename(chats, owner, conversation_id, text) if owner else []
            return gr.Radio(choices=listed, value=conversation_id or None)

        def drop(conversation_id: str, shown_in: UiLanguage, request: gr.Request) -> tuple[object, ...]:
            owner = saved.owner_of(request)
            listed = saved.delete(chats, owner, conversation_id) if owner else []
            return [], say("no_sources", shown_in), "", gr.Radio(choices=listed, value=None)

        def download(conversation_id: str, request: gr.Request) -> str | None:
            owner = saved.owner_of(request)
            return saved.export_file(chats, owner, conversation_id) if owner else None

        def like(conversation_id: str, chat: list[dict], shown_in: UiLanguage, data: gr.LikeData, request: gr.Request) -> str:
            owner = saved.owner_of(request)
            if owner is None:
                return say("rating_browser_only", shown_in)
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            return saved.rate(chats, owner, conversation_id, chat, int(index), bool(data.liked), shown_in)

        def save(paths: list[str] | None, given: str, shown_in: UiLanguage) -> tuple[str, None]:
            return upload_documents(assistant, paths, given, shown_in), None  # None empties the upload box

        def remove(doc_id: str | None, given: str, shown_in: UiLanguage) -> str:
            return delete_document(assistant, doc_id, given, shown_in)

        def run_index(given: str, shown_in: UiLanguage, progress: gr.Progress = gr.Progress()) -> Iterator[str]:
            yield from reindex(jobs, assistant.settings.server, given, progress, shown_in)

        def show(shown_in: UiLanguage) -> tuple[object, ...]:
            rows, deletable, footer_line = documents_view(assistant, shown_in)
            table = {"headers": [say(f"col_{c}", shown_in) for c in COLUMNS], "data": rows}
            indexed = [str(row[0]) for row in rows if row[2]]  # the ones with a language were indexed
            title = server.title or " · ".join(indexed) or say("app", shown_in)
            heading = say("heading", shown_in, escape_markdown(title))
            return table, gr.Dropdown(choices=deletable, value=None), footer_line, gr.Dropdown(choices=indexed), heading, gr.Dropdown(choices=indexed)

        def pick_versions(doc_id: str | None) -> tuple[gr.Dropdown, gr.Dropdown]:
            return version_choices(assistant, doc_id)

        def compare_versions(doc_id: str | None, old: int | None, new: int | None, shown_in: UiLanguage) -> str:
            return show_changes(assistant, doc_id, old, new, shown_in)

        view = [documents, doomed, footer, picked, header, compared]
        private: dict[str, Any] = {"api_visibility": "private"}
        # Admin writes share one slot, so an upload is saved before a re-index clicked after it;
        # chat events have slots of their own, so questions are answered while an index is built.
        admin: dict[str, Any] = {"concurrency_id": "documents", "concurrency_limit": 1, **private}
        # "multiple": a question asked while an answer is written reaches ``ask``, which queues it in the session
        chat_io: dict[str, Any] = {
            "inputs": [question, chatbot, picked, current, language], "outputs": [chatbot, sources, question, current],
            "trigger_mode": "multiple",
        }
        question.submit(ask, api_name="ask", **chat_io).then(listing, current, listed, **private)
        ask_button.click(ask, **chat_io, **private).then(listing, current, listed, **private)
        new_chat.click(
            lambda shown_in: ([], say("no_sources", shown_in), "", gr.Radio(value=None)), language, [chatbot, sources, current, listed], **private
        )
        listed.input(reopen, [listed, language], [chatbot, sources, current], **private)
        rename.click(retitle, [current, title], listed, **private)
        forget.click(drop, [current, language], [chatbot, sources, current, listed], **private)
        export.click(download, current, exported, **private)
        chatbot.like(like, [current, chatbot, language], rated, **private)
        upload.upload(save, [upload, token, language], [document_status, upload], **admin).then(show, language, view, **private)
        delete.click(remove, [doomed, token, language], document_status, **admin).then(show, language, view, **private)
        reindex_button.click(run_index, [token, language], index_status, **admin).then(show, language, view, **private)
        refresh.click(show, language, view, **private)
        compared.input(pick_versions, compared, [old_version, new_version], **private).then(
            compare_versions, [compared, old_version, new_version, language], changes, **private
        )
        compare.click(compare_versions, [compared, old_version, new_version, language], changes, **private)
        switch.input(
            switched, [switch, current], [language, switch, *worded.outputs, chatbot, sources, current], js=SET_LANGUAGE_COOKIE, **private
        ).then(show, language, view, **private)
        opening = app.load(choose_language, None, [language, switch, *worded.outputs], **private)
        opening.then(show, language, view, **private)
        opening.then(start, [current, chatbot, language], [current, chatbot, sources, listed], **private)
    return app


def web_app(assistant: Assistant) -> FastAPI:
    """The REST API with the chat mounted at "/": one process, so both share the models and the index."""
    jobs = IndexJobs.of(assistant)  # one runner: the API and the Re-index button start or join the same job
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
