"""Real Chroma in a temp dir: round trip, fingerprint checks, atomic switch, garbage collection, clear errors."""

import gc
from dataclasses import replace

import numpy as np
import pytest

from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing
from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.store.chunks import MANIFEST, ChunkStore, RowCounts
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


def write_many(store: ChunkStore, texts: list[str], live=None):
    """One document of ``len(texts)`` one-sentence chunks, vectors distinct per text."""
    chunks = [Chunk(id=f"c{i}", doc_id="r.txt", text=t, start=10 * i, end=10 * i + len(t), ordinal=i, page=1, section="")
              for i, t in enumerate(texts)]
    sentences = [Sentence(chunk_id=c.id, text=c.text, start=c.start, end=c.end, page=1) for c in chunks]
    vec = np.eye(len(texts), 384, dtype=np.float32)
    store.counts = RowCounts()
    record = DocumentRecord(sha256="x", chunks=len(texts), indexed_at=0)
    return store.write(FP, {"r.txt": record}, chunks, vec, sentences, vec, live=live)


def names(store: ChunkStore) -> set[str]:
    return {getattr(c, "name", c) for c in store.client.list_collections()}


def test_a_new_generation_adds_only_new_rows_and_keeps_the_previous_one_readable(tmp_path):
    store = ChunkStore(tmp_path / "index")
    texts = [f"第{i}段。" for i in range(8)]
    first = write_many(store, texts)
    second = write_many(store, texts[:-1] + ["新文本。"], live=first)
    assert second.chunks_collection == first.chunks_collection  # long-lived collections, no copy
    assert store.counts.written == 2  # one chunk row and its sentence
    assert store.load_chunks(second)[-1].chunk.text == "新文本。"
    assert store.load_chunks(first)[-1].chunk.text == "第7段。"  # readers holding the old manifest still work
    assert store.garbage.dead_rows(second) == 2  # the first generation's chunk and sentence: 2 of 18, kept
    assert verify(store, second) == []


def test_a_switch_that_leaves_many_dead_rows_compacts_and_drops_the_old_collections_at_once(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store, text="旧文本。")
    second = write(store, text="新文本。", live=first)  # half the rows dead after the switch: compacted right away
    assert store.counts.collected == 2 and second.chunks_collection != first.chunks_collection
    assert store.count_rows(second) == (1, 1) and store.garbage.dead_rows(second) == 0
    assert names(store) == {second.chunks_collection, second.sentences_collection}  # no reader held the old ones
    assert verify(store, second) == []


def test_a_reader_keeps_its_generation_until_it_lets_go(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store, text="旧文本。")
    reader = store.sentence_vectors(first)  # what a retriever holds for its whole life
    second = write(store, text="新文本。", live=first)
    assert first.chunks_collection in names(store)
    stored = store.load_chunks(first)
    assert stored[0].chunk.text == "旧文本。" and reader.fallback.count() == 2  # the collection, with the new rows
    reader.cover({stored[0].row: 1})  # the old row's segment is deleted, and still open for this reader
    assert reader.count() == 1 and reader.segments[-1].name != "memory"
    assert reader.vectors([f"{stored[0].row}:0"]).shape == (1, 384)
    del reader
    gc.collect()
    third = write(store, text="新文本。", live=second)  # unchanged: nothing written, and nothing held any more
    assert store.counts.written == 0
    assert names(store) == {third.chunks_collection, third.sentences_collection}


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
    assert store.counts.collected >= 2 and store.count_rows(third) == (1, 1)
    assert verify(store, third) == []


def test_a_rebuild_writes_fresh_collections_and_drops_the_old_ones_no_reader_holds(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store)
    second = write(store, text="重建。")  # no live generation given: fresh collections
    assert second.chunks_collection != first.chunks_collection
    assert names(store) == {second.chunks_collection, second.sentences_collection}


def test_a_closed_store_reopens_on_its_next_use(tmp_path):
    store = ChunkStore(tmp_path / "index")
    manifest = write(store)
    row = store.load_chunks(manifest)[0].row
    vector = np.eye(1, 384, dtype=np.float32)[0]
    assert store.dense_search(manifest, vector, 5, {row: "c1"})[0][0] == "c1"
    first = store.client
    store.close()
    assert store.client is not first
    assert store.dense_search(manifest, vector, 5, {row: "c1"})[0][0] == "c1"
    assert store.sentence_vectors(manifest).vectors([f"{row}:0"]).shape == (1, 384)


def test_a_retired_instance_is_closed_once_the_reader_on_it_is_collected(tmp_path):
    """Each Chroma instance holds its own copy of the HNSW indexes it loaded: an old one must not outlive its reader."""
    store = ChunkStore(tmp_path / "index")
    manifest = write(store)
    reader = store.sentence_vectors(manifest)  # reads through the first instance
    first = store.client
    store.refresh(reader)
    assert [client for _, client in store._retired] == [first]
    assert reader.fallback.count() == 1  # still open for the reader that holds it
    del reader
    gc.collect()
    assert store._retired == []
    assert store.sentence_vectors(manifest).fallback.count() == 1 and store.client is not first
