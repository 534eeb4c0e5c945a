"""Garbage collection on real Chroma: what an add-then-remove cycle leaves on disk, and what readers keep."""

import gc

from chroma_rows import document, free_pages, remove, segment_folders

from assistant.indexing.store.reclaim import disk_bytes
from assistant.indexing.store.chunks import ChunkStore
from assistant.indexing.store.vectorfile import Segment
from assistant.indexing.verify import verify


def test_an_add_then_remove_cycle_gives_the_disk_back(tmp_path):
    store = ChunkStore(tmp_path / "index")
    built = document(store, "report.txt", 1500, 1)
    start = disk_bytes(store.index_dir)
    added = document(store, "added.txt", 1500, 2, live=built)
    grown = disk_bytes(store.index_dir)
    assert grown > 1.6 * start
    removed = remove(store, added, "added.txt")  # half the rows dead: compacted, the old pair dropped and swept
    end = disk_bytes(store.index_dir)
    assert end <= 1.1 * start, (start, grown, end)  # (a compacted copy can be smaller than the first build)
    assert len(segment_folders(store)) == 2 and free_pages(store) == 0
    assert verify(store, removed) == [] and set(removed.documents) == {"report.txt"}
    assert store.garbage.dead_rows(removed) == 0


def test_a_held_generation_is_given_back_by_the_run_after_its_reader_let_go(tmp_path):
    store = ChunkStore(tmp_path / "index")
    built = document(store, "report.txt", 1500, 1)
    added = document(store, "added.txt", 1500, 2, live=built)
    start = disk_bytes(store.index_dir)
    reader = store.sentence_vectors(added)  # a retriever on the two-document generation
    removed = remove(store, added, "added.txt")
    assert added.chunks_collection in {c.name for c in store.client.list_collections()}
    stored = store.load_chunks(added)
    reader.cover({s.row: 2 for s in stored})  # from the segments it opened: the deleted one's file stays readable
    assert len(stored) == 3000 and reader.count() == 6000  # still complete for its reader
    assert isinstance(reader.segments[-1], Segment) and reader.segments[-1].name != "memory"
    del reader
    gc.collect()
    store.garbage.settle(store.read())  # what the next `assistant index` does, changes or not
    assert disk_bytes(store.index_dir) < 0.7 * start and len(segment_folders(store)) == 2
    assert verify(store, removed) == []
