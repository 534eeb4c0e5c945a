"""Sentence vectors beside the index (``index/vectors/``), searched without loading them into memory.

In local mode Chroma loads a collection's whole HNSW index into the process on its first read,
``get`` by id included: 900k sentence vectors cost ~1.5 GB of resident memory in every reader.
So each write also puts the sentence vectors of its new rows into a *segment*: ``<name>.usearch``,
a usearch HNSW index of the float32 vectors (keys: sentence offsets in the segment), which readers
open memory-mapped (``view=True``: the page cache is the OS's, not the process's), and ``<name>.npz``,
written last and atomically, which holds the segment's row ids and sentence counts. A segment exists
once its ``.npz`` does. Search asks each segment's HNSW for its nearest sentences (all of them, exactly,
while no more than ``CANDIDATES`` sentences are live), skips dead ones, and re-scores the rest from
their stored vectors. Chroma stays the system of record: a reader reads the rows the segments lack
from it, so a lost or damaged segment costs time, never answers (the indexer writes what the segments
lack at its next run). Rows are immutable and content-keyed, so one row's vectors are the same in
every segment of one fingerprint; the newest segment that holds a row serves it. ``VectorFiles.settle``
(after each switch, under the indexer's lock) deletes segments without live rows and merges those
that are mostly dead or too many; a reader keeps a deleted segment readable through its mapping.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from usearch.index import Index

from assistant.indexing.store.manifest import write_atomic_with
from assistant.indexing.store.rowcache import pack_strings, unpack_strings

log = logging.getLogger(__name__)
VECTORS = "vectors"
CANDIDATES = 4096  # up to this many live sentences, search is exact (every vector scored)
MAX_SEGMENTS = 8  # more are merged (the smallest first), so a search touches few files
COMPACT_SHARE = 0.25  # a segment with more dead sentences than this is rewritten with its live ones
BLOCK = 5000  # rows per block when a segment is written or merged
INDEX = ".usearch"  # the segment's vectors and graph; ``.npz`` (its rows) is written after it


def fingerprint_key(fingerprint: Mapping[str, str]) -> str:
    return json.dumps(dict(fingerprint), sort_keys=True)


def new_index(dim: int) -> Index:
    """Inner product over the stored float32 vectors (normalised E5 vectors: the cosine)."""
    return Index(ndim=dim, metric="ip", dtype="f32")


class Segment:
    """One segment: its row ids and sentence counts in memory, its vectors in a usearch index (memory-mapped from
    its file, or in memory when it could not be written); ``None`` for a segment without sentences."""

    def __init__(self, name: str, fingerprint: str, rows: list[str], counts: np.ndarray, index: Index | None) -> None:
        self.name, self.fingerprint, self.rows = name, fingerprint, rows
        self.counts = counts.astype(np.int64)
        self.first = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=self.first[1:])
        self.index = index

    def __len__(self) -> int:
        return int(self.first[-1])

    def nearest(self, vector: np.ndarray, count: int, *, exact: bool) -> np.ndarray:
        """The offsets of the ``count`` sentences nearest ``vector``, by the index's own search."""
        if self.index is None or not len(self):
            return np.zeros(0, dtype=np.int64)
        found = self.index.search(vector, min(count, len(self)), exact=exact)
        return np.asarray(found.keys, dtype=np.int64)

    def read(self, offsets: np.ndarray) -> np.ndarray:
        """The stored vectors at these sentence offsets, in the order asked."""
        if self.index is None or not len(offsets):
            return np.zeros((len(offsets), self.index.ndim if self.index is not None else 0), dtype=np.float32)
        vectors = self.index.get(np.asarray(offsets, dtype=np.uint64), dtype=np.float32)
        if vectors is None or any(v is None for v in vectors):
            raise OSError(f"sentence vector segment {self.name} lacks vectors its rows name")
        return np.asarray(vectors, dtype=np.float32).reshape(len(offsets), -1)

    def blocks(self, row_indexes: list[int]) -> Iterable[np.ndarray]:
        """The vectors of these rows' sentences, a block of rows at a time (a merge never holds a segment in memory)."""
        for i in range(0, len(row_indexes), BLOCK):
            part = row_indexes[i : i + BLOCK]
            yield self.read(np.concatenate([np.arange(self.first[j], self.first[j + 1]) for j in part]))


def _open(folder: Path, name: str) -> Segment:
    with np.load(folder / f"{name}.npz") as data:
        rows = unpack_strings(data["rows"], data["rows_offsets"])
        counts, fingerprint = data["counts"], str(data["fingerprint"])
    index = None
    if counts.sum():
        index = Index.restore(str(folder / f"{name}{INDEX}"), view=True)
        if index is None or len(index) != int(counts.sum()):
            raise ValueError(f"{name}{INDEX} does not hold the segment's {int(counts.sum())} sentences")
    return Segment(name, fingerprint, rows, counts, index)


def _indexed(blocks: Iterable[np.ndarray]) -> Index | None:
    """A usearch index of the blocks' vectors, keyed by their running offset; None when there are none."""
    index, offset = None, 0
    for block in blocks:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if not len(block):
            continue
        index = index or new_index(block.shape[1])
        index.add(np.arange(offset, offset + len(block), dtype=np.uint64), block)
        offset += len(block)
    return index


