"""LangChain faces over the project's own types: a ``BaseRetriever``, the answerer as a Runnable, the citation checker.

Thin adapters: a ``Hit`` becomes a ``Document`` here and nowhere else, and a ``Document`` becomes a ``Chunk`` with
its sentences for verification, so a LangChain user composes the report's retrieval and our code-checked citations
with their own chat model (README, "Use from LangChain") while the core never sees a LangChain object.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import StructuredTool, ToolException
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict

from assistant.answering.verify import VerifiedAnswer, embedding_similarity, verify
from assistant.errors import AssistantError
from assistant.indexing.embed import VectorEmbeddings, make_embedder
from assistant.ingest.chunk import normalize, split_sentences
from assistant.service import Assistant
from assistant.settings import EmbedSettings, Settings
from assistant.types import Answer, Chunk, Hit, Sentence, StreamEvent, Turn

AskInput = str | Mapping[str, Any]
"""A question, or ``{"question": …, "history": [(question, answer), …] or [{"question", "answer"}, …], "k": …}``."""

_embedders: dict[str, VectorEmbeddings] = {}
_embedders_lock = threading.Lock()


def hit_to_document(hit: Hit) -> Document:
    """The passage with everything a citation needs in its metadata."""
    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.id,
        metadata={
            "source": chunk.doc_id,
            "section": chunk.section_path,
            "page": chunk.page,
            "chunk_id": chunk.id,
            "start": chunk.start,
            "end": chunk.end,
            "rank": hit.rank,
            "score": hit.score,
            "kind": chunk.kind,
        },
    )


def document_to_chunk(document: Document, position: int) -> Chunk:
    """A ``Document`` as the verifier's ``Chunk``; documents from elsewhere get offsets from 0 and a positional id."""
    meta = document.metadata
    start = int(meta.get("start", 0))
    return Chunk(
        id=str(meta.get("chunk_id") or document.id or f"document-{position + 1}"),
        doc_id=str(meta.get("source", "")),
        text=document.page_content,
        start=start,
        end=start + len(document.page_content),
        ordinal=position,
        page=int(meta.get("page", 1)),
        section=str(meta.get("section", "")),
        kind=str(meta.get("kind", "prose")),
    )


def chunk_sentences_of(chunk: Chunk) -> list[Sentence]:
    """The chunk's sentences, split as the indexer splits them, with offsets in the chunk's document."""
    return [
        Sentence(chunk.id, chunk.text[a:b], chunk.start + a, chunk.start + b, chunk.page)
        for a, b in split_sentences(chunk.text)
        if normalize(chunk.text[a:b])
    ]


def format_sources(documents: Sequence[Document]) -> str:
    """Numbered sources for a prompt, in the order ``verify_citations`` numbers them: ``[1] (source · section, p. 3) …``."""
    lines = []
    for n, document in enumerate(documents, 1):
        meta = document.metadata
        where = " · ".join(str(part) for part in (meta.get("source"), meta.get("section")) if part)
        page = f", p. {meta['page']}" if meta.get("page") else ""
        lines.append(f"[{n}] ({where}{page}) {document.page_content}")
    return "\n\n".join(lines)


def _default_embedder(settings: EmbedSettings) -> VectorEmbeddings:
    """The configured embedding model, loaded once per process (verification compares claims with sentences)."""
    with _embedders_lock:
        if settings.identity() not in _embedders:
            _embedders[settings.identity()] = make_embedder(settings)
        return _embedders[settings.identity()]


