"""Incremental re-indexing on a copy of the real report index: what changes, what is re-embedded, what survives."""

from __future__ import annotations

import gc
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import IndexBusy, IndexMismatch
from assistant.indexing.build import exclusive
from assistant.indexing.lexical import LexicalIndex, tokenize
from assistant.indexing.tokens import TOKENIZER_VERSION
from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.store.chunks import ChunkStore
from assistant.indexing.versions import VersionStore
from assistant.service import Assistant
from assistant.settings import ChunkSettings, Settings
from assistant.types import Chunk, Sentence

REPORT = "genai-enterprise-report.zh.txt"
ANCHOR = "虽然目前生成式人工智能主要应用于面向消费者的产品"
NEW_FACT = "青松资本于2026年向示例公司投资了77亿元人民币。"
SMALL = "# 附录\n\n示例公司的总部位于杭州，员工人数为1200人。\n"


@pytest.fixture
def copy(report_assistant: Assistant, tmp_path: Path) -> Assistant:
    """The session's report index copied under tmp_path (where the autouse settings point): 20 s saved per test."""
    shutil.copytree(report_assistant.settings.paths.corpus_dir, tmp_path / "corpus")
    shutil.copytree(report_assistant.settings.paths.index_dir, tmp_path / "index")
    return Assistant(Settings(), embedder=report_assistant.embedder)


def edit_report(corpus: Path) -> None:
    path = corpus / REPORT
    text = path.read_text(encoding="utf-8")
    assert ANCHOR in text
    path.write_text(text.replace(ANCHOR, NEW_FACT + ANCHOR, 1), encoding="utf-8")


def test_no_change_run_embeds_nothing(copy):
    report = copy.index()
    assert not report.changed and report.embedded == 0
    assert report.unchanged == (REPORT,) and report.chunks_unchanged == report.chunks > 30


def test_one_paragraph_edit_reembeds_only_the_changed_chunks(copy, tmp_path):
    before = copy.manifest().documents[REPORT].chunk_ids
    edit_report(tmp_path / "corpus")
    report = copy.index()
    after = copy.manifest().documents[REPORT].chunk_ids
    assert report.updated == (REPORT,)
    assert 1 <= report.chunks_added <= 3 and report.chunks_added == len(set(after) - set(before))
    assert report.chunks_removed == len(set(before) - set(after))
    assert report.embedded <= report.chunks_added + 3 * report.chunks_added + 2  # new chunks plus their new sentences
    assert copy.check() == []
    answer = copy.ask("青松资本向示例公司投资了多少？")
    assert answer.answerable and any("77亿元" in c.quote for c in answer.citations)


def test_the_new_generation_s_bm25_is_built_at_index_time_from_cached_tokens(copy, tmp_path):
    for old in (tmp_path / "index").glob("bm25-*"):
        shutil.rmtree(old)
    copy.retriever()  # the first open tokenises every chunk and keeps the tokens per row
    edit_report(tmp_path / "corpus")
    copy.index()
    assert (tmp_path / "index" / f"bm25-v{TOKENIZER_VERSION}-{copy.manifest().version}" / "ids.json").exists()  # before any reader opened it
    retriever = Assistant(Settings(), embedder=copy.embedder).retriever()
    chunks = list(retriever.chunks.values())
    fresh = LexicalIndex.build([c.id for c in chunks], [c.text for c in chunks])
    assert retriever.lexical.ids == fresh.ids
    for question in ("青松资本投资了多少", "生成式人工智能的企业应用", "2023年 市场规模"):
        assert retriever.lexical.search(tokenize(question), 10) == fresh.search(tokenize(question), 10)


def test_added_renamed_and_removed_documents(copy, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "notes.md").write_text(SMALL, encoding="utf-8")
    added = copy.index()
    assert added.added == ("notes.md",) and added.embedded > 0
    assert any(h.chunk.doc_id == "notes.md" for h in copy.retrieve("示例公司的总部在哪里？"))

    (corpus / "notes.md").rename(corpus / "renamed.md")
    renamed = copy.index()
    assert renamed.added == ("renamed.md",) and renamed.removed == ("notes.md",)
    assert renamed.embedded == 0  # same text, same vectors

    (corpus / "renamed.md").unlink()
    removed = copy.index()
    assert removed.removed == ("renamed.md",) and set(copy.manifest().documents) == {REPORT}
    assert all(h.chunk.doc_id == REPORT for h in copy.retrieve("示例公司的总部在哪里？"))
    assert copy.check() == []


def test_a_bad_new_file_is_reported_and_the_rest_indexed(copy, tmp_path):
    (tmp_path / "corpus" / "empty.txt").write_bytes(b"")
    (tmp_path / "corpus" / "notes.md").write_text(SMALL, encoding="utf-8")
    report = copy.index()
    assert set(report.added) == {"empty.txt", "notes.md"}
    assert any("empty.txt" in e for e in report.errors)
    assert copy.stale_reason() is None  # the bad file is remembered, not retried forever
    assert copy.check() == []


def test_other_chunking_needs_an_explicit_rebuild(copy):
    other = Assistant(Settings(chunk=ChunkSettings(max_chars=400)), embedder=copy.embedder)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        other.index()


