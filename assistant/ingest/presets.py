"""Per-document settings: what a document's text cannot tell, declared beside it as ``<file name>.toml``.

``corpus/report.pdf.toml`` holds, for ``corpus/report.pdf``::

    names = ["Acme Research", "艾克米"]  # other names of the document or its author: a question that says
                                          # "According to Acme Research" is about the document, and such a
                                          # name is never a specific the evidence must state

Unknown keys and unreadable files are reported with the file's name, never silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import BadDocument

PRESET_SUFFIX = ".toml"


class DocumentPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field([], description="Other names of the document or its author (e.g. the publisher).")


def read_presets(corpus_dir: Path, doc_ids: Iterable[str]) -> dict[str, DocumentPreset]:
    """The declared settings of each document that has a ``<file name>.toml`` beside it."""
    presets = {}
    for doc_id in doc_ids:
        path = corpus_dir / f"{doc_id}{PRESET_SUFFIX}"
        if not path.is_file():
            continue
        try:
            presets[doc_id] = DocumentPreset.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
            raise BadDocument(doc_id, f"its settings file {path.name} cannot be used: {exc}") from exc
    return presets
