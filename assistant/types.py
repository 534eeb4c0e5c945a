"""Values passed between pipeline stages; library objects never cross a stage boundary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class RawDocument:
    """A file's text before cleaning. ``doc_id`` is the path relative to the corpus folder.

    ``loader`` names the reader ("text", "markdown", "pdf", "docx", "html"), which tells cleaning how the
    text marks pages and headings; ``encoding`` is empty for formats that fix their own (PDF, DOCX).
    """

    doc_id: str
    path: str
    text: str
    encoding: str
    sha256: str
    loader: str


@dataclass(frozen=True)
class Heading:
    """A section or sub-heading that starts at ``start`` in the cleaned text."""

    start: int
    section: str
    heading: str = ""


@dataclass(frozen=True)
class CleanDocument:
    """Cleaned text plus the maps needed to cite it: page starts and headings, both by character offset."""

    doc_id: str
    text: str
    page_starts: tuple[tuple[int, int], ...]  # (offset, page number), ascending
    headings: tuple[Heading, ...]
    tables: tuple[tuple[int, int], ...] = ()  # (start, end) of table and figure blocks, one row per line
    seams: tuple[int, ...] = ()  # offsets where a line was joined across removed noise (a page number, a header)

    def page_at(self, offset: int) -> int:
        page = self.page_starts[0][1] if self.page_starts else 1
        for start, number in self.page_starts:
            if start > offset:
                break
            page = number
        return page

    def heading_at(self, offset: int) -> Heading:
        current = Heading(0, "")
        for heading in self.headings:
            if heading.start > offset:
                break
            current = heading
        return current


@dataclass(frozen=True)
class Chunk:
    """A citation-sized span: ``text == document.text[start:end]``."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    ordinal: int
    page: int
    section: str
    heading: str = ""
    kind: str = "prose"  # "table": a table or figure block whose lines (rows) are the quotable units

    @property
    def section_path(self) -> str:
        return f"{self.section} › {self.heading}" if self.heading else self.section


@dataclass(frozen=True)
class Sentence:
    """A sentence inside a chunk, with offsets in the cleaned document; the unit an answer quotes."""

    chunk_id: str
    text: str
    start: int
    end: int
    page: int = 1


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    dense_score: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "chunk_id": self.chunk.id,
            "source": self.chunk.doc_id,
            "section": self.chunk.section_path,
            "page": self.chunk.page,
            "score": round(self.score, 6),
            "kind": self.chunk.kind,
            "text": self.chunk.text,
            "start": self.chunk.start,
            "end": self.chunk.end,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hit:
        """A hit as ``to_dict`` wrote it (a saved answer); the chunk keeps what the passage view needs."""
        text = str(data["text"])
        start = int(data.get("start", 0))
        chunk = Chunk(str(data["chunk_id"]), str(data["source"]), text, start, int(data.get("end", start + len(text))),
                      0, int(data["page"]), str(data["section"]), kind=str(data.get("kind", "prose")))
        return cls(chunk, float(data["score"]), int(data["rank"]))


APP_MARKER_RE = re.compile(r"\[(\d+)\]")
"""How the app writes a citation marker in an answer: ``[n]``, ASCII brackets, one number."""


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    section: str
    page: int
    chunk_id: str
    quote: str
    start: int
    end: int
    verified: bool = True  # False: a generated sentence cites this quote but the quote does not support it
    version: int | None = None  # an earlier version of the document the quote comes from; None: the current one

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "version": self.version,
            "source": self.source,
            "section": self.section,
            "page": self.page,
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "verified": self.verified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Citation:
        fields = ("n", "source", "section", "page", "chunk_id", "quote", "start", "end", "verified", "version")
        return cls(**{name: data[name] for name in fields if name in data})


class AnswerMode(StrEnum):
    EXTRACTIVE = "extractive"  # quotes chosen by code
    GENERATED = "generated"  # written by a language model, citations verified by code


class EventKind(StrEnum):
    TOKEN = "token"  # a text delta
    NOTICE = "notice"  # something the user should know (a fallback, a wait)
    DRAFT = "draft"  # the extractive answer, shown at once while a model writes the final one; sent again when the
    # model starts over (a second look), which discards the text streamed so far
    QUEUE = "queue"  # the question waits for the local engine; text says how many are ahead
    ANSWER = "answer"  # the final, verified answer; always the last event