def _write(folder: Path, fingerprint: str, rows: list[str], counts: list[int], blocks: Iterable[np.ndarray]) -> Segment:
    """The index first (flushed to disk), then the rows that make the segment exist."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
    path = folder / f"{name}{INDEX}"
    try:
        index = _indexed(blocks)
        if index is not None:
            index.save(str(path))
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        buffer, offsets = pack_strings(rows)
        arrays = {"rows": buffer, "rows_offsets": offsets, "counts": np.asarray(counts, dtype=np.int32),
                  "fingerprint": np.asarray(fingerprint)}
        write_atomic_with(folder / f"{name}.npz", lambda handle: np.savez(handle, **arrays))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return _open(folder, name)


class VectorFiles:
    """The segments of one index folder, opened once per store (a reload after an edit reads only the new one)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[str, Segment] = {}
        self._lock = threading.Lock()

    def segments(self, fingerprint: str | None = None) -> list[Segment]:
        """The readable segments, oldest first; of one fingerprint when given."""
        names = sorted(p.stem for p in self.folder.glob("*.npz")) if self.folder.is_dir() else []
        with self._lock:
            self._open = {name: seg for name, seg in self._open.items() if name in names}
            for name in names:
                if name not in self._open:
                    try:
                        self._open[name] = _open(self.folder, name)
                    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
                        log.warning("ignoring unreadable sentence vector segment %s: %s", name, exc)
            found = [self._open[name] for name in names if name in self._open]
        return [seg for seg in found if fingerprint is None or seg.fingerprint == fingerprint]

    def add(self, fingerprint: str, rows: list[str], counts: list[int], blocks: Iterable[np.ndarray]) -> Segment:
        """A new segment of these rows (their sentence counts, and the sentences' vectors block by block). Raises
        OSError when it cannot be written."""
        segment = _write(self.folder, fingerprint, rows, counts, blocks)
        with self._lock:
            self._open[segment.name] = segment
        return segment

    def settle(self, live: set[str], fingerprint: str) -> set[str]:
        """Delete segments no live row needs, merge those mostly dead or too many; under the indexer's lock. The live
        rows no segment holds."""
        if not self.folder.is_dir():
            return set(live)
        for path in self.folder.glob("*.tmp"):
            path.unlink(missing_ok=True)
        segments = self.segments()
        readable = {s.name for s in segments}
        for path in [*self.folder.glob(f"*{INDEX}"), *self.folder.glob("*.npz"), *self.folder.glob("*.f32")]:
            if path.stem not in readable:  # a writer killed before its rows, a damaged segment, or an older format
                path.unlink(missing_ok=True)
        for segment in segments:
            if segment.fingerprint != fingerprint:
                self._remove(segment)
        chosen = choose([s for s in segments if s.fingerprint == fingerprint], live)
        keep = []
        for segment, rows in chosen:
            if not rows:
                self._remove(segment)
            else:
                keep.append((segment, rows))
        merge = [(s, rows) for s, rows in keep if segment_dead_share(s, rows) > COMPACT_SHARE]
        rest = sorted(((s, rows) for s, rows in keep if segment_dead_share(s, rows) <= COMPACT_SHARE), key=lambda p: len(p[0]))
        while rest and len(rest) + bool(merge) > MAX_SEGMENTS:
            merge.append(rest.pop(0))
        if merge and (len(merge) > 1 or segment_dead_share(*merge[0]) > COMPACT_SHARE):
            self._merge(fingerprint, merge)
        return live - {s.rows[j] for s, rows in keep for j in rows}

    def _merge(self, fingerprint: str, parts: list[tuple[Segment, list[int]]]) -> None:
        rows = [s.rows[j] for s, chosen in parts for j in chosen]
        counts = [int(s.counts[j]) for s, chosen in parts for j in chosen]
        blocks = (block for s, chosen in parts for block in s.blocks(chosen))
        try:
            self.add(fingerprint, rows, counts, blocks)
        except OSError as exc:
            log.warning("could not merge sentence vector segments: %s", exc)
            return
        for segment, _ in parts:
            self._remove(segment)
        log.info("merged %d sentence vector segments (%d rows)", len(parts), len(rows))

    def _remove(self, segment: Segment) -> None:
        """The index first: without it the segment no longer exists, whatever happens to its vectors."""
        for suffix in (".npz", INDEX):
            (self.folder / f"{segment.name}{suffix}").unlink(missing_ok=True)
        with self._lock:
            self._open.pop(segment.name, None)


def choose(segments: list[Segment], rows: Mapping[str, int] | set[str]) -> list[tuple[Segment, list[int]]]:
    """Each segment with the indexes of the rows it serves: every wanted row from the newest segment holding it
    (with the wanted sentence count, when ``rows`` maps rows to counts)."""
    counts = rows if isinstance(rows, Mapping) else None
    taken: set[str] = set()
    chosen = []
    for segment in reversed(segments):
        mine = []
        for j, row in enumerate(segment.rows):
            if row in rows and row not in taken and (counts is None or counts[row] == segment.counts[j]):
                mine.append(j)
                taken.add(row)
        chosen.append((segment, mine))
    return chosen[::-1]


