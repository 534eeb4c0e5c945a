"""Specifics a question asks about that the evidence lacks: names absent from the corpus or the quotes, a figure
not stated, an asked-for slot the passages never name. Each one lowers the evidence score of an extractive answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.answering.evidence.slots import absent_slot, asked_slot, mentions_slot
from assistant.answering.verify.quantities import asks_for_quantity, states_quantity
from assistant.indexing.lexical import stem
from assistant.language import detect_language
from assistant.retrieval.crosslingual import english_to_chinese_terms

QUANTITY_SENTENCES = 1  # a requested figure must be in the best-supported sentence
FIGURE_RE = re.compile(r"\d[\d,.]*\d|\d")
CLAUSE_END_RE = re.compile(r"[。！？!?；;\n]")
ANCHOR_RE = re.compile(r"\d[\d,.]*%?|[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
ABSENT_SLOT_WEIGHT = 2  # the asked-for thing in none of the passages: no evidence at all, however well the names match


def anchors(question: str) -> list[str]:
    """Names (capitalised mid-sentence, or mixed case) and figures: what an answer must be about."""
    in_chinese = detect_language(question) == "zh"  # there every Latin word is a name
    found = []
    for match in ANCHOR_RE.finditer(question):
        word = re.sub(r"'s$", "", match.group())
        sentence_start = not question[: match.start()].strip() or question[: match.start()].rstrip()[-1] in ".?!:\"“"
        is_name = in_chinese or any(c.isupper() for c in word[1:]) or (word[0].isupper() and not sentence_start)
        if word[0].isdigit() or is_name:
            found.append(word.replace(",", "").lower())
    return found


def in_vocabulary(anchor: str, vocabulary: set[str]) -> bool:
    """An anchor counts as mentioned in its own form, its singular ("GPUs", which Snowball leaves whole) or stem (the
    lexical index holds English stems), or a dictionary translation."""
    if anchor in vocabulary or anchor.rstrip("s") in vocabulary or stem(anchor) in vocabulary:
        return True
    parts = [p for p in re.split(r"[^a-z0-9]+", anchor) if p]
    if len(parts) > 1 and all(p in vocabulary or any(v.startswith(p) for v in vocabulary) for p in parts):
        return True  # "dall-e" as the corpus writes it, "DALL·E2"
    return anchor.isalpha() and any(term in vocabulary for term in english_to_chinese_terms(anchor))


def mentioned(anchor: str, lowered_text: str) -> bool:
    """Whether lower-cased text names the anchor itself, its singular, or its Chinese translation (微软 for Microsoft)."""
    if anchor in lowered_text or anchor.rstrip("s") in lowered_text:
        return True
    squeezed = re.sub(r"[^a-z0-9]", "", anchor)
    if len(squeezed) > 2 and squeezed != anchor and squeezed in re.sub(r"[^a-z0-9]", "", lowered_text):
        return True  # "dall-e" for "DALL·E2": the same name, punctuated differently
    return anchor.isalpha() and any(term in lowered_text for term in english_to_chinese_terms(anchor))


def missing_anchors(question: str, corpus_vocabulary: set[str]) -> list[str]:
    """Names and figures in the question that the corpus never mentions (e.g. a product it does not cover)."""
    return [a for a in anchors(question) if not in_vocabulary(a, corpus_vocabulary)]


def states_new_quantity(text: str, question: str) -> bool:
    """Whether the text states a figure other than those the question gives: "2022年…" answers no "revenue in 2022?"."""
    for figure in FIGURE_RE.findall(question):
        text = text.replace(figure, " ")
    return states_quantity(text)


def states_slot_figure(text: str, slot: list[str], question: str) -> bool:
    """Whether one sentence names the asked-for slot and states a figure the question does not give."""
    return mentions_slot(slot, text.lower()) and states_new_quantity(text, question)


def unsupported_specifics(
    question: str,
    quotes: list[str],
    vocabulary: set[str],
    is_common: Callable[[str], bool] = lambda _: False,
    quantity_sentences: int = QUANTITY_SENTENCES,
    passages: str = "",
) -> int:
    """Specifics the question asks about that the best evidence lacks; each one weakens the evidence.

    Counted: names/figures absent from the whole corpus, rare names present in the corpus but
    in none of the quotes, and a requested quantity (how many, price, date…) that the best
    quote does not state. When the question's asked-for slot (``slots.asked_slot``) is known, the
    quantity must be stated by a quote that names the slot ("多少员工失业" is not answered by
    "2022年…" next to a sentence on 失业), and a slot that none of the retrieved ``passages`` names
    counts double, when the question names something specific ("多少股份" for Microsoft's 100亿).
    """
    # Names as common as "AI", or the documents' author's, are about nothing in particular: never a specific.
    named = [a for a in anchors(question) if not (a.isalpha() and is_common(a))]
    missing = [a for a in missing_anchors(question, vocabulary) if a in named]
    joined = " ".join(quotes).lower()
    absent = [a for a in named if a not in missing and a.isalpha() and not mentioned(a, joined)]
    slot = asked_slot(question, detect_language(question))
    specific = bool(named)
    lowered = passages.lower()
    if slot and specific and absent_slot(slot, lowered):
        return len(missing) + len(absent) + ABSENT_SLOT_WEIGHT
    return len(missing) + len(absent) + quantity_gap(question, quotes, quantity_sentences, slot, passages)


def quantity_gap(question: str, quotes: list[str], quantity_sentences: int, slot: list[str], passages: str) -> int:
    """How badly the evidence lacks a figure the question asks for: 0 stated, 1 lacking, 2 lacking everywhere.

    Without a slot the figure must be in the best quotes. A quote naming the slot with a figure states it.
    When the passages name the slot but never with a figure, the report speaks of the thing without
    counting it ("多少员工失业" next to "2022年…", "估值" next to the 3亿 invested): 2, whatever figures the
    best quotes hold. A slot word met in another counted clause (a loose translation, "一层" for layers)
    leaves the best quotes to decide, as without a slot.
    """
    if not asks_for_quantity(question):
        return 0
    lacking = int(not any(states_new_quantity(q, question) for q in quotes[:quantity_sentences]))
    if not slot or not mentions_slot(slot, passages.lower()):
        return lacking
    if any(states_slot_figure(q, slot, question) for q in quotes):
        return 0
    if any(states_slot_figure(clause, slot, question) for clause in CLAUSE_END_RE.split(passages)):
        return lacking
    return 2
