"""Response bodies of the REST API as pydantic models, so ``/openapi.json`` describes answers and citations.

They mirror the ``to_dict`` shapes of the core types (``Answer``, ``Hit``, ``IndexReport``) and forbid extra
fields, so a test that validates real responses against them fails as soon as the two drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CitationOut(_Strict):
    n: int = Field(description="The number of the [n] marker in the answer text.")
    version: int | None = Field(None, description="The earlier version of the document quoted; null: the current one.")
    source: str = Field(description="Document id: the file's path in the corpus folder.")
    section: str
    page: int
    chunk_id: str
    quote: str = Field(description="Verbatim span of the cleaned document.")
    start: int = Field(description="Offset of the quote in the cleaned document.")
    end: int
    verified: bool = Field(description="False when a generated sentence cites this quote but the quote does not support it.")


class MarkerOut(_Strict):
    n: int = Field(description="The citation this marker links to.")
    start: int = Field(description="Offset of the marker in the answer text.")
    end: int


class PassageOut(_Strict):
    rank: int
    chunk_id: str
    source: str
    section: str
    page: int
    score: float
    kind: str = Field(description="prose, or table for a table block (its rows are the quotable units).")
    text: str
    start: int = Field(description="Offset of the passage in the cleaned document (citations' start/end are too).")
    end: int


class SentenceOut(_Strict):
    text: str
    citations: list[int]
    verified: bool
    support: float
    reason: str


class AnswerOut(_Strict):
    question: str
    language: str = Field(description="zh or en: the language the answer is written for.")
    answer: str = Field(description="The answer text with [n] markers.")
    answerable: bool
    mode: str = Field(description="extractive (quotes chosen by code) or generated (written by a language model).")
    model: str = Field(description="The language model that wrote a generated answer; empty for extractive answers.")
    query: str = Field(description="The question actually searched (a follow-up rewritten to stand alone).")
    evidence: float
    citations: list[CitationOut]
    markers: list[MarkerOut] = Field(
        description="The app's own [n] markers; a bracketed number a quoted document contains is not one of them."
    )
    retrieved: list[PassageOut]
    notice: str
    verified_share: float | None
    sentences: list[SentenceOut]
    timings_ms: dict[str, float]


class DocumentChanges(_Strict):
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]


class ChunkChanges(_Strict):
    added: int
    removed: int
    unchanged: int


class IndexTotals(_Strict):
    documents: int
    chunks: int
    sentences: int


class IndexReportOut(_Strict):
    documents: DocumentChanges
    chunks: ChunkChanges
    embedded: int
    seconds: float
    total: IndexTotals
    errors: list[str]
    duplicates: list[str] = Field(description='Byte-identical copies, indexed once: "copy = indexed name".')
    index_bytes: int | None = Field(
        None, description="Bytes the local index folder takes on disk after the run; null in Chroma server mode."
    )


class JobErrorOut(_Strict):
    message: str = Field(description="What went wrong and what to do, as `assistant index` would print it.")
    kind: str = Field(description="The error's class, e.g. StorageUnavailable, IndexBusy; InternalError for a bug.")
    status: int = Field(description="The HTTP status the synchronous call would have answered with, e.g. 409, 503.")


class IndexJobOut(_Strict):
    """An indexing job: POST /api/index starts (202) or joins (200) one; GET /api/index/{id} polls it."""

    id: str
    state: Literal["queued", "running", "done", "failed"]
    rebuild: bool = Field(description="Whether the job builds from scratch (a joined job keeps its own value).")
    stage: str = Field(description="The current stage: read, embed passages, embed sentences, store; empty before the first.")
    done: int = Field(description="Items of the current stage done so far.")
    total: int = Field(description="Items of the current stage.")
    created_at: float
    started_at: float | None
    finished_at: float | None
    report: IndexReportOut | None = Field(description="The `index --json` summary once the job is done.")
    error: JobErrorOut | None = Field(description="Why the job failed; the previous index keeps serving.")


class DocumentOut(BaseModel):
    """A document of the index or the corpus folder; the index's fields are present once it was indexed."""

    doc_id: str
    status: str = Field(description="indexed, changed on disk, missing on disk, error or not indexed")
    sha256: str | None = None
    indexed_at: float | None = None
    error: str | None = None
    encoding: str | None = None
    bytes: int | None = None
    characters: int | None = None
    pages: int | None = None
    chunks: int | None = None
    chunk_ids: list[str] | None = None
    title: str | None = Field(None, description="the document's first line")
    language: str | None = Field(None, description="zh or en: the language most of its text is in")
    sections: list[str] | None = Field(None, description="the numbered sections (and abstract) detected in it")
    versions: list[int] | None = Field(None, description="the versions kept (GET /api/documents/{doc_id}/changes compares two)")
