"""Giving a local index's dead space back: orphaned Chroma segment folders and free SQLite pages (real Chroma)."""

import uuid

import numpy as np
from chroma_rows import document, free_pages, segment_folders

from assistant.indexing.store.reclaim import disk_bytes, reclaim
from assistant.indexing.store.chunks import ChunkStore
from assistant.indexing.verify import verify

def test_orphaned_segment_folders_and_free_pages_go_back_and_the_live_index_stays(tmp_path):
    store = ChunkStore(tmp_path / "index")
    first = document(store, "a.txt", 1500, 1)
    kept = segment_folders(store)
    reader = store.sentence_vectors(first)  # keeps the collector off the first pair while the second is written
    second = document(store, "b.txt", 300, 2)
    del reader
    store.client.delete_collection(first.chunks_collection)  # what Chroma leaves: the folders, and free pages
    store.client.delete_collection(first.sentences_collection)
    assert segment_folders(store) > kept and free_pages(store) > 0
    (store.index_dir / "chroma" / "notes").mkdir()  # not a segment folder: never touched
    before = disk_bytes(store.index_dir)
    done = reclaim(store.index_dir / "chroma")
    live = segment_folders(store) - {"notes"}
    assert done["folders"] == len(kept) and done["pages"] > 0
    assert not live & kept and len(live) == 2 and (store.index_dir / "chroma" / "notes").is_dir()
    assert free_pages(store) == 0 and disk_bytes(store.index_dir) < before / 2
    assert verify(store, second) == [] and len(store.load_chunks(second)) == 300
    rows = {s.row for s in store.load_chunks(second)}
    vector = np.random.default_rng(2).standard_normal(384).astype(np.float32)
    assert store.dense_search(second, vector, 5, {r: r for r in rows})  # the HNSW folders left are the live ones


def test_a_stray_folder_no_segment_row_names_is_removed(tmp_path):
    store = ChunkStore(tmp_path / "index")
    manifest = document(store, "a.txt", 10, 1)
    stray = tmp_path / "index" / "chroma" / str(uuid.uuid4())
    stray.mkdir()
    (stray / "header.bin").write_bytes(b"x" * 4096)
    reclaim(store.index_dir / "chroma")
    assert not stray.exists() and verify(store, manifest) == []
