"""One reader per file format, each turning a file's bytes into the normalised text cleaning understands.

Paged and structured formats share one layout: form feeds separate pages (page n is the n-th part),
Markdown ``#`` lines are headings. Readers raise UnreadableContent with a reason the user can act on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from assistant.ingest.formats.text import read_text

Reader = Callable[[bytes], tuple[str, str]]  # bytes -> (text, encoding; "" where the format fixes it)


def _on_first_use(module: str) -> Reader:
    """The reader of ``formats/<module>.py``, imported when a file needs it: pypdf, bs4 and python-docx took
    ~0.3 s of every ``assistant index``, also of one that finds nothing changed and reads no file."""

    def read(data: bytes) -> tuple[str, str]:
        return getattr(importlib.import_module(f"{__name__}.{module}"), f"read_{module}")(data)

    return read


@dataclass(frozen=True)
class Format:
    """How to read one file format, and what cleaning must know about the result."""

    loader: str  # names the layout cleaning applies (see clean.LAYOUTS)
    read: Reader
    no_text: str  # why a file of this format that yields no text is rejected


TEXT = Format("text", read_text, "the file is empty")
MARKDOWN = Format("markdown", read_text, "the file is empty")
HTML = Format("html", _on_first_use("html"), "it contains no visible text")

FORMATS: dict[str, Format] = {
    ".txt": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".pdf": Format("pdf", _on_first_use("pdf"), "no text found — OCR is not supported; use a PDF with selectable text"),
    ".docx": Format("docx", _on_first_use("docx"), "it contains no text"),
    ".html": HTML,
    ".htm": HTML,
}
