"""Sentence vectors beside the index (``index/vectors/``), searched without loading them into memory.

In local mode Chroma loads a collection's whole HNSW index into the process on its first read,
``get`` by id included: 900k sentence vectors cost ~1.5 GB of resident memory in every reader.
So each write also puts the sentence vectors of its new rows into a *segment*: ``<name>.f32``,
the raw float32 rows read with ``os.pread`` (the page cache is the OS's, not the process's),
and ``<name>.npz``, written last and atomically, which holds the segment's row ids, sentence
counts, and one sign bit per dimension of every vector (against per-dimension medians: 48 bytes
for 384 dimensions). A segment exists once its ``.npz`` does. Search ranks the live sentences by
Hamming distance between sign codes (tens of ms at 900k), re-scores the best
``max(8·n, CANDIDATES)`` exactly with their stored vectors, and is exact whenever no more live
sentences than that exist (one report has 296). Chroma stays the system of record: a reader reads
the rows the segments lack from it, so a lost or damaged segment
costs time, never answers (the indexer writes what the segments lack at its next run). Rows are immutable and content-keyed, so one row's vectors are the same
in every segment of one fingerprint; the newest segment that holds a row serves it. ``VectorFiles.settle``
(after each switch, under the indexer's lock) deletes segments without live rows and merges those
that are mostly dead or too many; a reader keeps a deleted segment readable through its open files.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from assistant.indexing.store.manifest import write_atomic_with
from assistant.indexing.store.rowcache import pack_strings, unpack_strings

log = logging.getLogger(__name__)
VECTORS = "vectors"
CANDIDATES = 4096  # sentences re-scored exactly per search: a 4096-row pread takes ~12 ms
MAX_SEGMENTS = 8  # more are merged (the smallest first), so a search touches few files
COMPACT_SHARE = 0.25  # a segment with more dead sentences than this is rewritten with its live ones
SAMPLE = 65_536  # rows the per-dimension medians are taken from
BLOCK = 5000  # rows per block when a segment is written or merged
FAR = np.iinfo(np.uint16).max  # the distance of a dead sentence


def fingerprint_key(fingerprint: Mapping[str, str]) -> str:
    return json.dumps(dict(fingerprint), sort_keys=True)


def thresholds_of(vectors: np.ndarray) -> np.ndarray:
    """Per-dimension medians (of an evenly spaced sample): each bit of a code splits the data in half."""
    step = max(1, len(vectors) // SAMPLE)
    return np.median(vectors[::step], axis=0).astype(np.float32)


def shared_thresholds(segments: list[Segment], sample: np.ndarray | None) -> np.ndarray:
    """The largest segment's thresholds (a small segment's own medians are noise), or the medians of ``sample`` for
    the first segment."""
    largest = max((s for s in segments if len(s)), key=len, default=None)
    if largest is not None:
        return largest.thresholds
    return thresholds_of(sample) if sample is not None and len(sample) else np.zeros(0, np.float32)


def sign_codes(vectors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """One bit per dimension (above the median or not), packed into 64-bit words per vector."""
    bits = np.packbits(np.atleast_2d(vectors) > thresholds, axis=1)
    words = -(-bits.shape[1] // 8)
    padded = np.zeros((bits.shape[0], 8 * words), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return padded.view(np.uint64)


class Segment:
    """One segment's index in memory (row ids, counts, thresholds; sign codes loaded on first search) and its vectors
    on disk, or in memory when it could not be written."""

    def __init__(self, name: str, fingerprint: str, rows: list[str], counts: np.ndarray, thresholds: np.ndarray,
                 codes: Callable[[], np.ndarray], vectors: IO[bytes] | np.ndarray) -> None:
        self.name, self.fingerprint, self.rows, self.thresholds = name, fingerprint, rows, thresholds
        self.counts = counts.astype(np.int64)
        self.first = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=self.first[1:])
        self._load_codes, self._codes = codes, None
        self._vectors = vectors
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.first[-1])

    @property
    def codes(self) -> np.ndarray:
        """The sign codes word by word (one contiguous array per 64 dimensions: 3× faster to scan than by row)."""
        with self._lock:
            if self._codes is None:
                self._codes = np.ascontiguousarray(self._load_codes().T)
            return self._codes

    def distances(self, vector: np.ndarray) -> np.ndarray:
        """Hamming distance of every sentence's code to the query's (coded with this segment's thresholds)."""
        query = sign_codes(vector, self.thresholds)[0]
        total = np.zeros(len(self), dtype=np.uint16)
        scratch = np.empty(len(self), dtype=np.uint64)
        for words, word in zip(self.codes, query):
            np.bitwise_xor(words, word, out=scratch)
            total += np.bitwise_count(scratch)
        return total

    def read(self, offsets: np.ndarray) -> np.ndarray:
        """The vectors at these sentence offsets, in the order asked: one pread per run of adjacent rows."""
        if isinstance(self._vectors, np.ndarray):
            return self._vectors[offsets]
        dim = len(self.thresholds)
        order = np.unique(offsets)
        out = np.empty((len(order), dim), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(order) != 1) + 1
        fd, width = self._vectors.fileno(), 4 * dim
        for run_start, run in zip(np.r_[0, breaks].tolist(), np.split(order, breaks)):
            data = os.pread(fd, width * len(run), width * int(run[0]))
            if len(data) != width * len(run):
                raise OSError(f"sentence vector segment {self.name} is shorter than its index")
            out[run_start : run_start + len(run)] = np.frombuffer(data, dtype=np.float32).reshape(len(run), dim)
        return out[np.searchsorted(order, offsets)]

    def blocks(self, row_indexes: list[int]) -> Iterable[np.ndarray]:
        """The vectors of these rows' sentences, a block of rows at a time (a merge never holds a segment in memory)."""
        for i in range(0, len(row_indexes), BLOCK):
            part = row_indexes[i : i + BLOCK]
            yield self.read(np.concatenate([np.arange(self.first[j], self.first[j + 1]) for j in part]))


def _open(folder: Path, name: str) -> Segment:
    index = np.load(folder / f"{name}.npz")  # kept open: the codes load later, even after the file is deleted
    handle = open(folder / f"{name}.f32", "rb")
    rows = unpack_strings(index["rows"], index["rows_offsets"])
    return Segment(name, str(index["fingerprint"]), rows, index["counts"], index["thresholds"],
                   lambda: index["codes"], handle)


def _write(folder: Path, fingerprint: str, rows: list[str], counts: list[int], blocks: Iterable[np.ndarray],
           thresholds: np.ndarray) -> Segment:
    """The vectors first (flushed to disk), then the index that makes the segment exist."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
    codes = []
    try:
        with open(folder / f"{name}.f32", "wb") as out:
            for block in blocks:
                block = np.ascontiguousarray(block, dtype=np.float32)
                out.write(block.tobytes())
                codes.append(sign_codes(block, thresholds))
            out.flush()
            os.fsync(out.fileno())
        buffer, offsets = pack_strings(rows)
        empty = sign_codes(np.zeros((0, len(thresholds)), np.float32), thresholds)
        arrays = {"rows": buffer, "rows_offsets": offsets, "counts": np.asarray(counts, dtype=np.int32),
                  "thresholds": thresholds, "fingerprint": np.asarray(fingerprint),
                  "codes": np.concatenate(codes) if codes else empty}
        write_atomic_with(folder / f"{name}.npz", lambda handle: np.savez(handle, **arrays))
    except BaseException:
        (folder / f"{name}.f32").unlink(missing_ok=True)
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

    def add(self, fingerprint: str, rows: list[str], counts: list[int], blocks: Iterable[np.ndarray],
            thresholds: np.ndarray | None = None, sample: np.ndarray | None = None) -> Segment:
        """A new segment; it reuses the thresholds of the largest segment so far (a small one's medians are noise),
        or takes the medians of ``sample`` (of all the blocks without one). Raises OSError when it cannot be written."""
        if thresholds is None:
            segments = self.segments(fingerprint)
            if sample is None and not any(len(s) for s in segments):
                blocks = list(blocks)
                sample = np.concatenate(blocks) if blocks else None
            thresholds = shared_thresholds(segments, sample)
        segment = _write(self.folder, fingerprint, rows, counts, blocks, thresholds)
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
        for path in [*self.folder.glob("*.f32"), *self.folder.glob("*.npz")]:
            if path.stem not in readable:  # a writer killed before its index, or a damaged segment
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
            self._merge(fingerprint, merge, max((s for s, _ in keep), key=len).thresholds)
        return live - {s.rows[j] for s, rows in keep for j in rows}

    def _merge(self, fingerprint: str, parts: list[tuple[Segment, list[int]]], thresholds: np.ndarray) -> None:
        rows = [s.rows[j] for s, chosen in parts for j in chosen]
        counts = [int(s.counts[j]) for s, chosen in parts for j in chosen]
        blocks = (block for s, chosen in parts for block in s.blocks(chosen))
        try:
            self.add(fingerprint, rows, counts, blocks, thresholds)
        except OSError as exc:
            log.warning("could not merge sentence vector segments: %s", exc)
            return
        for segment, _ in parts:
            self._remove(segment)
        log.info("merged %d sentence vector segments (%d rows)", len(parts), len(rows))

    def _remove(self, segment: Segment) -> None:
        """The index first: without it the segment no longer exists, whatever happens to its vectors."""
        for suffix in (".npz", ".f32"):
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
        vectors = np.vstack([self.fallback.vectors(ids[i : i + BLOCK]) for i in range(0, len(ids), BLOCK)])
        thresholds = shared_thresholds(self.segments, vectors)
        return Segment("memory", self.fingerprint, rows, np.asarray(counts), thresholds,
                       lambda: sign_codes(vectors, thresholds), vectors)

    def count(self) -> int:
        return self._live

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        """The ``n`` nearest live sentences and their vectors, nearest first: exact below ``CANDIDATES`` live ones."""
        wanted = max(8 * n, CANDIDATES)
        live = [s for s, segment in enumerate(self.segments) if len(segment) > len(self._dead[s])]
        if not live:
            return [], np.zeros((0, len(vector)), dtype=np.float32)
        if self._live <= wanted:
            picks = [np.setdiff1d(np.arange(len(self.segments[s])), self._dead[s], assume_unique=True) for s in live]
        else:
            distances = [self.segments[s].distances(vector) for s in live]
            for s, d in zip(live, distances):
                d[self._dead[s]] = FAR
            bounds = np.cumsum([0] + [len(d) for d in distances])
            take = np.sort(np.argpartition(np.concatenate(distances), wanted)[:wanted])
            cuts = np.searchsorted(take, bounds)
            picks = [take[a:b] - bounds[i] for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]
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
