"""Gradio web chat: components first, events second; handlers only delegate to ``Assistant``.

Document text is untrusted: every quote and chunk is HTML-escaped (sources panel)
or markdown-escaped (chat) before it is shown.
"""

from __future__ import annotations

import html
import re
import sys
import time
from collections.abc import Iterator

import gradio as gr
import uvicorn
from fastapi import FastAPI

from .api import create_app
from .errors import AssistantError
from .progress import ConsoleProgress
from .service import Assistant
from .settings import Settings
from .types import Answer, Citation

EXAMPLES = [
    "微软对OpenAI的投资金额是多少？",
    "企业买家在选择生成式AI供应商时经常采用哪些标准？",
    "How much more can a generative AI query cost than a conventional index query?",
    "Which industries does the report expect to be more cautious in adopting generative AI?",
]
MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]()#+!|~>])")
CSS = """
.source { border-left: 3px solid #d0d7de; padding: 4px 10px; margin: 8px 0; }
.source:target, .source.active { border-left-color: #f59e0b; background: #fffbeb; }
.source mark { background: #fde68a; }
.source .meta { font-size: 0.85em; color: #57606a; }
"""


def escape_markdown(text: str) -> str:
    """Shows document text literally in the chat: no HTML, no links, no emphasis."""
    return MARKDOWN_SPECIAL_RE.sub(r"\\\1", html.escape(text, quote=False))


def render_answer(answer: Answer) -> str:
    """Answer text for the chat, with each [n] turned into a link to its passage in the sources panel."""
    if not answer.answerable:
        return escape_markdown(answer.text)
    lines = [escape_markdown(answer.text.split("\n", 1)[0])]
    for c in answer.citations:
        lines.append(f"“{escape_markdown(c.quote)}” [\\[{c.n}\\]](#cite-{c.n})")
    return "\n\n".join(lines)


def render_citation(c: Citation, chunk_text: str, chunk_start: int) -> str:
    a, b = c.start - chunk_start, c.end - chunk_start
    if 0 <= a < b <= len(chunk_text) and chunk_text[a:b] == c.quote:
        body = f"{html.escape(chunk_text[:a])}<mark>{html.escape(c.quote)}</mark>{html.escape(chunk_text[b:])}"
    else:
        body = f"<mark>{html.escape(c.quote)}</mark>"
    meta = f"[{c.n}] {html.escape(c.source)} · {html.escape(c.section)} · p. {c.page}"
    return f'<div class="source" id="cite-{c.n}"><div class="meta">{meta}</div><div>{body.replace(chr(10), "<br>")}</div></div>'


def render_sources(answer: Answer) -> str:
    chunks = {h.chunk.id: h.chunk for h in answer.retrieved}
    header = f'<div class="meta">Query: {html.escape(answer.query)}</div>'
    if not answer.citations:
        return header + "<p>No passage cited.</p>"
    parts = [header]
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        parts.append(render_citation(c, chunk.text if chunk else c.quote, chunk.start if chunk else c.start))
    return "".join(parts)


def document_rows(assistant: Assistant) -> list[list[object]]:
    try:
        manifest = assistant.manifest()
    except AssistantError:
        return []
    age = time.strftime("%Y-%m-%d %H:%M", time.localtime(manifest.built_at))
    return [
        [doc_id, info.get("chunks", 0), info.get("pages", ""), info.get("error", "indexed"), age]
        for doc_id, info in sorted(manifest.documents.items())
    ]


def stream_text(text: str, step: int = 24) -> Iterator[str]:
    for end in range(step, len(text) + step, step):
        yield text[:end]


def build_app(assistant: Assistant) -> gr.Blocks:
    settings = assistant.settings
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
        with gr.Tab("Documents · 文档"):
            documents = gr.Dataframe(
                headers=["document", "chunks", "pages", "status", "indexed at"],
                value=document_rows(assistant),
                interactive=False,
            )
            refresh = gr.Button("Refresh")
        gr.Markdown(
            f"Mode: offline extractive answers · Embeddings: `{assistant.embedder.identity}` · "
            f"Index: `{settings.paths.index_dir}`"
        )

        def respond(message: str, history: list[dict]) -> Iterator[tuple[list[dict], str, str]]:
            try:
                answer = assistant.ask(message)
            except AssistantError as exc:
                raise gr.Error(str(exc)) from exc
            history = list(history or []) + [{"role": "user", "content": message}]
            text = render_answer(answer)
            panel = render_sources(answer)
            for partial in stream_text(text):
                yield history + [{"role": "assistant", "content": partial}], panel, ""

        question.submit(respond, [question, chatbot], [chatbot, sources, question], api_name="ask")
        ask_button.click(respond, [question, chatbot], [chatbot, sources, question], api_name=False)
        refresh.click(lambda: document_rows(assistant), None, documents, api_name=False)
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
