"""Garbage collection without deleting rows from live collections: dead rows are compacted away.

Rows no generation references (those of replaced text, and those of a run killed before its
switch) are harmless: every read filters by the live set, and dense search over-fetches by the
dead share. Right after a switch (``settle``), and before a write for a killed run's rows, when
that share passes ``COMPACT_SHARE`` the live rows are copied (vectors included, nothing
re-embedded) into fresh collections and the manifest switches to them. Collections no manifest
names are dropped as soon as no reader holds them (holds.py): a reader keeps its generation for
as long as its retriever lives, and the OS releases a killed reader's hold. Then the files Chroma
leaves behind for dropped collections, and SQLite's free pages, go back to the disk (reclaim.py).
Live collections are only ever added to: deleting rows would be cheaper per run, but Chroma 1.5
does not survive a SIGKILL during a delete (replaying the delete on the next open fails with
"Failed to apply logs to the hnsw segment writer" and the collection stays unreadable), while a
killed copy into fresh collections leaves only collections that the next run drops.

Server mode (``store.chroma_url``) has no folder to hold generations in, and readers on other machines take no
lock here: a switch stamps the collections it retires with its time, and a write drops them only once
``store.retire_grace_s`` has passed since (longer than any answer takes). Collections of the library no manifest
ever named (a killed run's) are dropped at once: only the lease holder (lease.py) writes, and it collects before
it creates its own. The server owns its files.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chromadb.errors import ChromaError

from assistant.errors import IndexCorrupt
from assistant.indexing.store.board import is_board
from assistant.indexing.store.holds import forget, generation_of, unheld
from assistant.indexing.store.lease import is_lease
from assistant.indexing.store.manifest import Manifest
from assistant.indexing.store.reclaim import reclaim
from assistant.indexing.store.vectorfile import fingerprint_key

if TYPE_CHECKING:
    from assistant.indexing.store.chunks import ChunkStore

log = logging.getLogger(__name__)
COMPACT_SHARE = 0.25  # compact when more than this share of the stored rows is dead
@dataclass(frozen=True)
class Retired:
    """A collection no manifest names now; ``retired_at`` is when a switch retired it (server mode), None when no
    manifest ever named it (a killed run's)."""

    name: str
    retired_at: float | None


RETIRED_AT = "retired_at"  # server mode: collection metadata, when a switch retired the collection


class Garbage:
    def __init__(self, store: ChunkStore) -> None:
        self.store = store

    def dead_rows(self, live: Manifest) -> int:
        chunks, sentences = self.store.count_rows(live)
        return max(0, chunks - len(live.rows())) + max(0, sentences - live.sentences)

    def collect(self, live: Manifest | None) -> Manifest | None:
        """Before a write: drop other builds' collections, compact the live ones if dead rows pile up."""
        try:
            current = self.store.read()
        except IndexCorrupt:
            return live  # without the live generation nothing is safe to drop
        self.drop(current)
        if live is None or current is None or current.version != live.version:
            return live
        return self.compact(live)

    def settle(self, live: Manifest, *, switched: bool = True) -> Manifest:
        """After a switch (local index): compact if it left many dead rows, drop what no reader holds, give the
        space back (also what a killed collector left). Without a switch, sweep only after a drop. The live
        manifest after."""
        if self.store.url:
            return live
        live = self.compact(live)
        missing = self.store.vector_files.settle(live.rows(), fingerprint_key(live.fingerprint))
        self.store.complete_vectors(live, missing)
        if self.drop(live) or switched:
            reclaim(self.store.index_dir / "chroma")
        return live

    def compact(self, live: Manifest) -> Manifest:
        dead = self.dead_rows(live)
        chunks, sentences = self.store.count_rows(live)
        if dead <= COMPACT_SHARE * (chunks + sentences):
            return live
        compacted = self.store.copy_generation(live)
        self.store.counts.collected += dead
        return compacted

    def retired(self, current: Manifest | None) -> dict[str, list[Retired]]:
        """Collections of this prefix that ``current`` does not name, by generation (one listing: it carries each
        collection's metadata, so the grace period costs no request per collection)."""
        store = self.store
        keep = {current.chunks_collection, current.sentences_collection} if current else set()
        generations: dict[str, list[Retired]] = {}
        for collection in store.client.list_collections():
            name = collection.name
            if name.startswith(store.prefix + "-") and name not in keep and name != f"{store.prefix}-manifest" and not is_lease(store.prefix, name) and not is_board(store.prefix, name):
                retired_at = (collection.metadata or {}).get(RETIRED_AT)
                generations.setdefault(generation_of(name), []).append(Retired(name, None if retired_at is None else float(retired_at)))
        return generations

    def drop(self, current: Manifest | None) -> int:
        """Drop the collections ``current`` does not name and no reader holds; how many were dropped."""
        dropped = 0
        for generation, collections in sorted(self.retired(current).items()):
            names = [c.name for c in collections]
            if self.store.url:
                dropped += self._delete([c.name for c in collections if self._past_grace(c)])
                continue
            with unheld(self.store.index_dir, generation) as free:
                if not free:
                    log.info("keeping %s: a reader still holds it", generation)
                    continue
                dropped += self._delete(names)
                forget(self.store.index_dir, generation)
        return dropped

    def _past_grace(self, collection: Retired) -> bool:
        """Server mode: whether no reader can still be answering from this collection (see the module's docstring)."""
        return collection.retired_at is None or time.time() - collection.retired_at >= self.store.retire_grace_s

    def _delete(self, names: list[str]) -> int:
        deleted = 0
        for name in names:
            try:
                self.store.client.delete_collection(name)
                deleted += 1
            except (ChromaError, ValueError) as exc:
                log.warning("could not delete old collection %s: %s", name, exc)
        return deleted
