"""Garbage collection without deleting rows from live collections: dead rows are compacted away.

Rows no generation references (those of replaced text, and those of a run killed before its
switch) are harmless: every read filters by the live set, and dense search over-fetches by the
dead share. When that share passes ``COMPACT_SHARE``, the next write first copies the live rows
(vectors included, nothing re-embedded) into fresh collections and switches the manifest to them;
the run after drops the old collections, so readers still holding the previous manifest keep
working until then. Live collections are only ever added to: deleting rows would be cheaper per
run, but Chroma 1.5 does not survive a SIGKILL during a delete (replaying the delete on the next
open fails with "Failed to apply logs to the hnsw segment writer" and the collection stays
unreadable), while a killed copy into fresh collections leaves only collections that the next run
drops. (Files Chroma leaves behind for dropped collections are a separate, filesystem-level sweep.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.errors import IndexCorrupt
from assistant.indexing.manifest import Manifest

if TYPE_CHECKING:
    from assistant.indexing.store import ChunkStore

COMPACT_SHARE = 0.25  # compact when more than this share of the stored rows is dead


class Garbage:
    def __init__(self, store: ChunkStore) -> None:
        self.store = store

    def dead_rows(self, live: Manifest) -> int:
        chunks, sentences = self.store.count_rows(live)
        return max(0, chunks - len(live.rows())) + max(0, sentences - live.sentences)

    def collect(self, live: Manifest | None) -> Manifest | None:
        """Drop other builds' collections, compact the live ones if dead rows pile up; the live manifest after."""
        store = self.store
        try:
            current = store.read()
        except IndexCorrupt:
            return live  # without the live generation nothing is safe to drop
        store.drop_unused({current.chunks_collection, current.sentences_collection} if current else set())
        if live is None or current is None or current.version != live.version:
            return live
        dead = self.dead_rows(live)
        chunks, sentences = store.count_rows(live)
        if dead <= COMPACT_SHARE * (chunks + sentences):
            return live
        compacted = store.copy_generation(live)
        store.counts.collected += dead
        return compacted
