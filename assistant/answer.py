"""Offline extractive answers: the best-supported sentences, quoted verbatim and numbered as citations.

Sentence support = cosine similarity of the question and the sentence (E5 works across
languages) plus a bonus for the question's lexical tokens found in it. The strongest
support is the evidence score; below one calibrated threshold the answer is a refusal.
"""

from __future__ import annotations

import re

from .language import detect_language
from .retrieve import Query, SentenceIndex
from .types import Answer, Citation, Hit, Sentence

LEXICAL_BONUS = 0.15
SHORT_QUOTE_CHARS = 12
SHORT_QUOTE_PENALTY = 0.05  # table cells and labels are rarely the answer on their own
RELATIVE_CUTOFF = 0.04  # quote sentences within this margin of the best one
MISSING_ANCHOR_PENALTY = 0.08
ANCHOR_RE = re.compile(r"\d[\d,.]*%?|[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")

REFUSAL = {
    "zh": "报告中未找到相关内容。",
    "en": "The report does not appear to cover this.",
}
LEAD = {
    "zh": "根据报告原文：",
    "en": "The report says (quoted in the original Chinese):",
}


def lexical_coverage(tokens: list[str], text: str) -> float:
    """Share of distinct query tokens that occur in the sentence."""
    distinct = set(tokens)
    if not distinct:
        return 0.0
    lowered = text.lower()
    return sum(1 for t in distinct if t in lowered) / len(distinct)


def anchors(question: str) -> list[str]:
    """Names (capitalised after the first word, or mixed case) and figures: what an answer must be about."""
    in_chinese = detect_language(question) == "zh"  # there every Latin word is a name
    found = []
    for i, match in enumerate(ANCHOR_RE.finditer(question)):
        word = re.sub(r"'s$", "", match.group())
        is_name = in_chinese or any(c.isupper() for c in word[1:]) or (word[0].isupper() and i > 0)
        if word[0].isdigit() or is_name:
            found.append(word.replace(",", "").lower())
    return found


def missing_anchors(question: str, corpus_vocabulary: set[str]) -> list[str]:
    """Names and figures in the question that the corpus never mentions (e.g. a product it does not cover)."""
    return [a for a in anchors(question) if a not in corpus_vocabulary]


def rank_sentences(query: Query, hits: list[Hit], sentences: SentenceIndex) -> list[tuple[float, Sentence, Hit]]:
    """Candidate sentences from the retrieved chunks, best first, each span once."""
    similarity = sentences.scores(query.vector)
    best: dict[tuple[int, int, str], tuple[float, Sentence, Hit]] = {}
    for hit in hits:
        for i in sentences.by_chunk.get(hit.chunk.id, []):
            sentence = sentences.sentences[i]
            score = float(similarity[i]) + LEXICAL_BONUS * lexical_coverage(query.tokens, sentence.text)
            if len(sentence.text) < SHORT_QUOTE_CHARS:
                score -= SHORT_QUOTE_PENALTY
            key = (sentence.start, sentence.end, hit.chunk.doc_id)
            if key not in best or score > best[key][0]:
                best[key] = (score, sentence, hit)
    return sorted(best.values(), key=lambda item: item[0], reverse=True)


def compose_offline(
    question: str,
    query: Query,
    hits: list[Hit],
    sentences: SentenceIndex,
    *,
    min_evidence: float,
    max_quotes: int,
    penalty: float = 0.0,
) -> Answer:
    """Quote the best sentences, or refuse when even the best is below the calibrated threshold."""
    ranked = rank_sentences(query, hits, sentences)
    evidence = (ranked[0][0] if ranked else 0.0) - penalty
    language = query.language
    if evidence < min_evidence:
        return Answer(question, language, REFUSAL[language], False, "extractive", (), tuple(hits), query.text, evidence)
    chosen = [item for item in ranked if item[0] >= ranked[0][0] - RELATIVE_CUTOFF][:max_quotes]
    chosen.sort(key=lambda item: (item[2].rank, item[1].start))
    citations = tuple(
        Citation(
            n=n,
            source=hit.chunk.doc_id,
            section=hit.chunk.section_path,
            page=sentence.page,
            chunk_id=hit.chunk.id,
            quote=sentence.text,
            start=sentence.start,
            end=sentence.end,
        )
        for n, (_, sentence, hit) in enumerate(chosen, start=1)
    )
    body = "\n".join(f"“{c.quote}” [{c.n}]" for c in citations)
    return Answer(question, language, f"{LEAD[language]}\n{body}", True, "extractive", citations, tuple(hits), query.text, evidence)
