"""Answers, sources and documents as chat markdown and HTML: pure functions over the project's types.

Document and model text is untrusted: every quote, chunk and generated sentence is
HTML-escaped (sources panel) or markdown-escaped (chat) before it is shown, so the
only raw ``<`` in a chat message is markup this module wrote.
"""

from __future__ import annotations

import html
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence

from assistant.answering.compose.changes import DocumentChanges, Unit
from assistant.indexing.versions import Version
from assistant.serving.ui.text import UiLanguage, reason_text, say, status_text
from assistant.types import APP_MARKER_RE, Answer, Citation, Turn

MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]()#+!|~>])")
MARKDOWN_ESCAPED_RE = re.compile(r"\\([\\`*_{}\[\]()#+!|~>])")
AUTOLINK_RE = re.compile(r"://|(?<![\w.])www\.|@", re.IGNORECASE)
AUTOLINK_ENTITIES = {"://": ":&#47;&#47;", "@": "&#64;"}  # and "www." → "www&#46;", in its own case
CITE_LINK_RE = re.compile(r"\[\\\[(\d+)\\\]\]\(#cite-\d+\)")
NOTICE_HTML = '<em class="notice">ⓘ {}</em>'
UNVERIFIED_HTML = '<span class="unverified"> {} </span>'
LEGEND_HTML = '<small class="legend">{}</small>'
DRAFT_HTML = '<em class="draft">{}</em>'
DECORATION_RE = re.compile(r'<(em|span|small) class="(?:notice|unverified|legend|draft)">.*?</\1>', re.DOTALL)


def escape_markdown(text: str) -> str:
    """Shows document text literally in the chat: no HTML, no links (GFM links bare URLs, www. and e-mail
    addresses: their "//", "." and "@" become entities the renderer does not read as a link), no emphasis."""
    escaped = MARKDOWN_SPECIAL_RE.sub(r"\\\1", html.escape(text, quote=False))
    return AUTOLINK_RE.sub(lambda m: AUTOLINK_ENTITIES.get(m.group(0)) or m.group(0)[:-1] + "&#46;", escaped)


def cite_link(n: int) -> str:
    return f"[\\[{n}\\]](#cite-{n})"


def link_markers(text: str, numbers: set[int]) -> str:
    """Escaped text whose ``[n]`` markers of existing citations link to their passages; other brackets stay text."""
    parts: list[str] = []
    cursor = 0
    for match in APP_MARKER_RE.finditer(text):
        if int(match.group(1)) in numbers:
            parts += [escape_markdown(text[cursor : match.start()]), cite_link(int(match.group(1)))]
            cursor = match.end()
    parts.append(escape_markdown(text[cursor:]))
    return "".join(parts)


def render_generated(answer: Answer, language: UiLanguage = "en") -> str:
    """The verified text with linked markers; each sentence whose check failed carries a visible mark."""
    numbers = {c.n for c in answer.citations}
    parts: list[str] = []
    cursor = 0
    for check in answer.checks:
        at = answer.text.find(check.text, cursor)
        if at < 0:  # not where verification put it: its text still appears, unmarked, in the next gap
            continue
        mark = "" if check.verified else UNVERIFIED_HTML.format(html.escape(say("unverified_because", language, reason_text(check.reason, language))))
        parts += [link_markers(answer.text[cursor:at], numbers), link_markers(check.text, numbers) + mark]
        cursor = at + len(check.text)
    parts.append(link_markers(answer.text[cursor:], numbers))
    return "".join(parts)


def render_answer(answer: Answer, language: UiLanguage = "en") -> str:
    """The final chat message: notice, then the refusal, the checked generated text, or the lead line and quotes.
    ``language`` is the interface's (marks and legend); the answer's own text is in the question's language."""
    parts = [NOTICE_HTML.format(escape_markdown(answer.notice))] if answer.notice else []
    if not answer.answerable:
        parts.append(escape_markdown(answer.text))
    elif answer.checks:
        parts.append(render_generated(answer, language))
        if not all(check.verified for check in answer.checks):
            parts.append(LEGEND_HTML.format(html.escape(say("legend", language))))
    else:
        parts.append(escape_markdown(answer.text.split("\n", 1)[0]))
        parts += [f"“{escape_markdown(c.quote)}” {cite_link(c.n)}" for c in answer.citations]
    return "\n\n".join(parts)


def render_draft(draft: Answer, status: str, language: UiLanguage = "en") -> str:
    """The extractive answer shown at once, labelled as a draft; ``status`` is the queue position or "writing…"."""
    label = escape_markdown(say("draft", language, status))
    return f"{DRAFT_HTML.format(label)}\n\n{render_answer(draft, language)}"


