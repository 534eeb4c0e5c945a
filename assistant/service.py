"""The one object the CLI, the web UI and the API call: index, retrieve, ask.

Models load once per process; the retriever for the live index generation is
built lazily and swapped (not mutated) when the manifest changes, so concurrent
questions always see one complete index.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from assistant.answering.compose.changes import (
    Change,
    DocumentChanges,
    Unit,
    asks_about_earlier,
    asks_what_changed,
    change_lines,
    change_note,
    compare,
    earlier_lines,
    earlier_of,
    fate,
    passage_note,
)
from assistant.answering.compose.extractive import compose_offline, orders_in, rank_sentences
from assistant.answering.generate.answer import NOTICE, condense, generate, with_notice
from assistant.answering.generate.prompts import Message
from assistant.answering.generate.summaries import (
    DigestCache,
    DigestPlan,
    cached_answer,
    plan_digest,
    report_from_sections,
    section_requests,
    verified_digest,
)
from assistant.answering.generate.translate import needs_translation, quotes_prompt, translation_prompt
from assistant.answering.generate.turns import EngineQueue, in_turn
from assistant.answering.verify import Similarity, embedding_similarity
from assistant.answering.evidence.windows import Window, select_windows
from assistant.errors import (
    BadQuestion,
    IndexCorrupt,
    LlmUnavailable,
    NoEarlierVersion,
    StorageUnavailable,
)
from assistant.indexing.build import StageProgress, build_index, exclusive
from assistant.indexing.store.diskfull import DiskGuard, disk_errors
from assistant.indexing.embed import VectorEmbeddings, make_embedder
from assistant.indexing.lexical import cached_lexical_index
from assistant.indexing.store.manifest import stale_reason
from assistant.indexing.store.chunks import ChunkStore, Manifest
from assistant.indexing.verify import verify
from assistant.indexing.versions import Version, VersionStore
from assistant.ingest.presets import read_presets
from assistant.language import detect_language
from assistant.retrieval.followup import condense_offline, is_elliptical, recent_turns
from assistant.retrieval.hybrid import HybridRetriever, Query
from assistant.retrieval.sections import main_sections, wants_summary
from assistant.retrieval.sentences import SentenceIndex
from assistant.settings import Settings
from assistant.types import (
    Answer,
    AnswerMode,
    Chunk,
    Citation,
    EventKind,
    Hit,
    IndexReport,
    StreamEvent,
    Turn,
)

log = logging.getLogger(__name__)
OUTLINE_SAMPLE_CHUNKS = 20  # enough of a document's text to tell its language


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
        self.store = store or ChunkStore(
            self.settings.paths.index_dir,
            self.settings.store.collection,
            self.settings.store.chroma_url,
            retire_grace_s=self.settings.store.retire_grace_s,
        )
        self._lock = threading.Lock()
        self._disk = DiskGuard(self.store)
        self._loaded: tuple[str, Manifest, HybridRetriever] | None = None
        self._chat_model: BaseChatModel | None = None
        self._similarity: tuple[HybridRetriever, Similarity] | None = None
        self._outlines: tuple[HybridRetriever, dict[str, dict[str, object]]] | None = None
        self.engine_queue = EngineQueue()  # the local engine answers one question at a time
        self.digests = DigestCache(self.settings.paths.index_dir)
        self._changes: dict[tuple[str, int, int], DocumentChanges] = {}

    @property
    def fingerprint(self) -> dict[str, str]:
        return self.settings.index_fingerprint(self.embedder.identity)

    # -- indexing ------------------------------------------------------------------------------

    def stale_reason(self) -> str | None:
        return stale_reason(self.settings, self.store.read(), self.fingerprint)

    def index(self, *, rebuild: bool = False, progress: StageProgress | None = None) -> IndexReport:
        """Bring the index up to date incrementally (or from scratch); raises IndexBusy if another run holds it."""
        index_dir = Path(self.settings.paths.index_dir)
        try:
            with self._disk.writing(self._local_index_dir()):  # Chroma's own disk-full errors too
                return self._index(index_dir, rebuild, progress)
        except OSError as exc:  # a read-only or full index folder
            raise StorageUnavailable(index_dir, exc.strerror or exc) from exc

    def _local_index_dir(self) -> Path | None:
        """The folder whose disk Chroma writes to; None in server mode, where the disk is the server's to report."""
        return None if self.store.url else Path(self.settings.paths.index_dir)

    def _index(self, index_dir: Path, rebuild: bool, progress: StageProgress | None) -> IndexReport:
        with exclusive(index_dir), self.store.leased(self.settings.store.lease_s):
            if not rebuild and self.store.read() is not None:
                self.store.check(self.fingerprint)  # raises IndexMismatch: changing models needs --rebuild
            try:
                self.store.connect()
            except IndexCorrupt:
                if not rebuild:
                    raise
                self.store.quarantine()
            return build_index(self.settings, embedder=self.embedder, store=self.store, progress=progress, rebuild=rebuild)

    def close(self) -> None:
        """Release the index's Chroma instances; a later call reopens them (retrievers taken before are done)."""
        with self._lock:
            self._loaded = None
            self._similarity = None
            self._outlines = None
            self.store.close()

    def check(self) -> list[str]:
        """Disagreements between the manifest and Chroma, and between the manifest and the version histories
        (empty when they agree)."""
        manifest = self.store.manifest()
        return verify(self.store, manifest) + self._versions().check(manifest.documents)

    def manifest(self) -> Manifest:
        return self.store.manifest()

    # -- reading -------------------------------------------------------------------------------

    def retriever(self) -> HybridRetriever:
        """The retriever of the live index, reloaded when another process or thread switched the manifest."""
        live = self.store.live_version()
        loaded = self._loaded
        if loaded and loaded[0] == live:
            return loaded[2]
        with self._lock:
            if self._loaded and self._loaded[0] == live:
                return self._loaded[2]
            # Chroma writes while it reads (it applies its log first): a full disk stops both
            with disk_errors(self._local_index_dir()):
                try:
                    return self._load(live)
                except IndexCorrupt:
                    if self.store.live_version() == live:
                        raise
                    return self._load(self.store.live_version())  # switched, and the old generation dropped, meanwhile

    def _load(self, live: str) -> HybridRetriever:
        manifest = self.store.check(self.fingerprint)
        if manifest.version not in self.store.published and not (self._loaded and self._loaded[1].version == manifest.version):
            # written by another process: this one's Chroma instance may not see its rows
            self.store.refresh(self._loaded[2] if self._loaded else None)
        vectors = self.store.sentence_vectors(manifest)  # first: it holds the generation while it is read and used
        stored = self.store.load_chunks(manifest)
        chunks = [s.chunk for s in stored]
        lexical = cached_lexical_index(
            Path(self.settings.paths.index_dir), manifest.version, [c.id for c in chunks], [s.row for s in stored],
            {s.row: s.chunk.text for s in stored},
            {s.row: s.tokens for s in stored if s.tokens is not None},  # stored by the indexer: no tokenising here
        )
        assert lexical is not None  # every row's text is at hand
        rows = {s.row: s.chunk.id for s in stored}  # dense search sees only this generation's rows
        retriever = HybridRetriever(
            chunks,
            lexical,
            SentenceIndex(stored, vectors),
            lambda vector, n: self.store.dense_search(manifest, vector, n, rows),
            self.settings.retrieve,
            {doc: preset.names for doc, preset in read_presets(Path(self.settings.paths.corpus_dir), {c.doc_id for c in chunks}).items()},
        )
        self._loaded = (live, manifest, retriever)
        return retriever

    def outlines(self) -> dict[str, dict[str, object]]:
        """Per indexed document: its title, language and detected main sections (what the Documents tab shows);
        worked out once per index generation, since every document listing asks."""
        retriever = self.retriever()
        cached = self._outlines
        if cached and cached[0] is retriever:
            return cached[1]
        by_document: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in sorted(retriever.chunks.values(), key=lambda c: c.start):
            by_document[chunk.doc_id].append(chunk)
        outlines: dict[str, dict[str, object]] = {}
        for doc_id, title in retriever.titles.items():
            own = by_document[doc_id]
            sample = "".join(c.text for c in own[:OUTLINE_SAMPLE_CHUNKS])
            outlines[doc_id] = {"title": title, "language": detect_language(sample), "sections": main_sections(own)}
        self._outlines = (retriever, outlines)
        return outlines

    def versions(self, document: str) -> tuple[str, list[Version]]:
        """A document's id (``document`` is its id or a name unique to it) and the versions kept of it, oldest first."""
        doc_id = next(iter(self.retriever().library.resolve([document])))
        return doc_id, self._versions().history(doc_id)

    def changes(self, document: str, old: int | None = None, new: int | None = None) -> DocumentChanges:
        """What changed in a document from version ``old`` (default: the one before ``new``) to version ``new``
        (default: the latest); UnknownVersion names the versions kept."""
        doc_id, history = self.versions(document)
        kept = [v.n for v in history]
        if old is None and new is None and len(history) < 2:
            raise NoEarlierVersion(doc_id, kept)
        store = self._versions()
        to = new if new is not None else history[-1].n if history else 1
        earlier = [n for n in kept if n < to]
        since = old if old is not None else earlier[-1] if earlier else to - 1
        old_text, new_text = store.text(doc_id, since), store.text(doc_id, to)  # UnknownVersion for either
        by_number = {v.n: v for v in history}
        return DocumentChanges(doc_id, by_number[since], by_number[to], tuple(compare(old_text, new_text)))

    def _changes_answer(self, question: str, documents: Sequence[str]) -> Answer | None:
        """"What changed?" answered from the computed changes of the asked (or picked) documents that were updated;
        None when none of them has an earlier version (the question is then about the content)."""
        retriever = self.retriever()
        library = retriever.library
        picked = library.resolve(documents) if documents else library.named_in(question) or frozenset(retriever.titles)
        store = self._versions()
        histories = {doc_id: store.history(doc_id) for doc_id in sorted(picked)}
        updated = [doc_id for doc_id, history in histories.items() if len(history) >= 2]
        if not updated:
            return None
        language = detect_language(question)
        cited = _Cited(retriever)
        texts = [cited.add(doc_id, *change_lines(self._latest_changes(doc_id, histories[doc_id]), language, cited.next))
                 for doc_id in updated]
        return cited.answer(question, language, texts)

    def _earlier_answer(self, question: str, documents: Sequence[str], k: int | None, started: float) -> Answer | None:
        """"What did the previous edition say about …?": the passages that answer the question now, each with what
        the version before the latest update had in its place (the same words, other words, or nothing), cited from
        that version. None when no document the question finds was updated (then it is a question like any other)."""
        retriever, extractive, _, _ = self._answer_offline(question, question, k, started, documents)
        store = self._versions()
        language = detect_language(question)
        cited = _Cited(retriever)
        texts = []
        for doc_id in dict.fromkeys(c.source for c in extractive.citations):
            history = store.history(doc_id)
            if len(history) < 2:
                continue
            found = self._latest_changes(doc_id, history)
            old_text, new_text = store.text(doc_id, found.old.n), store.text(doc_id, found.new.n)
            items = []
            for c in (c for c in extractive.citations if c.source == doc_id):
                kind, old, new = earlier_of(found, new_text, c.start, c.end)
                if kind == "same" and (at := old_text.find(c.quote)) >= 0:
                    old = Unit(c.quote, at, at + len(c.quote))
                if (old or new) and (kind, old, new) not in items:
                    items.append((kind, old, new))
            if items:
                texts.append(cited.add(doc_id, *earlier_lines(found, items, language, cited.next)))
        return cited.answer(question, language, texts) if texts else None

    def _noting_changes(self, answer: Answer) -> Answer:
        """An answer quoting text whose figures the latest update of its document changed says so (old → new)."""
        store = self._versions()
        loaded = self._loaded  # the generation the answer came from (reading the manifest file per question costs)
        live = loaded[1].documents if loaded else {}
        notes = []
        for doc_id in dict.fromkeys(c.source for c in answer.citations):
            history = store.history(doc_id)
            record = live.get(doc_id)
            if len(history) < 2 or record is None or history[-1].sha256 != record.sha256:
                continue  # never updated, or the latest version recorded is not the one being answered from
            spans = [(c.start, c.end) for c in answer.citations if c.source == doc_id]
            notes.append(change_note(self._latest_changes(doc_id, history), spans, answer.language))
        return with_notice(answer, " ".join(n for n in notes if n)) if any(notes) else answer

    def pinned(self, answer: Answer) -> Answer:
        """The answer with every citation naming the version of its document it quotes, so that a saved or exported
        answer still says which text it came from after the document is updated."""
        store = self._versions()
        latest = {doc_id: store.history(doc_id) for doc_id in {c.source for c in answer.citations if c.version is None}}
        citations = tuple(
            replace(c, version=latest[c.source][-1].n) if c.version is None and latest[c.source] else c
            for c in answer.citations
        )
        return replace(answer, citations=citations)

    def as_of_now(self, answer: Answer) -> Answer:
        """A saved answer read against the documents as they are now. A citation whose quote the current version
        still holds reads as current; one whose passage a later version changed or removed keeps its version, and
        the answer's notice says which version did what, and when."""
        store = self._versions()
        history_of, text = functools.cache(store.history), functools.cache(store.text)  # read each file once
        changes = functools.cache(lambda doc_id, old, new: compare(text(doc_id, old), text(doc_id, new)))
        citations, notes = [], []
        for c in answer.citations:
            history = history_of(c.source)
            if not history or c.version == history[-1].n or c.quote in text(c.source, history[-1].n):
                citations.append(replace(c, version=None))
                continue
            if c.version is None:  # not pinned (an API client's): the latest kept version that holds the quote
                quoted_in = next((v.n for v in reversed(history) if c.quote in text(c.source, v.n)), history[0].n - 1)
                if quoted_in < 1:  # in no version ever recorded: nothing can be said about it
                    citations.append(c)
                    continue
                c = replace(c, version=quoted_in)
            citations.append(c)
            kept = [v for v in history if v.n >= c.version]
            if not kept or kept[0].n != c.version:  # garbage-collected: the saved quote is all there is
                notes.append(passage_note(c.n, c.source, c.version, None, 0, "", answer.language))
                continue
            later = next(v for v in kept[1:] if c.quote not in text(c.source, v.n))
            before = kept[kept.index(later) - 1]
            start, end = c.start, c.end
            if text(c.source, before.n)[start:end] != c.quote:  # unchanged until ``before``, perhaps at another offset
                start = text(c.source, before.n).find(c.quote)
                end = start + len(c.quote)
            change = fate(changes(c.source, before.n, later.n), start, end) if start >= 0 else None
            when = time.strftime("%Y-%m-%d", time.localtime(later.indexed_at))
            notes.append(passage_note(c.n, c.source, c.version, change or Change("removed"), later.n, when, answer.language))
        saved = replace(answer, citations=tuple(citations))
        return with_notice(saved, "\n".join(notes)) if notes else saved

    def _latest_changes(self, doc_id: str, history: Sequence[Version]) -> DocumentChanges:
        """The changes of a document's latest update (``history`` has two versions at least), compared once per
        update (~30 ms for a 60-page report) for the "what changed" answers and the notes on changed quotes."""
        key = (doc_id, history[-2].n, history[-1].n)
        if key not in self._changes:
            self._changes[key] = self.changes(doc_id)
        return self._changes[key]

    def _versions(self) -> VersionStore:
        return VersionStore(Path(self.settings.paths.index_dir), self.settings.index.versions_kept)

    def validate(self, question: str) -> str:
        """The question without control and invisible characters (a lone surrogate would break JSON output later)."""
        text = "".join(char for char in question or "" if char.isprintable() or char.isspace()).strip()
        if not text:
            raise BadQuestion("Please type a question.", zh="请输入问题。")
        limit = self.settings.answer.max_question_chars
        if len(text) > limit:
            raise BadQuestion(
                f"The question is {len(text)} characters long; the limit is {limit}.", zh=f"问题过长：{len(text)} 字，上限 {limit} 字。"
            )
        if not any(char.isalnum() for char in text):
            raise BadQuestion(
                "The question has no words, only symbols, emoji or punctuation; please ask in words.",
                zh="问题中没有文字（只有符号、表情或标点），请用文字提问。",
            )
        return text

    def prepare(self, question: str, documents: Sequence[str] = ()) -> tuple[HybridRetriever, Query]:
        text = self.validate(question)
        retriever = self.retriever()
        language = detect_language(text)
        return retriever, retriever.prepare(text, language, self.embedder.query(text), documents)

    def retrieve(self, question: str, k: int | None = None, documents: Sequence[str] = ()) -> list[Hit]:
        """The passages for a question, from ``documents`` (ids or names) only when given."""
        retriever, query = self.prepare(question, documents)
        return retriever.search(query, k or self.settings.retrieve.k)

    def chat_model(self) -> BaseChatModel | None:
        """The configured chat model, created once; None for extractive answers (``none``, or ``auto`` without a model file)."""
        if self.settings.llm.resolved() == "none":
            return None
        with self._lock:
            if self._chat_model is None:
                from assistant.answering.generate.llm import (
                    make_chat_model,  # imports openai/ollama clients: only when configured
                )

                self._chat_model = make_chat_model(self.settings.llm)
            return self._chat_model

    def standalone(self, question: str, history: Sequence[Turn], model: BaseChatModel | None) -> str:
        """The question to retrieve with: follow-ups rewritten by the model, or enriched offline."""
        if not history or not is_elliptical(question, detect_language(question)):
            return question
        if model is not None and self.settings.llm.condense:
            rewritten = condense(model, question, history)
            if rewritten:
                return rewritten
        return condense_offline(question, history)

    def ask(
        self, question: str, k: int | None = None, history: Sequence[Turn] = (), documents: Sequence[str] = ()
    ) -> Answer:
        """The complete answer; the same events as ``ask_stream`` without the deltas."""
        return final_answer(self.ask_stream(question, k, history, documents))

    def ask_stream(
        self, question: str, k: int | None = None, history: Sequence[Turn] = (), documents: Sequence[str] = ()
    ) -> Generator[StreamEvent, None, None]:
        """Text deltas as they are produced, then the answer with its citations finalised.

        ``documents`` (ids or names) limits the evidence to those documents; without it, a question that names
        documents is answered from them.

        Questions without enough evidence are refused without calling a model; a model
        that cannot be reached or fails mid-answer yields a notice and the extractive answer.
        With a model, the extractive answer comes first as a draft; the local engine then
        answers one question at a time, and a question that would wait longer than
        ``llm.max_wait_s`` gets the extractive answer with a notice instead.
        """
        started = time.perf_counter()
        text = self.validate(question)
        if asks_about_earlier(text):
            changed = self._earlier_answer(text, documents, k, started)
        else:
            changed = self._changes_answer(text, documents) if asks_what_changed(text) else None
        if changed is not None:  # computed from the kept versions: no model
            yield StreamEvent(EventKind.TOKEN, changed.text)
            yield StreamEvent(EventKind.ANSWER, answer=_timed(changed, started, first_token=True))
            return
        history = recent_turns(history, self.settings.answer.history_turns)  # the one cap on history, for every edge
        notice = ""
        try:
            model = self.chat_model()
        except LlmUnavailable as exc:
            model, notice = None, NOTICE[detect_language(text)].format(reason=exc.reason)
        retriever, extractive, windows, digest = self._answer_offline(
            text, self.standalone(text, history, model), k, started, documents
        )
        if model is None or not extractive.answerable or not windows:
            if notice:
                yield StreamEvent(EventKind.NOTICE, notice)
            yield StreamEvent(EventKind.TOKEN, extractive.text)
            yield StreamEvent(EventKind.ANSWER, answer=with_notice(extractive, notice))
            return
        yield StreamEvent(EventKind.DRAFT, answer=extractive)
        cached = self._written_digest(digest, extractive, retriever) if digest else None
        if cached is not None:  # this section's digest was written before from the same content
            yield StreamEvent(EventKind.TOKEN, cached.text)
            yield StreamEvent(EventKind.ANSWER, answer=_timed(cached, started, first_token=True))
            return
        llm = self.settings.llm
        events = generate(
            model,
            extractive,
            windows,
            self.similarity(retriever),  # the generation the hits came from, even if a re-index switched since
            min_support=llm.min_support,
            model_name=llm.describe(),
            digest=digest is not None,
            keep_quotes=llm.keep_quotes,
            orders=orders_in(extractive.retrieved, retriever.sentences),
            prompt=self._translation(digest, extractive, retriever) if digest else self._quotes_translation(extractive, windows),
        )
        if llm.resolved() == "local":
            events = in_turn(self.engine_queue, events, extractive, max_wait_s=llm.max_wait_s)
        for event in events:
            if event.kind is EventKind.ANSWER and event.answer is not None:
                final = event.answer
                if digest and final.mode is AnswerMode.GENERATED and final.answerable and not final.notice:
                    verified = verified_digest(final)
                    if verified is not None:
                        self.digests.put(digest.key, verified)
                        final = verified
                event = StreamEvent(EventKind.ANSWER, answer=_timed(final, started))
            yield event

    def similarity(self, retriever: HybridRetriever) -> Similarity:
        """Claim-to-sentence similarity seeded with the index's stored sentence vectors (no re-embedding per answer)."""
        cached = self._similarity
        if cached and cached[0] is retriever:
            return cached[1]
        index = retriever.sentences
        similarity = embedding_similarity(self.embedder, index.vectors_by_text())
        self._similarity = (retriever, similarity)
        return similarity

    def written_digest(self, question: str) -> Answer | None:
        """The digest a summary request would be answered with at once (None: the model would have to write it)."""
        retriever = self.retriever()
        language = detect_language(question)
        digest = self.digest_plan(question, language, retriever)
        draft = Answer(question=question, language=language, text="", answerable=True, mode=AnswerMode.GENERATED)
        return self._written_digest(digest, draft, retriever) if digest else None

    def _written_digest(self, digest: DigestPlan, draft: Answer, retriever: HybridRetriever) -> Answer | None:
        """A digest cached from the same content; a whole-report one is composed of the section digests when all are."""
        entry = self.digests.get(digest.key)
        if entry is not None:
            return cached_answer(entry, draft)
        if digest.scope != "report":
            return None
        sections = []
        for question in section_requests(retriever.main_sections, draft.language):
            plan = self.digest_plan(question, draft.language, retriever)
            entry = self.digests.get(plan.key) if plan else None
            answer = cached_answer(entry, draft) if entry else None
            if answer is None:
                return None
            sections.append(answer)
        return report_from_sections(sections, draft) if sections else None

    def _translation(self, digest: DigestPlan, draft: Answer, retriever: HybridRetriever) -> list[Message] | None:
        """For an English digest, once the Chinese one is written: the prompt translating it over the same sources.

        Asked to summarise Chinese sources in English, the bundled 1.5B model copies Chinese sentences; translating
        a verified summary is a task it does well, with a prompt a third as long.
        """
        if draft.language != "en":
            return None
        plan = self.digest_plan(draft.query, "zh", retriever)
        chinese = self._written_digest(plan, replace(draft, language="zh"), retriever) if plan else None
        return translation_prompt(chinese, digest.windows) if chinese else None

    def _quotes_translation(self, extractive: Answer, windows: Sequence[Window]) -> list[Message] | None:
        """For a question over quotes in the other language (``llm.crosslingual``): the prompt translating them."""
        if not self.settings.llm.translates() or not needs_translation(extractive):
            return None
        return quotes_prompt(extractive, windows)

    def digest_plan(
        self, question: str, language: str | None = None, retriever: HybridRetriever | None = None
    ) -> DigestPlan | None:
        """The sources and cache key of a model-written digest, for a summary request while a model is configured."""
        llm = self.settings.llm
        if llm.resolved() == "none" or not wants_summary(question):
            return None
        retriever = retriever or self.retriever()
        return plan_digest(
            list(retriever.chunks.values()),
            retriever.sentences,
            question,
            language or detect_language(question),
            llm.identity(),  # not describe(): a new thread count must not rewrite every digest
            budget_tokens=llm.digest_tokens,
        )

    def _generic_names(self, retriever: HybridRetriever) -> Callable[[str], bool]:
        """Latin words that name nothing specific: as common as "AI" in the corpus, or a name of a document."""
        return lambda word: retriever.library.names_a_document(word) or retriever.is_common(word)

    def _answer_offline(
        self, question: str, standalone: str, k: int | None, started: float, documents: Sequence[str] = ()
    ) -> tuple[HybridRetriever, Answer, list[Window], DigestPlan | None]:
        """The extractive answer, and the evidence windows a model would be given (none without a model).

        A summary request's windows are its section's digest sources, with the key its written digest is cached by.
        """
        retriever, query = self.prepare(standalone, documents)
        hits = retriever.search(query, k or self.settings.retrieve.k)
        retrieval_ms = (time.perf_counter() - started) * 1000
        answer = compose_offline(
            query.text,
            query,
            hits,
            retriever.sentences,
            min_evidence=self.settings.answer.threshold(query.language),
            max_quotes=self.settings.answer.max_quotes,
            vocabulary=retriever.vocabulary,
            is_common=self._generic_names(retriever),
        )
        answer = replace(answer, question=question, language=detect_language(question), timings={"retrieval": retrieval_ms})
        answer = self._noting_changes(answer)
        windows: list[Window] = []
        digest = None
        llm = self.settings.llm
        if answer.answerable and llm.resolved() != "none":
            digest = self.digest_plan(query.text, answer.language, retriever)
            if digest is not None:
                windows = digest.windows
            else:
                quoted = {c.chunk_id for c in answer.citations}  # a quote may come from a passage ranked below llm.sources
                sources = hits[: llm.sources] + [h for h in hits[llm.sources :] if h.chunk.id in quoted]
                ranked = rank_sentences(query, sources, retriever.sentences)
                windows = select_windows(
                    ranked, retriever.sentences, budget_tokens=llm.context_tokens, query_tokens=query.tokens,
                    seeds=[(c.source, c.start, c.end) for c in answer.citations],
                )
        return retriever, _timed(answer, started, first_token=True), windows, digest


