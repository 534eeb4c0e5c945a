"""Gradio web chat and document admin: components first, events second; handlers only delegate to ``Assistant``.

Document and model text is untrusted: every quote, chunk and generated sentence is
HTML-escaped (sources panel) or markdown-escaped (chat) before it is shown, so the
only raw ``<`` in a chat message is markup this module wrote.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI

from .api import create_app, index_size, is_loopback, list_documents, token_matches
from .documents import add_document, remove_document
from .errors import AdminRequired, AssistantError, BadUpload
from .progress import ConsoleProgress
from .service import Assistant
from .settings import ServerSettings, Settings
from .types import Answer, Citation, Turn

EXAMPLES = [
    "微软对OpenAI的投资金额是多少？",
    "企业买家在选择生成式AI供应商时经常采用哪些标准？",
    "How much more can a generative AI query cost than a conventional index query?",
    "Which industries does the report expect to be more cautious in adopting generative AI?",
]
MAX_TURNS = 3  # follow-ups lean on the last turn or two; older turns only cost prompt time
MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]()#+!|~>])")
MARKDOWN_ESCAPED_RE = re.compile(r"\\([\\`*_{}\[\]()#+!|~>])")
MARKER_RE = re.compile(r"\[(\d+)\]")
CITE_LINK_RE = re.compile(r"\[\\\[(\d+)\\\]\]\(#cite-\d+\)")
NOTICE_HTML = '<em class="notice">ⓘ {}</em>'
UNVERIFIED_HTML = '<span class="unverified"> ⚠ unverified ({}) </span>'
LEGEND_HTML = (
    '<small class="legend">⚠ unverified: no cited passage clearly supports that sentence, or a figure in it is not in'
    " the source. Check it against the sources. · 未经核实：请对照出处。</small>"
)
DECORATION_RE = re.compile(r'<(em|span|small) class="(?:notice|unverified|legend)">.*?</\1>', re.DOTALL)
CHECKING_SOURCES = "<p>Checking the sources… · 正在核对出处…</p>"
DOCUMENT_HEADERS = ["document", "status", "chunks", "pages", "indexed at", "detail"]
CSS = """
.source { border-left: 3px solid #d0d7de; padding: 4px 10px; margin: 8px 0; }
.source:target, .source.active { border-left-color: #f59e0b; background: #fffbeb; }
.source mark { background: #fde68a; }
.source .meta, .searched { font-size: 0.85em; color: #57606a; }
.verified { color: #1a7f37; }
.unverified { color: #9a6700; font-weight: 600; }
.legend { color: #57606a; }
"""

ProgressBar = Callable[..., object]
"""``gr.Progress`` or anything called like it: ``progress((done, total), desc=stage)``."""


# -- rendering (pure) -----------------------------------------------------------------------


def escape_markdown(text: str) -> str:
    """Shows document text literally in the chat: no HTML, no links, no emphasis."""
    return MARKDOWN_SPECIAL_RE.sub(r"\\\1", html.escape(text, quote=False))


def cite_link(n: int) -> str:
    return f"[\\[{n}\\]](#cite-{n})"


def link_markers(text: str, numbers: set[int]) -> str:
    """Escaped text whose ``[n]`` markers of existing citations link to their passages; other brackets stay text."""
    parts: list[str] = []
    cursor = 0
    for match in MARKER_RE.finditer(text):
        if int(match.group(1)) in numbers:
            parts += [escape_markdown(text[cursor : match.start()]), cite_link(int(match.group(1)))]
            cursor = match.end()
    parts.append(escape_markdown(text[cursor:]))
    return "".join(parts)


def render_generated(answer: Answer) -> str:
    """The verified text with linked markers; each sentence whose check failed carries a visible mark."""
    numbers = {c.n for c in answer.citations}
    parts: list[str] = []
    cursor = 0
    for check in answer.checks:
        at = answer.text.find(check.text, cursor)
        if at < 0:  # not where verification put it: its text still appears, unmarked, in the next gap
            continue
        mark = "" if check.verified else UNVERIFIED_HTML.format(html.escape(str(check.reason)))
        parts += [link_markers(answer.text[cursor:at], numbers), link_markers(check.text, numbers) + mark]
        cursor = at + len(check.text)
    parts.append(link_markers(answer.text[cursor:], numbers))
    return "".join(parts)


def render_answer(answer: Answer) -> str:
    """The final chat message: notice, then the refusal, the checked generated text, or the lead line and quotes."""
    parts = [NOTICE_HTML.format(escape_markdown(answer.notice))] if answer.notice else []
    if not answer.answerable:
        parts.append(escape_markdown(answer.text))
    elif answer.checks:
        parts.append(render_generated(answer))
        if not all(check.verified for check in answer.checks):
            parts.append(LEGEND_HTML)
    else:
        parts.append(escape_markdown(answer.text.split("\n", 1)[0]))
        parts += [f"“{escape_markdown(c.quote)}” {cite_link(c.n)}" for c in answer.citations]
    return "\n\n".join(parts)


def render_streaming(notices: Sequence[str], text: str) -> str:
    """The message while text arrives: raw model output, escaped; markers become links only once checked."""
    return "\n\n".join([*(NOTICE_HTML.format(escape_markdown(n)) for n in notices), escape_markdown(text) or "…"])


def render_citation(c: Citation, chunk_text: str, chunk_start: int, verdict: bool | None = None) -> str:
    """A passage with its quote highlighted; ``verdict`` (generated answers only) adds the verification mark."""
    a, b = c.start - chunk_start, c.end - chunk_start
    if 0 <= a < b <= len(chunk_text) and chunk_text[a:b] == c.quote:
        body = f"{html.escape(chunk_text[:a])}<mark>{html.escape(c.quote)}</mark>{html.escape(chunk_text[b:])}"
    else:
        body = f"<mark>{html.escape(c.quote)}</mark>"
    meta = " · ".join(html.escape(part) for part in (f"[{c.n}] {c.source}", c.section, f"p. {c.page}") if part)
    if verdict is not None:
        meta += ' · <span class="verified">✓ verified</span>' if verdict else ' · <span class="unverified">⚠ unverified</span>'
    return f'<div class="source" id="cite-{c.n}"><div class="meta">{meta}</div><div>{body.replace(chr(10), "<br>")}</div></div>'


def render_sources(answer: Answer) -> str:
    """Cited passages; the standalone query is shown when a follow-up was rewritten before retrieval."""
    chunks = {h.chunk.id: h.chunk for h in answer.retrieved}
    parts = []
    if answer.query and answer.query != answer.question:
        parts.append(f'<div class="searched">Searched for · 检索: {html.escape(answer.query)}</div>')
    if not answer.citations:
        parts.append("<p>No passage cited.</p>")
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        verdict = c.verified if answer.checks else None
        parts.append(render_citation(c, chunk.text if chunk else c.quote, chunk.start if chunk else c.start, verdict))
    return "".join(parts)


def plain_text(markdown: str) -> str:
    """Undo this module's rendering of an answer: the text the model or reader saw, markers as ``[n]``."""
    text = CITE_LINK_RE.sub(r"[\1]", DECORATION_RE.sub("", markdown))
    return html.unescape(MARKDOWN_ESCAPED_RE.sub(r"\1", text)).strip()


def message_text(content: object) -> str:
    """A chat message's text, whether Gradio sends a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


def turns_from_messages(messages: Sequence[Mapping[str, object]]) -> list[Turn]:
    """The last ``MAX_TURNS`` (question, answer) pairs of the chat, oldest first, answers as plain text."""
    turns: list[Turn] = []
    question: str | None = None
    for message in messages:
        if message.get("role") == "user":
            question = message_text(message.get("content"))
        elif message.get("role") == "assistant" and question is not None:
            turns.append((question, plain_text(message_text(message.get("content")))))
            question = None
    return turns[-MAX_TURNS:]


def _when(timestamp: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(timestamp))) if isinstance(timestamp, (int, float)) else ""


def document_row(status: Mapping[str, object]) -> list[object]:
    return [
        status["doc_id"],
        status["status"],
        status.get("chunks", ""),
        status.get("pages", ""),
        _when(status.get("indexed_at")),
        status.get("error", ""),
    ]


# -- handlers (called by Gradio events; plain functions so tests can call them) ---------------


def respond(assistant: Assistant, message: str, chat: Sequence[Mapping[str, object]] | None) -> Iterator[tuple[list[dict], str, str]]:
    """Stream one answer into the chat: notices and raw text as they arrive, then the checked answer and its sources."""
    asked = [*map(dict, chat or []), {"role": "user", "content": message}]
    history = turns_from_messages(chat or [])
    notices: list[str] = []
    text = ""
    try:
        for event in assistant.ask_stream(message, history=history):
            if event.kind == "answer" and event.answer is not None:
                reply, sources = render_answer(event.answer), render_sources(event.answer)
            else:
                if event.kind == "notice":
                    notices.append(event.text)
                else:
                    text += event.text
                reply, sources = render_streaming(notices, text), CHECKING_SOURCES
            yield [*asked, {"role": "assistant", "content": reply}], sources, ""
    except AssistantError as exc:
        raise gr.Error(str(exc)) from exc


def require_admin(server: ServerSettings, token: str | None) -> None:
    """The API's rule: with a token configured it must match; without one only a loopback server allows admin work."""
    if server.admin_token is None:
        if not is_loopback(server.host):
            raise AdminRequired(
                f"Document changes are disabled: the server listens on {server.host} and no admin token is set. "
                "Set ASSISTANT_SERVER__ADMIN_TOKEN, restart the server and enter the token under Admin token."
            )
        return
    if not token_matches(token, server.admin_token.get_secret_value()):
        raise AdminRequired("Enter the admin token (the value of ASSISTANT_SERVER__ADMIN_TOKEN) in the Admin token box.")


def upload_documents(assistant: Assistant, paths: Sequence[str] | None, token: str | None) -> str:
    """Save uploaded files into the corpus (admin only); they become searchable at the next re-index."""
    try:
        require_admin(assistant.settings.server, token)
    except AdminRequired as exc:
        return str(exc)
    saved: list[str] = []
    problems: list[str] = []
    for path in paths or []:
        try:
            saved.append(add_document(assistant.settings, Path(path).name, Path(path).read_bytes()))
        except (BadUpload, OSError) as exc:
            problems.append(str(exc))
    lines = [f"Saved {', '.join(saved)}. Click Re-index to make them searchable."] if saved else []
    return "\n".join(lines + problems) or "Choose one or more files to upload."


def delete_document(assistant: Assistant, doc_id: str | None, token: str | None) -> str:
    """Remove a file from the corpus (admin only); it leaves the index at the next re-index."""
    try:
        require_admin(assistant.settings.server, token)
        if not doc_id:
            return "Choose a document to delete."
        remove_document(assistant.settings, doc_id)
    except AssistantError as exc:
        return str(exc)
    return f"Deleted {doc_id}. Click Re-index to remove it from the index."


def reindex(assistant: Assistant, token: str | None, progress: ProgressBar) -> str:
    """Bring the index up to date (admin only), reporting each stage; the summary is ``assistant index --json``'s."""
    try:
        require_admin(assistant.settings.server, token)
        report = assistant.index(progress=lambda stage, done, total: progress((done, total), desc=stage))
    except AssistantError as exc:
        return str(exc)
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def footer_text(assistant: Assistant) -> str:
    """Which models answer and what the index holds, so a reader knows what produced an answer."""
    try:
        manifest = assistant.manifest()
        documents, chunks = index_size(manifest)
        index = f"built {_when(manifest.built_at)}, {documents} documents, {chunks} chunks"
    except AssistantError as exc:
        index = str(exc)
    return (
        f"Answers: {escape_markdown(assistant.settings.llm.describe())} · "
        f"Embeddings: {escape_markdown(assistant.embedder.identity)} · Index: {escape_markdown(index)}"
    )


def documents_view(assistant: Assistant) -> tuple[list[list[object]], list[str], str]:
    """Table rows, the deletable documents (those on disk) and the footer, after anything changed them."""
    try:
        statuses = list_documents(assistant)
    except AssistantError:  # the footer says why the index cannot be read; the table then lists nothing
        statuses = []
    on_disk = [str(s["doc_id"]) for s in statuses if s["status"] != "missing on disk"]
    return [document_row(s) for s in statuses], on_disk, footer_text(assistant)


# -- the app --------------------------------------------------------------------------------


def build_app(assistant: Assistant) -> gr.Blocks:
    with gr.Blocks(title="Report assistant · 报告助手") as app:
        gr.Markdown("## 生成式AI对企业的影响和意义 — ask in Chinese or English · 中英文提问")
        with gr.Tab("Chat · 问答"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Chat", height=480, sanitize_html=True, elem_id="chat")
                    question = gr.Textbox(label="Question · 问题", placeholder="例如：微软对OpenAI的投资金额是多少？", elem_id="question")
                    ask_button = gr.Button("Ask · 提问", variant="primary", elem_id="ask")
                    gr.Examples(EXAMPLES, inputs=question)
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

        def ask(message: str, chat: list[dict]) -> Iterator[tuple[list[dict], str, str]]:
            yield from respond(assistant, message, chat)

        def save(paths: list[str] | None, given: str) -> tuple[str, None]:
            return upload_documents(assistant, paths, given), None  # None empties the upload box

        def remove(doc_id: str | None, given: str) -> str:
            return delete_document(assistant, doc_id, given)

        def run_index(given: str, progress: gr.Progress = gr.Progress()) -> str:
            return reindex(assistant, given, progress)

        def show() -> tuple[list[list[object]], gr.Dropdown, str]:
            rows, deletable, footer_line = documents_view(assistant)
            return rows, gr.Dropdown(choices=deletable, value=None), footer_line

        view = [documents, doomed, footer]
        private: dict[str, Any] = {"api_visibility": "private"}
        # Admin writes share one slot, so an upload is saved before a re-index clicked after it;
        # chat events have slots of their own, so questions are answered while an index is built.
        admin: dict[str, Any] = {"concurrency_id": "documents", "concurrency_limit": 1, **private}
        question.submit(ask, [question, chatbot], [chatbot, sources, question], api_name="ask")
        ask_button.click(ask, [question, chatbot], [chatbot, sources, question], **private)
        upload.upload(save, [upload, token], [document_status, upload], **admin).then(show, None, view, **private)
        delete.click(remove, [doomed, token], document_status, **admin).then(show, None, view, **private)
        reindex_button.click(run_index, token, index_status, **admin).then(show, None, view, **private)
        refresh.click(show, None, view, **private)
        app.load(show, None, view, **private)
    return app


def web_app(assistant: Assistant) -> FastAPI:
    """The REST API with the chat mounted at "/": one process, so both share the models and the index."""
    blocks = build_app(assistant).queue(default_concurrency_limit=4)
    server = assistant.settings.server
    return gr.mount_gradio_app(
        create_app(assistant), blocks, path="/", server_name=server.host, server_port=server.port, show_error=False, css=CSS
    )


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Build the index if it is missing or stale (with progress), then serve until interrupted."""
    server = settings.server.model_copy(update={"host": host or settings.server.host, "port": port or settings.server.port})
    settings = settings.model_copy(update={"server": server})  # admin checks must see the address actually bound
    assistant = Assistant(settings)
    reason = assistant.stale_reason()
    if reason:
        print(f"Building the index ({reason})…", file=sys.stderr)
        progress = ConsoleProgress()
        try:
            assistant.index(progress=progress)
        finally:
            progress.close()
    assistant.retriever()  # load models and index before the first user waits for them
    # One process: the models are loaded once, and FastAPI's threadpool answers requests in parallel.
    uvicorn.run(web_app(assistant), host=server.host, port=server.port, workers=1)
