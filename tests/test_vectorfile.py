"""Sentence vector segments beside a real Chroma index: exact and approximate search, dead rows, what the indexer
writes, settles and merges, and what a reader keeps when segments go away."""

import numpy as np
import pytest
from chroma_rows import FP, document, remove

from assistant.indexing.store import vectorfile
from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.store.rows import parse_layout
from assistant.indexing.store.chunks import ChunkStore, RowCounts
from assistant.indexing.store.vectorfile import FileVectors, fingerprint_key
from assistant.service import Assistant
from assistant.types import Chunk, Sentence


def covered(store: ChunkStore, manifest) -> FileVectors:
    """A reader's view of the generation, as the retriever builds it."""
    source = store.sentence_vectors(manifest)
    source.cover({s.row: len(parse_layout(s.layout)) for s in store.load_chunks(manifest)})
    return source


def chroma_vectors(store: ChunkStore, ids: list[str]) -> np.ndarray:
    return covered(store, store.manifest()).fallback.vectors(ids)


def segment_files(store: ChunkStore) -> list[str]:
    return sorted(p.name for p in store.vector_files.folder.iterdir())


def test_search_over_the_report_is_exact_and_reads_the_vectors_chroma_holds(report_assistant: Assistant):
    store = ChunkStore(report_assistant.store.index_dir)
    source = covered(store, store.manifest())
    assert source.count() == 296 and all(s.name != "memory" for s in source.segments)
    ids = [f"{s.row}:{k}" for s in store.load_chunks(store.manifest()) for k in range(len(parse_layout(s.layout)))]
    everything = source.fallback.vectors(ids)
    shuffled = list(np.random.default_rng(1).permutation(len(ids)))
    assert np.allclose(source.vectors([ids[i] for i in shuffled]), everything[shuffled], atol=1e-6)
    question = report_assistant.embedder.query("How much did Microsoft invest in OpenAI?")
    found, vectors = source.nearest(question, 20)
    exact = np.argsort(-(everything @ question), kind="stable")[:20]
    assert found == [ids[i] for i in exact] and np.allclose(vectors, everything[exact], atol=1e-6)


def test_approximate_search_above_the_candidate_count_finds_the_nearest(tmp_path, monkeypatch):
    monkeypatch.setattr(vectorfile, "CANDIDATES", 64)  # 3000 sentences, 64 re-scored: ranked by sign codes first
    store = ChunkStore(tmp_path / "index")
    manifest = document(store, "a.txt", 1500, 1)
    source = covered(store, manifest)
    ids = [f"{row}:{k}" for row in sorted(manifest.rows()) for k in range(2)]
    rng = np.random.default_rng(5)
    picked = rng.choice(len(ids), 20, replace=False)
    stored = source.vectors([ids[i] for i in picked])
    for i, vector in zip(picked, stored):
        noisy = vector + rng.standard_normal(384).astype(np.float32) * 0.3
        found, _ = source.nearest(noisy, 1)
        assert found == [ids[i]]


