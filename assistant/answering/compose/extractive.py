"""Offline extractive answers: the best-supported sentences, quoted verbatim and numbered as citations.

Sentence support = cosine similarity of the question and the sentence (E5 works across
languages) plus a bonus for the question's lexical tokens found in it. The strongest
support is the evidence score; below one calibrated threshold the answer is a refusal.
Which sentences are quoted also weighs the question's names and figures (the anchor bonus),
which never raises the evidence score; what the evidence lacks (``specifics``) lowers it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from assistant.answering.evidence.conflicts import conflict_notice, disagreement
from assistant.answering.evidence.listitems import with_list_items
from assistant.answering.evidence.specifics import QUANTITY_SENTENCES, anchors, mentioned, unsupported_specifics
from assistant.answering.verify.quantities import Quantity, quantities, same_quantity
from assistant.indexing.lexical import tokens_in
from assistant.language import is_evidence, is_instruction
from assistant.retrieval.hybrid import Query
from assistant.retrieval.sections import SectionScope, wants_summary
from assistant.retrieval.sentences import SentenceIndex
from assistant.types import Answer, AnswerMode, Citation, Hit, Sentence

LEXICAL_BONUS = 0.15
ANCHOR_BONUS = 0.10  # times the share of the question's names and figures the sentence states
SHORT_QUOTE_CHARS = 12
SHORT_QUOTE_PENALTY = 0.05  # table cells and labels are rarely the answer on their own
RELATIVE_CUTOFF = 0.04  # quote sentences within this margin of the best one
SUPPORT_MARGIN = 0.10  # a further sentence this close to the best one is quoted too...
SUPPORT_SENTENCES = 2  # ...(at most this many) when it holds question words no quote holds yet: another part of the question
SUPPORT_WINDOW = 15  # ...looked for among the best-ranked sentences only (English scores are flat: 10 is too few)
EVIDENCE_SENTENCES = 5
UNSUPPORTED_PENALTY = 0.25

REFUSAL = {
    "zh": "文档中未找到相关内容。",
    "en": "The documents do not appear to cover this.",
}
LEAD = {
    "zh": "根据原文：",
    "en": "The document says (quoted verbatim):",
}
NAMED_LEAD = {  # when other documents were searched too, the reader is told which ones the quotes come from
    "zh": "根据{sources}原文：",
    "en": "From {sources} (quoted verbatim):",
}
IGNORED_ORDERS = {  # documents are data: orders in them are neither quoted nor followed, and the reader is told
    "zh": "检索到的段落中含有针对助手的指令，已忽略：它们不被执行，也不作为依据。",
    "en": "A retrieved passage contains instructions addressed to the assistant; they were ignored, not followed or used as evidence.",
}
RESTATEMENT_NOVELTY = 0.15  # a sentence with fewer new character pairs than this only repeats the question
RESTATEMENT_PENALTY = 0.2


def _pairs(text: str) -> set[str]:
    letters = [c for c in text.lower() if c.isalnum()]
    return {a + b for a, b in zip(letters, letters[1:])}


def novelty(sentence: str, question: str) -> float:
    """Share of the sentence's character pairs the question does not contain: near 0 for a restatement of it."""
    pairs = _pairs(sentence)
    return len(pairs - _pairs(question)) / len(pairs) if pairs else 0.0


def lexical_coverage(tokens: list[str], text: str) -> float:
    """Share of distinct query tokens that occur in the sentence: Chinese words and numbers as substrings, English
    stems among the stems of the sentence's words ("compani" is no substring of "company")."""
    distinct = set(tokens)
    return len(tokens_in(distinct, text)) / len(distinct) if distinct else 0.0


def anchor_share(names: list[str], figures: list[Quantity], text: str) -> float:
    """Share of the question's names and figures that a sentence states (微软 for Microsoft, 2,000亿 for 200 billion)."""
    if not names and not figures:
        return 0.0
    lowered = text.lower()
    stated = quantities(text, loose=True) if figures else []
    found = sum(mentioned(name, lowered) for name in names) + sum(any(same_quantity(f, s) for s in stated) for f in figures)
    return found / (len(names) + len(figures))