class _Cited:
    """The citations of an answer composed from version units: a unit of the current version is cited with the
    chunk that holds it (so the Sources panel shows its passage), an earlier version's with its version number."""

    def __init__(self, retriever: HybridRetriever) -> None:
        self.retriever = retriever
        self.citations: list[Citation] = []
        self.hits: dict[str, Hit] = {}

    @property
    def next(self) -> int:
        return len(self.citations) + 1

    def add(self, doc_id: str, text: str, quoted: Sequence[tuple[Unit, int | None]]) -> str:
        own = [c for c in self.retriever.chunks.values() if c.doc_id == doc_id]
        for unit, version in quoted:
            chunk = None if version else _holding(own, unit)
            if chunk is not None:
                self.hits.setdefault(chunk.id, Hit(chunk, 1.0, len(self.hits) + 1))
            self.citations.append(Citation(
                n=self.next, source=doc_id, section=chunk.section_path if chunk else "", page=chunk.page if chunk else 0,
                chunk_id=chunk.id if chunk else "", quote=unit.text, start=unit.start, end=unit.end, version=version,
            ))
        return text

    def answer(self, question: str, language: str, texts: Sequence[str]) -> Answer:
        return Answer(question, language, "\n\n".join(texts), True, AnswerMode.EXTRACTIVE, tuple(self.citations),
                      tuple(self.hits.values()), question, 1.0)


def _holding(chunks: Iterable[Chunk], unit: Unit) -> Chunk | None:
    """The chunk (of the unit's document) that holds the unit whole (chunks overlap), else one that holds its start."""
    starting = [c for c in chunks if c.start <= unit.start < c.end]
    return next((c for c in starting if unit.end <= c.end), starting[0] if starting else None)


def _timed(answer: Answer, started: float, *, first_token: bool = False) -> Answer:
    """Stamp total time (and, for answers shown at once, time to first text) in milliseconds."""
    total = (time.perf_counter() - started) * 1000
    timings = {**answer.timings, "total": total}
    if first_token:
        timings["first_token"] = total
    return replace(answer, timings=timings)


def final_answer(events: Iterable[StreamEvent]) -> Answer:
    """The answer a stream of events ends with (every ``ask_stream`` ends with one)."""
    answer = None
    for event in events:
        if event.kind is EventKind.ANSWER:
            answer = event.answer
    assert answer is not None  # ask_stream always ends with the answer event
    return answer
