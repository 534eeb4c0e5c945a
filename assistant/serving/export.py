"""Answers and conversations as Markdown documents to keep or share: each question, its answer, and every citation
with its document, version, section, page and verbatim quote, so they can be checked without the app.

They are written from the public JSON shape (``Answer.to_dict()``), which is also what a saved conversation keeps,
so a fresh answer and one saved before a document changed export the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.serving.conversations import Conversation

HEADINGS = {"zh": ("问题", "回答", "出处", "注意"), "en": ("Question", "Answer", "Sources", "Note")}
UNVERIFIED = {"zh": "（未经核实）", "en": " (unverified)"}
VERSION = {"zh": "第 {} 版", "en": "version {}"}
PAGE = {"zh": "第 {} 页", "en": "p. {}"}


def answer_markdown(answer: Mapping[str, object], level: int = 2) -> str:
    """One answer in Markdown, in the asker's language; quotes as block quotes, exactly as the document has them."""
    language = "zh" if answer.get("language") == "zh" else "en"
    question, reply, sources, note = HEADINGS[language]
    heading = "#" * level
    parts = [f"{heading} {question}\n\n{answer['question']}", f"{heading} {reply}\n\n{answer['answer']}"]
    if answer.get("notice"):
        parts.append(f"> **{note}:** {answer['notice']}")
    citations = [c for c in answer.get("citations", []) or [] if isinstance(c, Mapping)]
    if citations:
        parts.append(f"{heading} {sources}\n\n" + "\n\n".join(citation_markdown(c, language) for c in citations))
    return "\n\n".join(parts) + "\n"


def citation_markdown(citation: Mapping[str, object], language: str) -> str:
    """``[n] document · version · section · p. N`` and the quote below it."""
    where = [str(citation["source"]), VERSION[language].format(citation["version"]) if citation.get("version") else ""]
    where += [str(citation.get("section") or ""), PAGE[language].format(citation["page"]) if citation.get("page") else ""]
    flag = "" if citation.get("verified", True) else UNVERIFIED[language]
    quote = "\n".join(f"> {line}" for line in str(citation["quote"]).splitlines() or [""])
    return f"[{citation['n']}] {' · '.join(part for part in where if part)}{flag}\n\n{quote}"


def conversation_markdown(conversation: Conversation) -> str:
    """The whole conversation: its title, then every answer in order, each with its own numbered sources."""
    turns = [answer_markdown(turn.answer, level=3) for turn in conversation.turns]
    return f"# {conversation.title or conversation.id}\n\n" + "\n---\n\n".join(turns)
