"""BM25 tokens per chunk row, cached on disk: a row is immutable, so its tokens are too.

Tokenising (jieba) is nearly all of what building BM25 costs: about 6 ms per chunk here, a minute
at 10k chunks. A new generation shares almost all its rows with the last one, so the tokens of
every live row are kept in ``index/tokens.npz`` (the vocabulary and row ids as newline-joined
UTF-8, each row's tokens as vocabulary indexes) and only rows never seen before are tokenised.
Tokens stay vocabulary indexes in numpy arrays from the file to the BM25 matrix (scoring.py): at
100k chunks (15M tokens) a Python list per row cost more than a one-line edit may take.
Written whole to a temp file and renamed, so a reader and the indexer never see half a file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.indexing.store.manifest import write_atomic_with

log = logging.getLogger(__name__)
TOKENIZER_VERSION = "2"
"""Bumped whenever ``lexical.tokenize`` changes its output (2: English stems and stop words): cached tokens and BM25
matrices of another version are never reused, since a row's text alone does not say how it was tokenised."""
TOKENS = f"tokens-v{TOKENIZER_VERSION}.npz"


def _joined(items: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _split(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


@dataclass(frozen=True)
class RowTokens:
    """Rows' tokens as indexes into ``vocabulary``: row ``i``'s are ``ids[offsets[i]:offsets[i + 1]]``."""

    vocabulary: list[str]
    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, one more than there are rows

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def encode(cls, tokens: Sequence[list[str]], vocabulary: Sequence[str] = ()) -> RowTokens:
        """These rows' tokens, as indexes into ``vocabulary`` extended by the words it lacks."""
        index = {word: i for i, word in enumerate(vocabulary)}
        ids = np.fromiter((index.setdefault(t, len(index)) for row in tokens for t in row), dtype=np.int32)
        offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in tokens], out=offsets[1:])
        return cls(list(index), ids, offsets)

    def tolist(self) -> list[list[str]]:
        words = np.asarray(self.vocabulary, dtype=object)
        return [words[self.ids[a:b]].tolist() for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def take(self, positions: Sequence[int] | np.ndarray) -> RowTokens:
        """These rows, in this order, without a loop per row; the vocabulary is shared."""
        positions = np.asarray(positions, dtype=np.int64)
        starts, lengths = self.offsets[positions], self.lengths[positions]
        offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        return RowTokens(self.vocabulary, self.ids[gather], offsets)

    def then(self, other: RowTokens) -> RowTokens:
        """These rows followed by ``other``'s, whose vocabulary must extend this one's."""
        return RowTokens(other.vocabulary, np.concatenate([self.ids, other.ids]),
                         np.concatenate([self.offsets[:-1], self.offsets[-1] + other.offsets]))

    def compact(self) -> RowTokens:
        """The same rows with only the words they use, in first-use order of the old vocabulary."""
        used = np.flatnonzero(np.bincount(self.ids, minlength=len(self.vocabulary)))
        remap = np.full(len(self.vocabulary), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return RowTokens([self.vocabulary[i] for i in used.tolist()], remap[self.ids], self.offsets)


def load_tokens(cache_dir: Path) -> tuple[list[str], RowTokens]:
    """The cached rows and their tokens; none when there is no cache or it is unreadable (rows are tokenised again)."""
    path = cache_dir / TOKENS
    empty = ([], RowTokens([], np.zeros(0, np.int32), np.zeros(1, np.int64)))
    if not path.exists():
        return empty
    try:
        with np.load(path) as data:
            vocabulary, rows = _split(data["vocabulary"]), _split(data["rows"])
            tokens = RowTokens(vocabulary, data["ids"].astype(np.int32), data["offsets"].astype(np.int64))
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable token cache %s: %s", path, exc)
        return empty
    if len(tokens) != len(rows):
        log.warning("ignoring token cache %s: %d rows for %d offsets", path, len(rows), len(tokens))
        return empty
    return rows, tokens


def save_tokens(cache_dir: Path, rows: Sequence[str], tokens: RowTokens) -> None:
    """Keep exactly these rows' tokens (the live set), replacing the cache in one rename."""
    arrays = {"vocabulary": _joined(tokens.vocabulary), "rows": _joined(rows), "ids": tokens.ids, "offsets": tokens.offsets}
    try:
        write_atomic_with(cache_dir / TOKENS, lambda handle: np.savez(handle, **arrays))
        for old in cache_dir.glob("tokens*.npz"):  # another tokenizer version's: never read again
            if old.name != TOKENS:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not cache BM25 tokens in %s: %s", cache_dir, exc)


def row_tokens(
    cache_dir: Path,
    rows: Sequence[str],
    texts: Mapping[str, str],
    tokenize: Callable[[str], list[str]],
    known: Mapping[str, Sequence[str]] = {},
) -> RowTokens | None:
    """Each row's tokens: cached ones reused, then those ``known`` (stored with the row in Chroma), the others
    tokenised from ``texts``; the cache updated.

    None when a row is neither cached, known nor in ``texts`` (the indexer has only the new rows' text at hand).
    """
    cached_rows, cached = load_tokens(cache_dir)
    where = {row: i for i, row in enumerate(cached_rows)}
    if any(row not in where and row not in known and row not in texts for row in rows):
        return None
    fresh = [row for row in dict.fromkeys(rows) if row not in where]
    if fresh:
        tokens = [list(known[row]) if row in known else tokenize(texts[row]) for row in fresh]
        cached = cached.then(RowTokens.encode(tokens, cached.vocabulary))
        where.update((row, len(cached_rows) + i) for i, row in enumerate(fresh))
    live = list(dict.fromkeys(rows))
    if fresh or len(cached_rows) != len(live):
        save_tokens(cache_dir, live, cached.take([where[row] for row in live]).compact())
    return cached.take([where[row] for row in rows])