def test_one_indexer_at_a_time(copy, tmp_path):
    with exclusive(tmp_path / "index"):
        with pytest.raises(IndexBusy):
            copy.index()


def test_check_reports_drift(copy):
    manifest = copy.manifest()
    copy.store.client.get_collection(manifest.chunks_collection).delete(ids=[manifest.documents[REPORT].chunk_rows[0]])
    problems = copy.check()
    assert len(problems) == 2
    assert "in the manifest but not in Chroma" in problems[0] and "sentences in Chroma but no chunk row" in problems[1]


@contextmanager
def readers_asking(reader: Assistant, question: str) -> Iterator[tuple[list[set[str]], list[BaseException]]]:
    """Three threads retrieving ``question`` until the block ends: each answer's chunk ids, and every failure."""
    seen: list[set[str]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def ask_until_done() -> None:
        while not done.is_set():
            try:
                seen.append({h.chunk.id for h in reader.retrieve(question)})
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(exc)

    threads = [threading.Thread(target=ask_until_done) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        yield seen, failures
    finally:
        done.set()
        for t in threads:
            t.join()


def test_questions_during_a_reindex_see_one_complete_state(copy, tmp_path):
    question = "青松资本向示例公司投资了多少？"
    old_chunks = {c.id for c in copy.retriever().chunks.values()}
    edit_report(tmp_path / "corpus")
    reader = Assistant(Settings(), embedder=copy.embedder)
    with readers_asking(reader, question) as (seen, failures):
        copy.index()
        time.sleep(0.3)
    new_chunks = {c.id for c in reader.retriever().chunks.values()}
    assert failures == []
    assert len(seen) > 3
    assert all(ids <= old_chunks or ids <= new_chunks for ids in seen)  # never a mixture of generations
    assert any(not ids <= old_chunks for ids in seen)  # and the new state was picked up


def collection_names(assistant: Assistant) -> set[str]:
    return {c.name for c in assistant.store.client.list_collections()}


def test_readers_during_garbage_collection_see_no_errors(copy, tmp_path):
    """Readers ask throughout a run that compacts dead rows away and one that drops the generation they held."""
    _ghost_rows(copy, 3000)
    first = copy.manifest()
    reader = Assistant(Settings(), embedder=copy.embedder)
    reader.retriever()  # holds the first generation's collections
    edit_report(tmp_path / "corpus")
    with readers_asking(reader, "青松资本向示例公司投资了多少？") as (seen, failures):
        copy.index()  # compacts the ghost rows away first, then adds the edit
        edited_now = {c.id for c in copy.retriever().chunks.values() if "77亿元" in c.text}
        deadline = time.time() + 120
        while not (len(seen) >= 3 and all(ids & edited_now for ids in seen[-3:])) and time.time() < deadline:
            time.sleep(0.1)  # until every reader thread has finished an ask on the new generation
        gc.collect()  # the readers' earlier retrievers let go of the first generation
        copy.index()  # unchanged: drops what nobody holds, sweeps folders and pages while the readers read
        time.sleep(0.3)
    edited = {c.id for c in reader.retriever().chunks.values() if "77亿元" in c.text}
    assert failures == [] and len(seen) > 3 and seen[-1] & edited
    live = copy.manifest()
    assert first.chunks_collection not in collection_names(copy)
    assert collection_names(copy) == {live.chunks_collection, live.sentences_collection}
    assert copy.check() == []


@pytest.mark.slow
def test_sigkilled_indexer_leaves_a_consistent_index(copy, tmp_path):
    """Kill a full rebuild at random moments; the old index serves throughout and the next run completes."""
    env = {**os.environ, "ASSISTANT_PATHS__CORPUS_DIR": str(tmp_path / "corpus"), "ASSISTANT_PATHS__INDEX_DIR": str(tmp_path / "index")}
    cli = [sys.executable, "-m", "assistant", "index"]
    live = copy.manifest().version
    rng = random.Random(7)
    for _ in range(3):
        process = subprocess.Popen(cli + ["--rebuild"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 12.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert copy.manifest().version == live or process.returncode == 0
        assert copy.check() == []
        assert copy.ask("微软对OpenAI的投资金额是多少？").answerable
        live = copy.manifest().version
    edit_report(tmp_path / "corpus")
    finished = subprocess.run(cli + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    fresh = Assistant(Settings(), embedder=copy.embedder)
    assert fresh.check() == []
    chunk_ids = fresh.manifest().documents[REPORT].chunk_ids
    assert len(chunk_ids) == len(set(chunk_ids)) == len(fresh.retriever().chunks)
    assert any("77亿元" in c.quote for c in fresh.ask("青松资本向示例公司投资了多少？").citations)


def _ghost_rows(copy: Assistant, count: int) -> None:
    """Rows of a write that died before its switch: ``count`` chunks with two sentences each, referenced by nothing."""
    live = copy.manifest()
    chunks = [Chunk(f"ghost{i}", "ghost.txt", f"幽灵{i}。幽灵{i}。", 0, 8, i, 1, "s") for i in range(count)]
    sentences = [Sentence(c.id, c.text[a:b], a, b) for c in chunks for a, b in ((0, 4), (4, 8))]
    rng = np.random.default_rng(0)
    documents = {**live.documents, "ghost.txt": DocumentRecord(sha256="g", indexed_at=0)}
    store = ChunkStore(copy.store.index_dir)
    store._publish = lambda manifest: (_ for _ in ()).throw(KeyboardInterrupt())  # killed just before the switch
    with pytest.raises(KeyboardInterrupt):
        store.write(live.fingerprint, documents, chunks, rng.standard_normal((count, 384)).astype(np.float32),
                    sentences, rng.standard_normal((2 * count, 384)).astype(np.float32), live=live)


@pytest.mark.slow
def test_sigkill_during_garbage_collection_loses_nothing(copy, tmp_path):
    """Kill the collector (compacting the live rows into fresh collections, dropping the old ones, sweeping their
    folders and free pages) at random moments: nothing is lost, and the next run leaves only the live generation."""
    _ghost_rows(copy, 3000)
    documents = copy.manifest().documents
    store = f"ChunkStore({str(tmp_path / 'index')!r})"
    collect = [sys.executable, "-c", f"from assistant.indexing.store.chunks import ChunkStore; s = {store}; s.garbage.settle(s.read())"]
    rng = random.Random(11)
    for _ in range(4):
        process = subprocess.Popen(collect, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        reader = Assistant(Settings(), embedder=copy.embedder)
        assert reader.manifest().documents == documents and reader.check() == []  # dead rows are not drift
        assert reader.ask("微软对OpenAI的投资金额是多少？").answerable
    del reader
    gc.collect()  # the last reader lets go of its generation
    edit_report(tmp_path / "corpus")
    env = {**os.environ, "ASSISTANT_PATHS__CORPUS_DIR": str(tmp_path / "corpus"), "ASSISTANT_PATHS__INDEX_DIR": str(tmp_path / "index")}
    finished = subprocess.run([sys.executable, "-m", "assistant", "index"], env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    fresh = Assistant(Settings(), embedder=copy.embedder)
    assert fresh.check() == []
    live = fresh.manifest()
    assert collection_names(fresh) == {live.chunks_collection, live.sentences_collection}
    assert len([p for p in (tmp_path / "index" / "chroma").iterdir() if p.is_dir()]) == 2  # no orphaned folders
    collection = fresh.store.client.get_collection(fresh.manifest().chunks_collection)
    assert collection.get(where={"doc_id": "ghost.txt"})["ids"] == []
    kept = {row for s in fresh.store.vector_files.segments() for row in s.rows}  # beside the index: every live row's
    assert live.rows() <= kept and not any(row.startswith("ghost") for row in kept)  # vectors, none of the ghosts'
    assert any("77亿元" in c.quote for c in fresh.ask("青松资本向示例公司投资了多少？").citations)


def _history(copy: Assistant) -> list[int]:
    """The versions kept of the report; each named version's text must be on disk and nothing else beside them."""
    store = VersionStore(copy.settings.paths.index_dir, copy.settings.index.versions_kept)
    history = store.history(REPORT)
    assert all(store.text(REPORT, v.n) for v in history)  # complete: every version named can be read
    return [v.n for v in history]


def test_an_update_stopped_before_its_switch_keeps_one_version_and_the_next_run_finishes_it(copy, tmp_path, monkeypatch):
    assert _history(copy) == [1]
    edit_report(tmp_path / "corpus")
    monkeypatch.setattr(ChunkStore, "_publish", lambda self, manifest: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # killed between recording version 2 and switching to it
        copy.index()
    monkeypatch.undo()
    assert _history(copy) == [1, 2]
    assert [p for p in copy.check() if "ahead of the index" in p]
    assert not any(NEW_FACT in c.text for c in copy.retriever().chunks.values())  # the old text is still served
    copy.index()
    assert _history(copy) == [1, 2] and copy.check() == []  # finished, not recorded twice
    assert any(c.kind == "added" and NEW_FACT in c.new.text for c in copy.changes(REPORT).changes)


@pytest.mark.slow
def test_sigkill_while_an_update_makes_a_version_leaves_the_old_history_or_the_new_one(copy, tmp_path):
    env = {**os.environ, "ASSISTANT_PATHS__CORPUS_DIR": str(tmp_path / "corpus"), "ASSISTANT_PATHS__INDEX_DIR": str(tmp_path / "index")}
    cli = [sys.executable, "-m", "assistant", "index"]
    edit_report(tmp_path / "corpus")
    rng = random.Random(5)
    for _ in range(3):
        process = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 10.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _history(copy) in ([1], [1, 2])
        assert {p for p in copy.check() if "ahead of the index" not in p} == set()  # at most the interrupted switch
        assert copy.ask("微软对OpenAI的投资金额是多少？").answerable
    finished = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert _history(copy) == [1, 2] and copy.check() == []
    folder = VersionStore(copy.settings.paths.index_dir, 5).folder(REPORT)
    assert len(list(folder.iterdir())) == 3  # history.json and two texts: no temp file or stray text left