def with_anchor_bonus(
    query: Query, ranked: list[tuple[float, Sentence, Hit]], is_common: Callable[[str], bool] = lambda _: False
) -> list[tuple[float, Sentence, Hit]]:
    """The ranking for quoting: a small bonus for the question's anchors, the names (not words as common as "AI")
    and figures it asks about. Never part of the evidence score: a question about a figure the report lacks
    ("Midjourney每月收费多少美元？") would otherwise pass on its name alone."""
    names = list(dict.fromkeys(a for a in anchors(query.text) if not a[0].isdigit() and not (a.isalpha() and is_common(a))))
    figures = quantities(query.text)
    boosted = [(score + ANCHOR_BONUS * anchor_share(names, figures, sentence.text), sentence, hit) for score, sentence, hit in ranked]
    return sorted(boosted, key=lambda item: item[0], reverse=True)


def rank_sentences(query: Query, hits: list[Hit], sentences: SentenceIndex) -> list[tuple[float, Sentence, Hit]]:
    """Candidate sentences from the retrieved chunks, best first, each span once."""
    candidates = [(i, hit) for hit in hits for i in sentences.by_chunk.get(hit.chunk.id, [])]
    similarity = sentences.scores_of([i for i, _ in candidates], query.vector)
    best: dict[tuple[int, int, str], tuple[float, Sentence, Hit]] = {}
    for (i, hit), cosine in zip(candidates, similarity):
        sentence = sentences.sentences[i]
        if not is_evidence(sentence.text):
            continue
        score = float(cosine) + LEXICAL_BONUS * lexical_coverage(query.tokens, sentence.text)
        if novelty(sentence.text, query.text) < RESTATEMENT_NOVELTY:  # echoes the question, adds no answer
            score -= RESTATEMENT_PENALTY
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
    vocabulary: set[str],
    is_common: Callable[[str], bool] = lambda _: False,
) -> Answer:
    """Quote the best sentences, or refuse when the evidence is below the calibrated threshold.

    A summary request ("总结第三节", "key points") is answered with a digest: the most central sentences
    of the retrieved section(s), one per section for the whole report.
    """
    if wants_summary(query.text) and hits:
        from assistant.answering.compose.digest import (
            compose_digest,  # digest builds on quoted_answer below
        )

        return compose_digest(question, query, hits, sentences, max_quotes=max_quotes)
    plain = rank_sentences(query, hits, sentences)
    ranked = with_anchor_bonus(query, plain, is_common)
    best = plain[0][0] if plain else 0.0  # the evidence score; the bonus admits anchored sentences, never crowds others out
    top_quotes = [sentence.text for _, sentence, _ in ranked[:EVIDENCE_SENTENCES]]
    # A requested figure may be in any sentence that is quoted with the best one (as close to the question).
    close = max(QUANTITY_SENTENCES, sum(1 for item in ranked[:max_quotes] if item[0] >= best - RELATIVE_CUTOFF)) if ranked else 0
    passages = "\n".join(hit.chunk.text for hit in hits)
    penalty = UNSUPPORTED_PENALTY * unsupported_specifics(question, top_quotes, vocabulary, is_common, close, passages)
    evidence = best - penalty
    language = query.language
    if evidence < min_evidence:
        return Answer(question, language, REFUSAL[language], False, AnswerMode.EXTRACTIVE, (), tuple(hits), query.text, evidence)
    chosen = [item for item in ranked if item[0] >= best - RELATIVE_CUTOFF][:max_quotes]
    chosen += supporting(query, ranked, chosen, best)
    chosen += from_each_part(chosen, ranked, query.scope)
    conflict = disagreement(question, ranked)
    chosen += [stated.item for stated in conflict]  # every side of a disagreement is quoted
    chosen.sort(key=lambda item: (item[2].rank, item[1].start))
    seen: set[tuple[int, str]] = set()
    chosen = [item for item in with_list_items(chosen, hits, sentences) if not (span_key(item) in seen or seen.add(span_key(item)))]
    answer = quoted_answer(question, query, hits, chosen, evidence)
    notices = [conflict_notice(conflict, language) if conflict else "", IGNORED_ORDERS[language] if orders_in(hits, sentences) else ""]
    return replace(answer, notice=" ".join(n for n in notices if n))


