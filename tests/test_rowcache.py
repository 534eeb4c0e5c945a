"""The row cache: an open reads its rows instead of Chroma's, and never trusts a row whose content its id denies."""

from dataclasses import replace

import numpy as np
import pytest

from assistant.indexing.store.rowcache import ROWS, load_rows, save_rows, worth_rewriting
from assistant.indexing.store.rows import layout_spans, parse_layout
from assistant.indexing.store.chunks import ChunkStore, RowCounts
from test_store import write


def _fresh_read(index_dir):
    store = ChunkStore(index_dir)
    stored = store.load_chunks(store.manifest())
    return stored, store.counts.read


def test_an_open_after_a_write_reads_no_chunk_row_from_chroma(tmp_path):
    write(ChunkStore(tmp_path / "index"))
    cached, read = _fresh_read(tmp_path / "index")
    assert read == 0
    (tmp_path / "index" / ROWS).unlink()
    uncached, read = _fresh_read(tmp_path / "index")
    assert read == 1 and uncached == cached
    assert _fresh_read(tmp_path / "index")[1] == 0  # the reader put the rows it read back into the cache


def test_a_row_whose_content_does_not_match_its_id_is_read_from_chroma(tmp_path):
    write(ChunkStore(tmp_path / "index"), text="微软投资了100亿美元。")
    (row, content), = load_rows(tmp_path / "index").items()
    save_rows(tmp_path / "index", {row: replace(content, text="微软投资了900亿美元。")})
    assert load_rows(tmp_path / "index") == {}
    stored, read = _fresh_read(tmp_path / "index")
    assert read == 1 and stored[0].chunk.text == "微软投资了100亿美元。"


def test_an_unreadable_cache_is_ignored(tmp_path):
    store = ChunkStore(tmp_path / "index")
    write(store)
    (tmp_path / "index" / ROWS).write_bytes(b"not a zip file")
    store.counts = RowCounts()
    assert store.load_chunks(store.manifest())[0].chunk.text.startswith("微软") and store.counts.read == 1


def test_layouts_parse_in_one_pass_as_one_by_one():
    layouts = ["0,12,0;12,40,1", "", "3,9,0"]
    counts, spans = layout_spans(layouts)
    assert counts.tolist() == [2, 0, 1]
    assert [tuple(s) for s in spans.tolist()] == [span for layout in layouts for span in parse_layout(layout)]
    with pytest.raises(ValueError, match="malformed"):
        layout_spans(["0,12"])
    assert layout_spans([""])[1].shape == (0, 3) and np.sum(layout_spans([])[0]) == 0


def test_the_cache_is_rewritten_only_when_far_from_the_live_set():
    assert worth_rewriting(missing=1, extra=0, live=1)  # a first build, or no cache yet
    assert worth_rewriting(missing=0, extra=2, live=100)  # many dead rows
    assert not worth_rewriting(missing=1, extra=1, live=100_000)  # an edit in a library: read 1 row from Chroma