class Reason(StrEnum):
    SUPPORTED = "supported"
    AUTO_ATTACHED = "auto-attached"  # no marker, but one source sentence supports it
    RECITED = "re-cited"  # its marker named a source that does not support it; the one that does is cited instead
    WEAK_SUPPORT = "weak support"  # cited, but no sentence of the cited sources says it
    NUMBER_MISMATCH = "number mismatch"  # a figure that the cited text does not contain
    UNSUPPORTED = "unsupported"  # no marker and nothing in the sources supports it
    FRAMING = "framing"  # a lead-in such as "According to the report:", not a claim
    OBEYED = "obeyed an order"  # restates an order a source gave the assistant ("reply that …"): dropped from the answer


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence as rewritten, the citation numbers it carries, and why it is (not) verified."""

    text: str
    citations: tuple[int, ...]
    verified: bool
    support: float
    reason: Reason

    @property
    def is_claim(self) -> bool:
        return self.reason is not Reason.FRAMING

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "verified": self.verified,
            "support": round(self.support, 4),
            "reason": str(self.reason),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SentenceCheck:
        return cls(str(data["text"]), tuple(data["citations"]), bool(data["verified"]), float(data["support"]),
                   Reason(data["reason"]))


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    text: str
    answerable: bool
    mode: AnswerMode
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    query: str = ""
    evidence: float = 0.0
    notice: str = ""  # shown to the user, e.g. "the language model failed; this is the extractive answer"
    checks: tuple[SentenceCheck, ...] = ()  # one per generated sentence (empty for extractive answers)
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds: retrieval, first_token, total
    model: str = ""  # the language model that wrote a generated answer

    @property
    def verified_share(self) -> float | None:
        """Share of generated claims whose citation was verified; None for extractive answers (always verbatim)."""
        claims = [c for c in self.checks if c.is_claim]
        return sum(1 for c in claims if c.verified) / len(claims) if claims else None

    @property
    def markers(self) -> list[dict[str, int]]:
        """The app's own ``[n]`` markers as offsets into the text; brackets inside a quoted passage are document text.

        A client that links markers should link these, not whatever ``[n]`` a document happens to contain.
        """
        numbers = {c.n for c in self.citations}
        quoted = [(m.start(), m.end()) for quote in {c.quote for c in self.citations} for m in re.finditer(re.escape(quote), self.text)]
        return [
            {"n": int(m.group(1)), "start": m.start(), "end": m.end()}
            for m in APP_MARKER_RE.finditer(self.text)
            if int(m.group(1)) in numbers and not any(a <= m.start() < b for a, b in quoted)
        ]

    def to_dict(self) -> dict[str, object]:
        """The public JSON shape shared by ``assistant ask --json``, eval output and the API."""
        return {
            "question": self.question,
            "language": self.language,
            "answer": self.text,
            "answerable": self.answerable,
            "mode": str(self.mode),
            "model": self.model,
            "query": self.query,
            "evidence": round(self.evidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "markers": self.markers,
            "retrieved": [h.to_dict() for h in self.retrieved],
            "notice": self.notice,
            "verified_share": self.verified_share,
            "sentences": [c.to_dict() for c in self.checks],
            "timings_ms": {key: round(value, 1) for key, value in self.timings.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """An answer as ``to_dict`` wrote it: a saved conversation shows its answers again as they were given."""
        return cls(
            question=str(data["question"]),
            language=str(data["language"]),
            text=str(data["answer"]),
            answerable=bool(data["answerable"]),
            mode=AnswerMode(data["mode"]),
            citations=tuple(Citation.from_dict(c) for c in data.get("citations", [])),
            retrieved=tuple(Hit.from_dict(h) for h in data.get("retrieved", [])),
            query=str(data.get("query", "")),
            evidence=float(data.get("evidence", 0.0)),
            notice=str(data.get("notice", "")),
            checks=tuple(SentenceCheck.from_dict(c) for c in data.get("sentences", [])),
            timings={str(k): float(v) for k, v in data.get("timings_ms", {}).items()},
            model=str(data.get("model", "")),
        )


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: text deltas, user-visible notices, then the final verified answer."""

    kind: EventKind
    text: str = ""
    answer: Answer | None = None

    def to_dict(self) -> dict[str, object]:
        if self.answer is not None:  # the final answer, or the draft shown before it
            return {"type": str(self.kind), **self.answer.to_dict()}
        return {"type": str(self.kind), "text": self.text}


Turn = tuple[str, str]
"""A previous (question, answer) pair of the conversation, oldest first."""


@dataclass(frozen=True)
class IndexReport:
    """What one indexing run changed; ``to_dict`` is the ``assistant index --json`` summary."""

    documents: int
    chunks: int
    seconds: float
    sentences: int = 0
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0
    embedded: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)
    index_bytes: int | None = None  # the local index folder on disk after the run; None in server mode
    duplicates: tuple[str, ...] = ()  # "sub/a.txt = a.txt": byte-identical copies, indexed once under the second name

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, object]:
        return {
            "documents": {
                "added": list(self.added),
                "updated": list(self.updated),
                "removed": list(self.removed),
                "unchanged": list(self.unchanged),
            },
            "chunks": {"added": self.chunks_added, "removed": self.chunks_removed, "unchanged": self.chunks_unchanged},
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "total": {"documents": self.documents, "chunks": self.chunks, "sentences": self.sentences},
            "errors": list(self.errors),
            "duplicates": list(self.duplicates),
            "index_bytes": self.index_bytes,
        }