def verify_citations(
    text: str,
    documents: Sequence[Document],
    *,
    embedder: VectorEmbeddings | None = None,
    min_support: float | None = None,
) -> VerifiedAnswer:
    """Check any ``[n]``-marked answer against the documents it was given (``[1]`` is ``documents[0]``).

    Markers to documents that were not given are dropped; each sentence is aligned to the source sentence that
    supports it best, which becomes its verbatim quote; figures must match the cited text. Pure code, no model call.
    """
    chunks = [document_to_chunk(document, i) for i, document in enumerate(documents)]
    sentences = {chunk.id: chunk_sentences_of(chunk) for chunk in chunks}
    settings = Settings()
    threshold = settings.llm.min_support if min_support is None else min_support
    similarity = embedding_similarity(embedder or _default_embedder(settings.embed))
    return verify(text, chunks, sentences, similarity, min_support=threshold)


class ReportRetriever(BaseRetriever):
    """The hybrid retriever (dense + BM25 over jieba tokens) as a LangChain retriever of the live index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Assistant
    k: int | None = None
    """Passages per question; None = the ``retrieve.k`` setting."""
    documents: list[str] = []
    """Search these documents only (file names, or names unique to one); empty = all, or the ones a query names."""

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, k: int | None = None, documents: Sequence[str] = ()
    ) -> ReportRetriever:
        return cls(assistant=Assistant(settings), k=k, documents=list(documents))

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit_to_document(hit) for hit in self.assistant.retrieve(query, self.k, self.documents)]


def _question(value: AskInput) -> tuple[str, list[Turn], int | None, list[str]]:
    """The question, its history, k and the documents it is limited to, from a string or a mapping."""
    if isinstance(value, str):
        return value, [], None, []
    history = [
        (str(turn["question"]), str(turn["answer"])) if isinstance(turn, Mapping) else (str(turn[0]), str(turn[1]))
        for turn in value.get("history", ())
    ]
    return str(value["question"]), history, value.get("k"), [str(d) for d in value.get("documents", ())]


class AnswerRunnable(Runnable[AskInput, Answer]):
    """The whole answerer: ``invoke`` returns the ``Answer`` (text and checked citations); ``stream`` yields the
    ``StreamEvent``s the chat shows — text deltas, notices, then the final answer.

    Each call is a run of its own under the caller's ``RunnableConfig`` (callbacks, tags, run name, tracing), and
    the chat model's calls inside it are its child runs: LangChain hands the config down through its context.
    """

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def invoke(self, input: AskInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._answer, input, config, run_type="chain")

    def stream(self, input: AskInput, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[StreamEvent]:  # type: ignore[override]
        yield from self._transform_stream_with_config(iter([input]), self._events, config, run_type="chain")

    def _answer(self, input: AskInput) -> Answer:
        question, history, k, documents = _question(input)
        return self.assistant.ask(question, k, history, documents)

    def _events(self, inputs: Iterator[AskInput]) -> Iterator[StreamEvent]:
        for input in inputs:
            question, history, k, documents = _question(input)
            yield from self.assistant.ask_stream(question, k, history, documents)


def as_runnable(assistant: Assistant | Settings | None = None) -> AnswerRunnable:
    """The answerer of ``assistant`` (or of a new one with these settings) as a LangChain Runnable."""
    return AnswerRunnable(assistant if isinstance(assistant, Assistant) else Assistant(assistant))


def changes_tool(assistant: Assistant | Settings | None = None) -> StructuredTool:
    """``assistant changes`` as a LangChain tool an agent can call: what changed in a document between two indexed
    versions (added, removed and changed sentences or table rows, the changed figures old → new). A wrong document
    or version comes back to the agent as the message naming what exists, not as an exception."""
    core = assistant if isinstance(assistant, Assistant) else Assistant(assistant)

    def document_changes(document: str, from_version: int | None = None, to_version: int | None = None) -> dict[str, object]:
        """What changed in ``document`` (its file name) from ``from_version`` (default: the one before ``to_version``)
        to ``to_version`` (default: the latest)."""
        try:
            return core.changes(document, from_version, to_version).to_dict()
        except AssistantError as exc:
            raise ToolException(str(exc)) from exc

    return StructuredTool.from_function(document_changes, name="document_changes", handle_tool_error=True)
