"""A quoted sentence that announces a list ("…标准包括：") says nothing without its items: they are quoted after it."""

from __future__ import annotations

import re

from assistant.language import chinese_numeral
from assistant.retrieval.sentences import SentenceIndex
from assistant.types import Hit, Sentence

LIST_ITEMS = 6  # items quoted after a sentence that announces a list ("标准包括：") when it names no count
LIST_INTRO_RE = re.compile(r"[:：]\s*$")
ITEM_RE = re.compile(r"^\s*(?:[^\s|｜，。]{1,20}\s*[|｜]|[•●·\-]\s|\d{1,2}[.、)）])")  # "易用性| …", "• …", "1. …"
ITEM_COUNT_RE = re.compile(r"([两二三四五六七八九十]|\d{1,2})\s*(?:个|种|层|项|大|点|类|步|阶段|方面|条)")


def with_list_items(chosen: list[tuple[float, Sentence, Hit]], hits: list[Hit], sentences: SentenceIndex) -> list:
    """A quoted sentence that announces a list ("…标准包括：") says nothing without its items: quote them after it."""
    result = []
    for item in chosen:
        result.append(item)
        if LIST_INTRO_RE.search(item[1].text):
            result += list_items(item, hits, sentences)
    return result


def list_items(item: tuple[float, Sentence, Hit], hits: list[Hit], sentences: SentenceIndex) -> list:
    """The lines right after a list intro, in a retrieved chunk: the one line that completes it, or each item of a
    run of item-shaped lines ("易用性| …", "• …"), up to the count the intro names ("三层", "六种") or LIST_ITEMS."""
    score, intro, hit = item
    covering = [h for h in hits if h.chunk.doc_id == hit.chunk.doc_id and h.chunk.start <= intro.start < intro.end <= h.chunk.end]
    owner = max(covering or [hit], key=lambda h: h.chunk.end)  # the chunk that runs furthest past the intro
    chunk = owner.chunk
    count = ITEM_COUNT_RE.search(intro.text)
    named = count.group(1) if count else ""
    limit = min(LIST_ITEMS, int(named) if named.isdigit() else int(chinese_numeral(named))) if named else LIST_ITEMS
    items: list[tuple[float, Sentence, Hit]] = []
    shaped: bool | None = None
    previous_end = intro.end
    for row in sentences.by_chunk.get(chunk.id, []):
        sentence = sentences.sentences[row]
        if sentence.start < intro.end:
            continue
        if chunk.text[previous_end - chunk.start : sentence.start - chunk.start].strip():
            break  # not contiguous
        previous_end = sentence.end
        if sentence.start != chunk.start and chunk.text[sentence.start - chunk.start - 1] != "\n":
            continue  # the rest of an item: its first sentence is quoted
        is_item = bool(ITEM_RE.match(sentence.text))
        if shaped is None:
            shaped = is_item
        elif not (shaped and is_item):
            break
        items.append((score, sentence, owner))
        if not shaped or len(items) >= limit:
            break
    return items