def orders_in(hits: Sequence[Hit], sentences: SentenceIndex) -> list[str]:
    """The sentences of the retrieved passages that give the assistant orders ("ignore previous instructions …")."""
    texts = (sentences.sentences[i].text for hit in hits for i in sentences.by_chunk.get(hit.chunk.id, []))
    return list(dict.fromkeys(text for text in texts if is_instruction(text)))


def span_key(item: tuple[float, Sentence, Hit]) -> tuple[int, str]:
    """One quote per span of a document, whichever chunk (overlaps repeat sentences) it was found in."""
    return item[1].start, item[2].chunk.doc_id


def supporting(query: Query, ranked: list[tuple[float, Sentence, Hit]], chosen: list[tuple[float, Sentence, Hit]], best: float) -> list:
    """Next-best sentences that hold question words none of the quotes holds: the other parts of a question.

    "成熟度？…商业模式是什么？" is answered by two sentences; the second scores a little below the first
    and would be cut by the relative margin alone. The margin is measured from ``best``, the plain support.
    """
    covered = {t for item in chosen for t in tokens_in(query.tokens, item[1].text)}
    spans = {span_key(item) for item in chosen}
    added: list[tuple[float, Sentence, Hit]] = []
    for item in ranked[:SUPPORT_WINDOW]:
        if len(added) >= SUPPORT_SENTENCES or item[0] < best - SUPPORT_MARGIN:
            break
        if span_key(item) in spans:
            continue
        new = tokens_in(set(query.tokens) - covered, item[1].text)
        if new:
            added.append(item)
            covered |= new
    return added


def from_each_part(chosen: list[tuple[float, Sentence, Hit]], ranked: list[tuple[float, Sentence, Hit]], scope: SectionScope) -> list:
    """A question that names several parts ("摘要和第三节") is answered from each of them: the best-ranked sentence
    of every named part that no quote comes from yet. (With one part named, retrieval holds nothing else.)"""
    if len(scope.parts) < 2:
        return []
    quoted = {scope.part_of(item[2].chunk) for item in chosen}
    added = []
    for item in ranked:
        part = scope.part_of(item[2].chunk)
        if part is not None and part not in quoted:
            quoted.add(part)
            added.append(item)
    return added


def quoted_answer(
    question: str, query: Query, hits: list[Hit], chosen: list[tuple[float, Sentence, Hit]], evidence: float
) -> Answer:
    """The chosen sentences as numbered, verbatim citations under the lead line."""
    language = query.language
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
    return Answer(question, language, f"{lead(language, citations, hits)}\n{quote_lines(citations)}", True, AnswerMode.EXTRACTIVE, citations, tuple(hits), query.text, evidence)


def quote_lines(citations: tuple[Citation, ...]) -> str:
    """Each quote on its own line, in quotation marks, with its number: how every verbatim quote is shown."""
    return "\n".join(f"“{c.quote}” [{c.n}]" for c in citations)


def lead(language: str, citations: tuple[Citation, ...], hits: list[Hit]) -> str:
    """"According to the report" when only one document was searched; otherwise the quoted documents by name."""
    if len({hit.chunk.doc_id for hit in hits}) <= 1:
        return LEAD[language]
    return NAMED_LEAD[language].format(sources=document_names(language, citations))


def document_names(language: str, citations: Sequence[Citation]) -> str:
    """The documents the citations quote, by name, in the reader's language: 《a》、《b》 or "a and b"."""
    quoted = list(dict.fromkeys(c.source for c in citations))
    return "、".join(f"《{name}》" for name in quoted) if language == "zh" else " and ".join(quoted)
