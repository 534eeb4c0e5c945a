"""An answer as a Markdown document to keep or share: the question, the answer, and every citation with its
document, version, section, page and verbatim quote, so it can be checked without the app."""

from __future__ import annotations

from assistant.types import Answer, Citation

HEADINGS = {"zh": ("问题", "回答", "出处", "注意"), "en": ("Question", "Answer", "Sources", "Note")}
UNVERIFIED = {"zh": "（未经核实）", "en": " (unverified)"}


def answer_markdown(answer: Answer) -> str:
    """The answer in Markdown, in the asker's language; quotes as block quotes, exactly as the document has them."""
    question, reply, sources, note = HEADINGS[answer.language]
    parts = [f"## {question}\n\n{answer.question}", f"## {reply}\n\n{answer.text}"]
    if answer.notice:
        parts.append(f"> **{note}:** {answer.notice}")
    if answer.citations:
        parts.append(f"## {sources}\n\n" + "\n\n".join(citation_markdown(c, answer.language) for c in answer.citations))
    return "\n\n".join(parts) + "\n"


def citation_markdown(citation: Citation, language: str) -> str:
    """``[n] document · version · section · p. N`` and the quote below it."""
    where = [citation.source, f"version {citation.version}" if citation.version else "", citation.section]
    where.append(f"p. {citation.page}" if citation.page else "")
    flag = "" if citation.verified else UNVERIFIED[language]
    quote = "\n".join(f"> {line}" for line in citation.quote.splitlines() or [""])
    return f"[{citation.n}] {' · '.join(part for part in where if part)}{flag}\n\n{quote}"