def render_streaming(notices: Sequence[str], text: str) -> str:
    """The message while text arrives: raw model output, escaped; markers become links only once checked."""
    return "\n\n".join([*(NOTICE_HTML.format(escape_markdown(n)) for n in notices), escape_markdown(text) or "…"])


def render_citation(
    c: Citation, chunk_text: str, chunk_start: int, verdict: bool | None = None, language: UiLanguage = "en"
) -> str:
    """A passage with its quote highlighted; ``verdict`` (generated answers only) adds the verification mark."""
    a, b = c.start - chunk_start, c.end - chunk_start
    if 0 <= a < b <= len(chunk_text) and chunk_text[a:b] == c.quote:
        body = f"{html.escape(chunk_text[:a])}<mark>{html.escape(c.quote)}</mark>{html.escape(chunk_text[b:])}"
    else:
        body = f"<mark>{html.escape(c.quote)}</mark>"
    where = (say("earlier_version", language, c.version), "") if c.version else (c.section, say("page", language, c.page))
    meta = " · ".join(html.escape(part) for part in (f"[{c.n}] {c.source}", *where) if part)
    if verdict is not None:
        kind = "verified" if verdict else "unverified"
        meta += f' · <span class="{kind}">{html.escape(say(kind, language))}</span>'
    page = page_view(c, language)
    return f'<div class="source" id="cite-{c.n}"><div class="meta">{meta}</div><div>{body.replace(chr(10), "<br>")}</div>{page}</div>'


def page_view(c: Citation, language: UiLanguage = "en") -> str:
    """For a quote from a PDF, its page as the file shows it, the quote highlighted (drawn by the server when opened)."""
    if not (c.source.lower().endswith(".pdf") and c.page and c.version is None):
        return ""
    src = f"api/documents/{urllib.parse.quote(c.source)}/pages/{c.page}.png?quote={urllib.parse.quote(c.quote)}"
    summary, alt = say("page_view", language, c.page), say("page_alt", language, c.page, c.source)
    return (f'<details class="page"><summary>{html.escape(summary)}</summary>'
            f'<img loading="lazy" src="{html.escape(src)}" alt="{html.escape(alt)}"></details>')


def render_sources(answer: Answer, language: UiLanguage = "en") -> str:
    """Cited passages; the standalone query is shown when a follow-up was rewritten before retrieval."""
    chunks = {h.chunk.id: h.chunk for h in answer.retrieved}
    parts = []
    if answer.query and answer.query != answer.question:
        parts.append(f'<div class="searched">{html.escape(say("searched", language, answer.query))}</div>')
    if not answer.citations:
        parts.append(say("no_passage", language))
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        verdict = c.verified if answer.checks else None
        text, start = (chunk.text, chunk.start) if chunk else (c.quote, c.start)
        parts.append(render_citation(c, text, start, verdict, language))
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
    """The (question, answer) pairs of the chat, oldest first, answers as plain text (the service keeps the last few)."""
    turns: list[Turn] = []
    question: str | None = None
    for message in messages:
        if message.get("role") == "user":
            question = message_text(message.get("content"))
        elif message.get("role") == "assistant" and question is not None:
            turns.append((question, plain_text(message_text(message.get("content")))))
            question = None
    return turns


def _when(timestamp: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(timestamp))) if isinstance(timestamp, (int, float)) else ""


def document_row(status: Mapping[str, object], language: UiLanguage = "en") -> list[object]:
    return [
        status["doc_id"],
        status_text(str(status["status"]), language),
        status.get("language", ""),
        len(status.get("sections") or []) or "",
        status.get("chunks", ""),
        status.get("pages", ""),
        len(status.get("versions") or []) or "",
        _when(status.get("indexed_at")),
        status.get("error", ""),
    ]


def render_changes(found: DocumentChanges, language: UiLanguage = "en") -> str:
    """Two versions side by side, one row per added, removed or changed sentence or table row; the figures that
    changed are highlighted in both columns."""
    def when(v: Version) -> str:
        return html.escape(say("version_at", language, v.n, _when(v.indexed_at)))

    def marked(unit: Unit | None, figures: Sequence[str]) -> str:
        if unit is None:
            return ""
        text = html.escape(unit.text)
        for figure in sorted(set(figures), key=len, reverse=True):
            text = text.replace(html.escape(figure), f"<mark>{html.escape(figure)}</mark>")
        return text

    head = f'<tr><th>{when(found.old)}</th><th>{when(found.new)}</th></tr>'
    rows = [
        f'<tr class="{c.kind}"><td>{marked(c.old, [f.old for f in c.figures])}</td>'
        f'<td>{marked(c.new, [f.new for f in c.figures])}</td></tr>'
        for c in found.changes
    ]
    if not rows:
        rows = [f'<tr><td colspan="2">{html.escape(say("same_text", language))}</td></tr>']
    return f'<table class="changes"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
