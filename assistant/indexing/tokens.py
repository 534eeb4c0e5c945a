"""BM25 tokens per chunk row, cached on disk: a row is immutable, so its tokens are too.

Tokenising (jieba) is nearly all of what building BM25 costs: about 6 ms per chunk here, a minute
at 10k chunks. A new generation shares almost all its rows with the last one, so the tokens of
every live row are kept in ``index/tokens.npz`` (the vocabulary and row ids as newline-joined
UTF-8, each row's tokens as vocabulary indexes) and only rows never seen before are tokenised.
Written whole to a temp file and renamed, so a reader and the indexer never see half a file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
TOKENS = "tokens.npz"


def _joined(items: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _split(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def load_tokens(cache_dir: Path) -> dict[str, list[str]]:
    """The cached tokens by row; empty when there is no cache or it is unreadable (then rows are tokenised again)."""
    path = cache_dir / TOKENS
    if not path.exists():
        return {}
    try:
        with np.load(path) as data:
            vocabulary, rows = _split(data["vocabulary"]), _split(data["rows"])
            ids, offsets = data["ids"], data["offsets"]
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable token cache %s: %s", path, exc)
        return {}
    words = np.asarray(vocabulary, dtype=object)
    return {row: words[ids[offsets[i] : offsets[i + 1]]].tolist() for i, row in enumerate(rows)}


def save_tokens(cache_dir: Path, rows: Sequence[str], tokens: Sequence[list[str]]) -> None:
    """Keep exactly these rows' tokens (the live set), replacing the cache in one rename."""
    vocabulary: dict[str, int] = {}
    ids = np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for row in tokens for t in row), dtype=np.int32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in tokens], out=offsets[1:])
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=TOKENS, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, vocabulary=_joined(list(vocabulary)), rows=_joined(rows), ids=ids, offsets=offsets)
        os.replace(tmp, cache_dir / TOKENS)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        log.warning("could not cache BM25 tokens in %s: %s", cache_dir, exc)


def row_tokens(
    cache_dir: Path, rows: Sequence[str], texts: Mapping[str, str], tokenize: Callable[[str], list[str]]
) -> list[list[str]] | None:
    """Each row's tokens: cached ones reused, the others tokenised from ``texts`` and the cache updated.

    None when a row is neither cached nor in ``texts`` (the indexer has only the new rows' text at hand).
    """
    cached = load_tokens(cache_dir)
    if any(row not in cached and row not in texts for row in rows):
        return None
    tokens = [cached[row] if row in cached else tokenize(texts[row]) for row in rows]
    if any(row not in cached for row in rows) or len(cached) != len(set(rows)):
        save_tokens(cache_dir, rows, tokens)
    return tokens