def test_dead_rows_are_never_found_and_a_segment_without_live_rows_is_deleted(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = document(store, "a.txt", 300, 1)
    both = document(store, "b.txt", 300, 2, live=first)
    assert len(store.vector_files.segments()) == 2
    dead = covered(store, both)  # a reader of both documents, before a.txt goes
    a_rows = {row for row in first.rows()}
    a_vectors = dead.vectors([f"{row}:0" for row in sorted(a_rows)[:5]])
    only_b = remove(store, both, "a.txt")
    assert len(store.vector_files.segments()) == 1  # a.txt's segment served no live row
    source = covered(store, only_b)
    assert source.count() == 600
    for vector in a_vectors:
        found, _ = source.nearest(vector, 10)
        assert found and not any(sid.rpartition(":")[0] in a_rows for sid in found)
    found, _ = dead.nearest(a_vectors[0], 1)  # the earlier reader still reads the deleted segment
    assert found[0].rpartition(":")[0] in a_rows


def test_missing_segments_are_read_from_chroma_until_the_indexer_writes_them(tmp_path):
    store = ChunkStore(tmp_path / "index")
    manifest = document(store, "a.txt", 200, 3)
    ids = [f"{row}:{k}" for row in sorted(manifest.rows()) for k in range(2)]
    expected = chroma_vectors(store, ids)
    for path in store.vector_files.folder.iterdir():
        path.unlink()  # an index from before segments, or lost files
    reader = covered(ChunkStore(store.index_dir), manifest)
    assert [s.name for s in reader.segments] == ["memory"] and reader.count() == 400
    assert np.allclose(reader.vectors(ids), expected, atol=1e-6)
    store.garbage.settle(manifest, switched=False)  # what an unchanged `assistant index` does
    assert store.counts.read == 400 and len(segment_files(store)) == 2
    fresh = covered(ChunkStore(store.index_dir), manifest)
    assert all(s.name != "memory" for s in fresh.segments)
    assert np.allclose(fresh.vectors(ids), expected, atol=1e-6)
    store.counts = RowCounts()
    store.garbage.settle(manifest, switched=False)
    assert store.counts.read == 0 and len(segment_files(store)) == 2  # nothing missing any more


def test_settle_merges_many_segments_and_deletes_damaged_and_foreign_files(tmp_path, monkeypatch):
    monkeypatch.setattr(vectorfile, "MAX_SEGMENTS", 2)
    store = ChunkStore(tmp_path / "index")
    live = None
    for i, name in enumerate(["a.txt", "b.txt", "c.txt", "d.txt"]):
        live = document(store, name, 100, i + 1, live=live)
        assert len(store.vector_files.segments()) <= 2
    folder = store.vector_files.folder
    (folder / "00000000000000000001-broken.npz").write_bytes(b"not a segment")
    (folder / "00000000000000000002-orphan.f32").write_bytes(b"\0" * 1536)
    store.vector_files.add(fingerprint_key({"embedding_model": "other"}), ["x.1:0"], [1], [np.ones((1, 384), np.float32)])
    ids = [f"{row}:{k}" for row in sorted(live.rows()) for k in range(2)]
    expected = chroma_vectors(store, ids)
    store.garbage.settle(live, switched=False)
    assert len(segment_files(store)) == 4  # two segments, nothing else
    assert {s.fingerprint for s in store.vector_files.segments()} == {fingerprint_key(FP)}
    source = covered(ChunkStore(store.index_dir), live)
    assert source.count() == 800 and all(s.name != "memory" for s in source.segments)
    assert np.allclose(source.vectors(ids), expected, atol=1e-6)


def one_segment(store: ChunkStore, sizes: dict[str, int]):
    """Documents of one-sentence chunks written in one write, so one segment holds them all; and their vectors."""
    rng = np.random.default_rng(9)
    chunks = [Chunk(f"{d}{i}", d, f"{d}第{i}句。", 0, 8, i, 1, "") for d, n in sizes.items() for i in range(n)]
    sentences = [Sentence(c.id, c.text, 0, len(c.text), 1) for c in chunks]
    documents = {d: DocumentRecord(sha256=d, chunks=n, indexed_at=0) for d, n in sizes.items()}
    vectors = rng.standard_normal((len(chunks), 384)).astype(np.float32)
    return store.write(FP, documents, chunks, vectors, sentences, vectors), vectors


def test_a_mostly_dead_segment_is_rewritten_with_its_live_rows(tmp_path):
    store = ChunkStore(tmp_path / "index")
    both, vectors = one_segment(store, {"a.txt": 200, "b.txt": 200})
    [segment] = store.vector_files.segments()
    only_b = remove(store, both, "a.txt")  # half of the one segment dead
    [rewritten] = store.vector_files.segments()
    assert rewritten.name != segment.name and len(rewritten) == 200 and set(rewritten.rows) == only_b.rows()
    assert np.allclose(covered(store, only_b).vectors([f"{row}:0" for row in rewritten.rows]), vectors[200:], atol=1e-6)


@pytest.mark.parametrize("candidates", [vectorfile.CANDIDATES, 16])  # exact, and ranked by sign codes first
def test_dead_rows_in_a_kept_segment_are_never_found(tmp_path, monkeypatch, candidates):
    monkeypatch.setattr(vectorfile, "CANDIDATES", candidates)
    store = ChunkStore(tmp_path / "index")
    both, vectors = one_segment(store, {"a.txt": 20, "b.txt": 200})
    a_rows = both.rows() - {row for row in both.documents["b.txt"].chunk_rows}
    only_b = remove(store, both, "a.txt")  # a tenth dead: kept as it is
    [segment] = store.vector_files.segments()
    assert len(segment) == 220
    source = covered(store, only_b)
    assert source.count() == 200
    for vector in vectors[:20]:
        found, _ = source.nearest(vector, 5)
        assert len(found) == 5 and not any(sid.rpartition(":")[0] in a_rows for sid in found)


def test_a_segment_that_cannot_be_written_costs_only_a_chroma_read(tmp_path, monkeypatch):
    store = ChunkStore(tmp_path / "index")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vectorfile, "_write", full_disk)
    manifest = document(store, "a.txt", 50, 4)
    assert store.vector_files.segments() == []
    reader = covered(store, manifest)
    assert [s.name for s in reader.segments] == ["memory"] and reader.count() == 100
    found, _ = reader.nearest(reader.vectors([f"{sorted(manifest.rows())[0]}:1"])[0], 1)
    assert found == [f"{sorted(manifest.rows())[0]}:1"]


@pytest.mark.parametrize("dims", [384, 100])
def test_sign_codes_pack_one_bit_per_dimension(dims):
    rng = np.random.default_rng(dims)
    vectors = rng.standard_normal((10, dims)).astype(np.float32)
    codes = vectorfile.sign_codes(vectors, np.zeros(dims, np.float32))
    assert codes.shape == (10, -(-dims // 64))
    assert np.bitwise_count(codes).sum(axis=1).tolist() == (vectors > 0).sum(axis=1).tolist()
