"""Real Chroma in a temp dir: round trip, fingerprint checks, atomic switch, garbage collection, clear errors."""

from dataclasses import replace

import numpy as np
import pytest

from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing
from assistant.indexing.manifest import DocumentRecord
from assistant.indexing.store import MANIFEST, ChunkStore, RowCounts
from assistant.indexing.verify import verify
from assistant.types import Chunk, Sentence

FP = {"embedding_model": "m1", "chunk_max_chars": "500"}


def sample(text: str = "微软对OpenAI的100亿美元投资。") -> tuple[list[Chunk], list[Sentence]]:
    chunk = Chunk(id="c1", doc_id="r.txt", text=text, start=0, end=len(text), ordinal=0, page=3, section="摘要", heading="")
    return [chunk], [Sentence(chunk_id="c1", text=text, start=0, end=len(text), page=3)]


def write(store: ChunkStore, fingerprint=FP, text: str = "微软对OpenAI的100亿美元投资。", live=None):
    chunks, sentences = sample(text)
    vec = np.eye(1, 384, dtype=np.float32)
    record = DocumentRecord(sha256="x", chunks=1, indexed_at=0)
    store.counts = RowCounts()  # per write, as build_index does
    return store.write(fingerprint, {"r.txt": record}, chunks, vec, sentences, vec, live=live)


def test_round_trip(tmp_path):
    store = ChunkStore(tmp_path / "index")
    manifest = write(store)
    stored = store.load_chunks(manifest)
    assert stored[0].chunk.page == 3 and stored[0].chunk.id == "c1"
    assert stored[0].sentences()[0].text.startswith("微软")
    assert store.sentence_vectors(manifest).vectors([f"{stored[0].row}:0"]).shape == (1, 384)
    live = {stored[0].row: "c1"}
    assert store.dense_search(manifest, np.eye(1, 384, dtype=np.float32)[0], 5, live)[0][0] == "c1"


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexMissing, match="assistant index"):
        ChunkStore(tmp_path / "index").manifest()


def test_other_settings_require_a_rebuild(tmp_path):
    store = ChunkStore(tmp_path / "index")
    write(store)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        store.check({**FP, "embedding_model": "m2"})
    assert store.check(FP).fingerprint == FP


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    store = ChunkStore(tmp_path / "index")
    write(store)
    (tmp_path / "index" / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        store.manifest()


def test_a_new_generation_adds_only_new_rows_and_keeps_the_previous_one_readable(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store, text="旧文本。")
    second = write(store, text="新文本。", live=first)
    assert second.chunks_collection == first.chunks_collection  # long-lived collections, no copy
    assert store.counts.written == 2  # one chunk row and its sentence
    assert store.load_chunks(second)[0].chunk.text == "新文本。"
    assert store.load_chunks(first)[0].chunk.text == "旧文本。"  # readers holding the old manifest still work
    assert store.garbage.dead_rows(second) == 2  # the first generation's chunk and sentence
    third = write(store, text="第三版。", live=second)  # half the rows dead: compacted into fresh collections first
    assert store.counts.collected == 2 and third.chunks_collection != second.chunks_collection
    assert store.count_rows(third) == (2, 2) and store.garbage.dead_rows(third) == 1 + 1
    assert store.load_chunks(second)[0].chunk.text == "新文本。"  # the old collections stay for one more write
    assert verify(store, third) == []


def test_placement_lives_in_the_manifest_so_a_moved_chunk_keeps_its_row(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store)
    chunks, sentences = sample()
    moved = [replace(chunks[0], start=100, end=100 + len(chunks[0].text), page=4)]
    shifted = [replace(sentences[0], start=100, end=100 + len(sentences[0].text), page=4)]
    vec = np.eye(1, 384, dtype=np.float32)
    store.counts = RowCounts()
    second = store.write(FP, {"r.txt": first.documents["r.txt"]}, moved, vec, shifted, vec, live=first)
    assert store.counts.written == 0 and second.documents["r.txt"].chunk_rows == first.documents["r.txt"].chunk_rows
    placed = store.load_chunks(second)[0]
    assert (placed.chunk.start, placed.chunk.page, placed.sentences()[0].start) == (100, 4, 100)


def test_a_write_killed_before_the_switch_leaves_rows_that_compaction_removes(tmp_path, monkeypatch):
    store = ChunkStore(tmp_path / "index")
    first = write(store)

    def die(manifest):
        raise KeyboardInterrupt  # stands for SIGKILL after the rows were added, before the switch

    monkeypatch.setattr(store, "_publish", die)
    with pytest.raises(KeyboardInterrupt):
        write(store, text="半途而废。", live=first)
    monkeypatch.undo()
    assert store.read() == first and verify(store, first) == []  # rows no generation references are not drift
    assert store.count_rows(first) == (2, 2)
    third = write(store, text="完成。", live=first)
    assert store.counts.collected == 2 and store.count_rows(third) == (2, 2)


def test_a_rebuild_writes_fresh_collections_and_drops_the_old_ones_a_write_later(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store)
    second = write(store, text="重建。")  # no live generation given: fresh collections
    assert second.chunks_collection != first.chunks_collection
    write(store, text="再来。", live=second)
    names = {getattr(c, "name", c) for c in store.client.list_collections()}
    assert first.chunks_collection not in names and second.chunks_collection in names
