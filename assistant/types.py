"""Values passed between pipeline stages; library objects never cross a stage boundary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawDocument:
    """A file's decoded text before cleaning. ``doc_id`` is the path relative to the corpus folder."""

    doc_id: str
    path: str
    text: str
    encoding: str
    sha256: str


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
            "text": self.chunk.text,
        }


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

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "source": self.source,
            "section": self.section,
            "page": self.page,
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    text: str
    answerable: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    query: str = ""
    evidence: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """The public JSON shape shared by ``assistant ask --json``, eval output and the API."""
        return {
            "question": self.question,
            "language": self.language,
            "answer": self.text,
            "answerable": self.answerable,
            "mode": self.mode,
            "query": self.query,
            "evidence": round(self.evidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [h.to_dict() for h in self.retrieved],
        }


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: text deltas, user-visible notices, then the final verified answer."""

    kind: str  # "token" | "notice" | "answer"
    text: str = ""
    answer: Answer | None = None

    def to_dict(self) -> dict[str, object]:
        if self.kind == "answer" and self.answer is not None:
            return {"type": "answer", **self.answer.to_dict()}
        return {"type": self.kind, "text": self.text}


Turn = tuple[str, str]
"""A previous (question, answer) pair of the conversation, oldest first."""


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    sentences: int
    seconds: float
    errors: tuple[str, ...] = field(default_factory=tuple)
