"""Real Chroma in a temp dir: round trip, fingerprint checks, atomic switch, clear errors."""

import numpy as np
import pytest

import assistant.indexing.store as store_module
from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing
from assistant.indexing.manifest import DocumentRecord
from assistant.indexing.store import MANIFEST, ChunkStore
from assistant.types import Chunk, Sentence

FP = {"embedding_model": "m1", "chunk_max_chars": "500"}


def sample(text: str = "微软对OpenAI的100亿美元投资。") -> tuple[list[Chunk], list[Sentence]]:
    chunk = Chunk(id="c1", doc_id="r.txt", text=text, start=0, end=len(text), ordinal=0, page=3, section="摘要", heading="")
    return [chunk], [Sentence(chunk_id="c1", text=text, start=0, end=len(text), page=3)]


def write(store: ChunkStore, fingerprint=FP, text: str = "微软对OpenAI的100亿美元投资。"):
    chunks, sentences = sample(text)
    vec = np.eye(1, 384, dtype=np.float32)
    return store.write(fingerprint, {"r.txt": DocumentRecord(sha256="x", chunks=1, indexed_at=0)}, chunks, vec, sentences, vec)


def test_round_trip(tmp_path):
    store = ChunkStore(tmp_path / "index")
    manifest = write(store)
    assert store.load_chunks(manifest)[0][0].page == 3
    sentences, vectors = store.load_sentences(manifest)
    assert sentences[0].text.startswith("微软") and vectors.shape == (1, 384)
    assert store.dense_search(manifest, np.eye(1, 384, dtype=np.float32)[0], 5)[0][0] == "c1"


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


def test_a_new_build_switches_atomically_and_keeps_one_previous_generation(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = write(store, text="旧文本。")
    second = write(store, text="新文本。")
    assert store.load_chunks(second)[0][0].text == "新文本。"
    assert store.load_chunks(first)[0][0].text == "旧文本。"  # readers holding the old manifest still work
    third = write(store, text="第三版。")
    names = {getattr(c, "name", c) for c in store.client.list_collections()}
    assert first.chunks_collection not in names
    assert {second.chunks_collection, third.chunks_collection} <= names


def test_sentences_load_in_stored_order_across_requests(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "CHUNKS_PER_REQUEST", 2)  # five chunks: three requests, the last one partial
    chunks = [Chunk(f"c{i}", "r.txt", f"第{i}段。", 10 * i, 10 * i + 4, i, 1, "摘要") for i in range(5)]
    sentences = [Sentence(f"c{i}", f"第{i}段第{j}句。", 10 * i + j, 10 * i + j + 1) for i in range(5) for j in range(3)]
    rng = np.random.default_rng(0)
    sentence_vectors = rng.standard_normal((len(sentences), 384)).astype(np.float32)
    store = ChunkStore(tmp_path / "index")
    manifest = store.write(FP, {"r.txt": DocumentRecord(sha256="x", chunks=5, indexed_at=0)}, chunks, rng.standard_normal((5, 384)).astype(np.float32),
                           sentences, sentence_vectors)
    loaded, vectors = store.load_sentences(manifest)
    assert loaded == sentences
    assert np.allclose(vectors, sentence_vectors, atol=1e-6)  # Chroma may round the last bit
