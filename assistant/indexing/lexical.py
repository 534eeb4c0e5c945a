"""BM25 over jieba tokens and English stems, derived from the chunks stored in Chroma and cached under ``index/``
(tokens per row too).

English words are lower-cased, stripped of stop words (bm25s's English list) and reduced to their Snowball stems
(PyStemmer, the stemmer bm25s documents), so "modifying" finds "modifications" and "conveys" finds "convey"; bm25s
cannot do this itself for mixed text, because its stemmer would also run over jieba's Chinese words.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import bm25s
import jieba
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from assistant.indexing.scoring import bm25_model
from assistant.indexing.tokens import TOKENIZER_VERSION, RowTokens, row_tokens
from assistant.language import CJK

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)
_jieba_lock = threading.Lock()
_stemmers = threading.local()  # a PyStemmer object is not thread-safe: one per thread

LATIN = r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*"
TOKEN_RE = re.compile(rf"(?P<num>\d+(?:[.,]\d+)*%?)|(?P<latin>{LATIN})|(?P<cjk>[{CJK}]+)")
LATIN_RE = re.compile(LATIN)
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 等 将 也 而 并 其 这 那 这些 那些 中 上 下 一个 一种 哪些 什么 哪个 哪 几 多少 如何 怎样 怎么 "
    "吗 呢 吧 啊 么 之 以 于 被 把 从 到 由 可能 可以 报告 我们 他们 它们 the a an of to in on for and or is are was were be "
    "by with as at that this which what how does do did from its it their report".split()
)


ENGLISH_STOPWORDS = frozenset(STOPWORDS_EN) | {word for word in STOPWORDS if word.isascii()}


def stem(word: str) -> str:
    """The English Snowball stem of a lower-cased word ("modifications" → "modif")."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def latin_stems(text: str) -> set[str]:
    """The stems of a text's Latin words, as ``tokenize`` writes them (stop words included)."""
    return {stem(word.lower()) for word in LATIN_RE.findall(text)}


def tokens_in(tokens: Iterable[str], text: str) -> set[str]:
    """The query tokens a text contains: English stems among its words' stems ("compani" is no substring of
    "company"), Chinese words and numbers anywhere in it."""
    lowered = text.lower()
    stems = latin_stems(lowered)
    return {t for t in tokens if t in stems or t in lowered}


def tokenize(text: str, *, stemmed: bool = True) -> list[str]:
    """Chinese as jieba search-mode words, Latin script as stems of lower-cased words (English stop words dropped),
    numbers (and percentages) whole; ``stemmed=False`` keeps the words as written (lower-cased), for text a reader
    sees."""
    tokens: list[str] = []
    for match in TOKEN_RE.finditer(text):
        if match.group("num"):
            number = match.group("num").replace(",", "")
            tokens.append(number)
            if number.endswith("%"):
                tokens.append(number[:-1])
        elif match.group("latin"):
            word = match.group("latin").lower()
            if word not in ENGLISH_STOPWORDS:
                tokens.append(stem(word) if stemmed else word)
        else:
            with _jieba_lock:
                words = list(jieba.cut_for_search(match.group("cjk")))
            tokens.extend(words)
    return [t for t in tokens if t not in STOPWORDS]


class LexicalIndex:
    """BM25 scores for every chunk; cheap enough to score the whole collection per query."""

    def __init__(self, ids: Sequence[str], model: bm25s.BM25) -> None:
        self.ids = list(ids)
        self.model = model

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> "LexicalIndex":
        return cls.from_tokens(ids, RowTokens.encode([tokenize(t) for t in texts]))

    @classmethod
    def from_tokens(cls, ids: Sequence[str], tokens: RowTokens) -> "LexicalIndex":
        return cls(ids, bm25_model(tokens))

    def search(self, tokens: list[str], n: int) -> list[tuple[str, float]]:
        if not tokens or not self.ids:
            return []
        scores = np.asarray(self.model.get_scores(tokens))
        order = np.argsort(-scores)[:n]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(str(folder))
        (folder / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        """Memory-mapped: opening costs the vocabulary and ids, the score matrix is paged in as queries touch it."""
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        return cls(ids, bm25s.BM25.load(str(folder), mmap=True))


def cached_lexical_index(
    cache_dir: Path,
    version: str,
    ids: Sequence[str],
    rows: Sequence[str],
    texts: Mapping[str, str],
    known: Mapping[str, Sequence[str]] = {},
) -> LexicalIndex | None:
    """The BM25 index of this index version (``ids`` and their Chroma ``rows`` in order), memory-mapped from its
    cache, or built and cached; a stale version is never reused.

    Building tokenises only rows that no earlier generation had and whose tokens are not ``known`` (tokens.py).
    None when a row's tokens are neither cached, known nor in ``texts``: the indexer, which knows only the new rows'
    text, then leaves it to the reader.
    """
    folder = cache_dir / f"bm25-v{TOKENIZER_VERSION}-{version}"
    if (folder / "ids.json").exists():
        try:
            return LexicalIndex.load(folder)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("rebuilding unreadable BM25 cache %s: %s", folder, exc)
    tokens = row_tokens(cache_dir, rows, texts, tokenize, known)
    if tokens is None:
        return None
    index = LexicalIndex.from_tokens(ids, tokens)
    try:
        index.save(folder)
        for old in cache_dir.glob("bm25-*"):
            if old != folder and old.is_dir():
                for f in old.iterdir():
                    f.unlink()
                old.rmdir()
    except OSError as exc:
        log.warning("could not cache the BM25 index in %s: %s", folder, exc)
    return index
