"""The one object the CLI, the web UI and the API call: index, retrieve, ask.

Models load once per process; the retriever for the live index generation is
built lazily and swapped (not mutated) when the manifest changes, so concurrent
questions always see one complete index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from .answer import compose_offline
from .embed import VectorEmbeddings, make_embedder
from .errors import BadQuestion, IndexCorrupt
from .indexing import StageProgress, build_index, stale_reason
from .language import detect_language
from .lexical import cached_lexical_index
from .retrieve import HybridRetriever, Query, SentenceIndex
from .settings import Settings
from .store import MANIFEST, ChunkStore, Manifest, read_manifest
from .types import Answer, Hit, IndexReport, StreamEvent, Turn

log = logging.getLogger(__name__)


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: VectorEmbeddings | None = None,
        store: ChunkStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or make_embedder(self.settings.embed)
        self.store = store or ChunkStore(self.settings.paths.index_dir, self.settings.store.collection)
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._loaded: tuple[float, Manifest, HybridRetriever] | None = None

    @property
    def fingerprint(self) -> dict[str, str]:
        return self.settings.index_fingerprint(self.embedder.identity)

    # -- indexing ------------------------------------------------------------------------------

    def stale_reason(self) -> str | None:
        return stale_reason(self.settings, read_manifest(self.settings.paths.index_dir), self.fingerprint)

    def index(self, *, rebuild: bool = False, progress: StageProgress | None = None) -> IndexReport | None:
        """Build when forced or stale; None means the index was already up to date."""
        with self._build_lock:
            if not rebuild:
                reason = self.stale_reason()
                if reason is None:
                    return None
                if reason == "settings changed":
                    self.store.check(self.fingerprint)  # raises IndexMismatch: changing models needs --rebuild
            try:
                self.store.client
            except IndexCorrupt:
                if not rebuild:
                    raise
                self.store.quarantine()
            return build_index(self.settings, embedder=self.embedder, store=self.store, progress=progress)

    def manifest(self) -> Manifest:
        return self.store.manifest()

    # -- reading -------------------------------------------------------------------------------

    def retriever(self) -> HybridRetriever:
        """The retriever of the live index, reloaded when another process or thread switched the manifest."""
        manifest_path = Path(self.settings.paths.index_dir) / MANIFEST
        mtime = manifest_path.stat().st_mtime if manifest_path.exists() else -1.0
        loaded = self._loaded
        if loaded and loaded[0] == mtime:
            return loaded[2]
        with self._lock:
            if self._loaded and self._loaded[0] == mtime:
                return self._loaded[2]
            manifest = self.store.check(self.fingerprint)
            chunks = self.store.load_chunks(manifest)
            sentences, vectors = self.store.load_sentences(manifest)
            lexical = cached_lexical_index(
                Path(self.settings.paths.index_dir), manifest.version, [c.id for c in chunks], [c.text for c in chunks]
            )
            retriever = HybridRetriever(
                chunks,
                lexical,
                SentenceIndex(sentences, vectors),
                lambda vector, n: self.store.dense_search(manifest, vector, n),
                self.settings.retrieve,
            )
            self._loaded = (mtime, manifest, retriever)
            return retriever

    def validate(self, question: str) -> str:
        text = (question or "").strip()
        if not text:
            raise BadQuestion("Please type a question. / 请输入问题。")
        limit = self.settings.answer.max_question_chars
        if len(text) > limit:
            raise BadQuestion(f"The question is {len(text)} characters long; the limit is {limit}. / 问题过长（上限 {limit} 字）。")
        return text

    def prepare(self, question: str) -> tuple[HybridRetriever, Query]:
        text = self.validate(question)
        retriever = self.retriever()
        language = detect_language(text)
        return retriever, retriever.prepare(text, language, self.embedder.query(text))

    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        retriever, query = self.prepare(question)
        return retriever.search(query, k or self.settings.retrieve.k)

    def ask(self, question: str, k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        """The complete answer; the same events as ``ask_stream`` without the deltas."""
        answer = None
        for event in self.ask_stream(question, k, history):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None  # ask_stream always ends with the answer event
        return answer

    def ask_stream(self, question: str, k: int | None = None, history: Sequence[Turn] = ()) -> Iterator[StreamEvent]:
        """Text deltas as they are produced, then the answer with its citations finalised."""
        answer = self._answer_offline(question, k)
        yield StreamEvent("token", answer.text)
        yield StreamEvent("answer", answer=answer)

    def _answer_offline(self, question: str, k: int | None) -> Answer:
        retriever, query = self.prepare(question)
        hits = retriever.search(query, k or self.settings.retrieve.k)
        return compose_offline(
            query.text,
            query,
            hits,
            retriever.sentences,
            min_evidence=self.settings.answer.min_evidence,
            max_quotes=self.settings.answer.max_quotes,
            vocabulary=retriever.vocabulary,
            is_common=retriever.is_common,
        )