def segment_dead_share(segment: Segment, chosen: list[int]) -> float:
    live = int(segment.counts[chosen].sum()) if chosen else 0
    return 1.0 - live / len(segment) if len(segment) else 0.0


class FileVectors:
    """The ``SentenceVectorSource`` of a local index: the live sentences' vectors from the segments.

    ``fallback`` is the sentence collection (and holds the reader's lock on the generation, holds.py): rows no
    segment holds are read from it, once, by ``cover``. Readers never write segments; the indexer does.
    """

    def __init__(self, files: VectorFiles, fingerprint: str, fallback) -> None:
        self.files, self.fingerprint, self.fallback = files, fingerprint, fallback
        self.segments = files.segments(fingerprint)
        self._where: dict[str, tuple[int, int]] = {}
        self._dead: list[np.ndarray] = []
        self._live = 0

    def cover(self, rows: Mapping[str, int], *, fill: bool = True) -> None:
        """Serve exactly these rows (row id → sentence count); with ``fill``, rows no segment holds are read from
        the collection and kept in memory (the indexer writes them beside the index at its next run)."""
        chosen = choose(self.segments, rows)
        served = {seg.rows[j] for seg, js in chosen for j in js}
        missing = [row for row in rows if rows[row] and row not in served]
        if fill and missing:
            self.segments.append(self._fill(missing, [rows[row] for row in missing]))
            chosen.append((self.segments[-1], list(range(len(missing)))))
        self._where, self._dead, self._live = {}, [], 0
        for s, (segment, js) in enumerate(chosen):
            alive = np.zeros(len(segment.rows), dtype=bool)
            alive[js] = True
            for j in js:
                self._where[segment.rows[j]] = (s, int(segment.first[j]))
            self._dead.append(np.flatnonzero(~np.repeat(alive, segment.counts)))
            self._live += len(segment) - len(self._dead[-1])

    def _fill(self, rows: list[str], counts: list[int]) -> Segment:
        log.warning("%d rows' sentence vectors are not beside the index; reading them from Chroma (`assistant index` "
                    "keeps them there)", len(rows))
        ids = [f"{row}:{k}" for row, n in zip(rows, counts) for k in range(n)]
        blocks = (self.fallback.vectors(ids[i : i + BLOCK]) for i in range(0, len(ids), BLOCK))
        return Segment("memory", self.fingerprint, rows, np.asarray(counts), _indexed(blocks))

    def count(self) -> int:
        return self._live

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        """The ``n`` nearest live sentences and their vectors, nearest first: exact up to ``CANDIDATES`` live ones.

        Each segment's index is asked for more neighbours until ``n`` live ones are among them (dead sentences stay
        in a segment until it is merged); the candidates are re-scored from their stored vectors, ties in segment
        order, so the ranking never depends on the index's arithmetic."""
        live = [s for s, segment in enumerate(self.segments) if len(segment) > len(self._dead[s])]
        if not live or n <= 0:
            return [], np.zeros((0, len(vector)), dtype=np.float32)
        exact = self._live <= CANDIDATES
        picks = []
        for s in live:
            segment, dead = self.segments[s], self._dead[s]
            count = n + min(len(dead), n)
            while True:
                found = segment.nearest(vector, count, exact=exact)
                alive = found[~np.isin(found, dead, assume_unique=True)]
                if len(alive) >= n or count >= len(segment):
                    break
                count = min(len(segment), 4 * count)
            picks.append(np.sort(alive[:n]))
        matrix = np.vstack([self.segments[s].read(offsets) for s, offsets in zip(live, picks)])
        order = np.argsort(-(matrix @ vector), kind="stable")[:n]
        owners = np.repeat(np.arange(len(live)), [len(offsets) for offsets in picks])[order]
        offsets = np.concatenate(picks)[order]
        return [self._id(live[i], int(o)) for i, o in zip(owners.tolist(), offsets.tolist())], matrix[order]

    def _id(self, s: int, offset: int) -> str:
        segment = self.segments[s]
        row = int(np.searchsorted(segment.first, offset, side="right")) - 1
        return f"{segment.rows[row]}:{offset - segment.first[row]}"

    def stored(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The vectors of those ids the covered rows hold."""
        by_segment: dict[int, list[tuple[str, int]]] = {}
        for sid in ids:
            row, _, k = sid.rpartition(":")
            where = self._where.get(row)
            if where is not None:
                by_segment.setdefault(where[0], []).append((sid, where[1] + int(k)))
        found = {}
        for s, items in by_segment.items():
            found.update(zip([sid for sid, _ in items], self.segments[s].read(np.asarray([o for _, o in items]))))
        return found

    def vectors(self, ids: list[str]) -> np.ndarray:
        found = self.stored(ids)
        rest = [sid for sid in ids if sid not in found]
        if rest:
            found.update(zip(rest, self.fallback.vectors(rest)))
        return np.asarray([found[sid] for sid in ids], dtype=np.float32).reshape(len(ids), -1)
