"""Evaluation on a golden question file: retrieval hit@k and MRR, answer quality, citation integrity, refusals."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answering.verify import strip_markers
from assistant.errors import AssistantError
from assistant.ingest.chunk import normalize
from assistant.ingest.clean import clean_raw
from assistant.ingest.load import load_corpus
from assistant.types import Answer

ENGLISH_LATIN_SHARE = 0.8


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    lang: str
    question: str
    evidence: tuple[str, ...]
    answer_keywords: tuple[str, ...]
    type: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def read_golden(path: Path) -> list[GoldenQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"Cannot read the question file {path}: {exc.strerror or exc}.") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                GoldenQuestion(
                    id=str(row["id"]),
                    lang=str(row.get("lang", "")),
                    question=str(row["question"]),
                    evidence=tuple(row.get("evidence", [])),
                    answer_keywords=tuple(row.get("answer_keywords", [])),
                    type=str(row.get("type", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AssistantError(f"{path}:{number} is not a golden question ({exc}).") from exc
    return questions


def per_language(questions: list[GoldenQuestion], limit: int | None) -> list[GoldenQuestion]:
    """The first ``limit`` questions of each language (all when None): a balanced sample for slow LLM runs."""
    if limit is None:
        return questions
    taken: dict[str, int] = defaultdict(int)
    sample = []
    for q in questions:
        if taken[q.lang] < limit:
            taken[q.lang] += 1
            sample.append(q)
    return sample


def first_hit_rank(answer: Answer, evidence: Iterable[str]) -> int | None:
    """Rank of the first retrieved chunk containing any evidence string, ignoring PDF line breaks."""
    wanted = [normalize(e) for e in evidence]
    for hit in answer.retrieved:
        text = normalize(hit.chunk.text)
        if any(w in text for w in wanted):
            return hit.rank
    return None


def keyword_recall(answer_text: str, keywords: Iterable[str]) -> float:
    """Share of keyword groups ('a | b' = alternatives) present in the answer."""
    groups = [[alt.strip().lower() for alt in group.split("|")] for group in keywords]
    if not groups:
        return 1.0
    lowered = answer_text.lower()
    return sum(1 for alts in groups if any(alt and alt in lowered for alt in alts)) / len(groups)


@dataclass
class Tally:
    answerable: int = 0
    hits: int = 0
    reciprocal_rank: float = 0.0
    keyword_recall: float = 0.0
    with_citations: int = 0
    answered: int = 0
    unanswerable: int = 0
    refused: int = 0
    quotes: int = 0
    verbatim: int = 0
    claims: int = 0
    verified_claims: int = 0
    fallbacks: int = 0
    generated: int = 0
    english_answered: int = 0  # answered English questions
    english_in_english: int = 0  # ...whose answer is at least ENGLISH_LATIN_SHARE Latin letters
    first_token_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)

    def add_answer(self, answer: Answer) -> None:
        """What every answer contributes, answerable or not: generated-claim checks, fallbacks, latency."""
        claims = [c for c in answer.checks if c.is_claim]
        self.claims += len(claims)
        self.verified_claims += sum(1 for c in claims if c.verified)
        self.fallbacks += bool(answer.notice)
        self.generated += answer.mode == "generated" and answer.answerable
        self.first_token_ms.append(answer.timings.get("first_token", 0.0))
        self.total_ms.append(answer.timings.get("total", 0.0))

    def summary(self) -> dict[str, float | int | None]:
        a = max(self.answerable, 1)
        return {
            "questions": self.answerable + self.unanswerable,
            "hit@k": round(self.hits / a, 3),
            "mrr": round(self.reciprocal_rank / a, 3),
            "keyword_recall": round(self.keyword_recall / a, 3),
            "answers_with_citations": round(self.with_citations / a, 3),
            "answered_when_answerable": round(self.answered / a, 3),
            "refused_when_unanswerable": round(self.refused / max(self.unanswerable, 1), 3),
            "quotes_verbatim": round(self.verbatim / max(self.quotes, 1), 3),
            # Share of generated answer sentences whose citation the verifier confirmed (None: no generated text).
            "verified_sentence_share": round(self.verified_claims / self.claims, 3) if self.claims else None,
            "english_answers_in_english": round(self.english_in_english / self.english_answered, 3)
            if self.english_answered
            else None,
            "refusal_accuracy": round((self.answered + self.refused) / max(self.answerable + self.unanswerable, 1), 3),
            "generated_answers": self.generated,
            "llm_fallbacks": self.fallbacks,
            "first_token_p50_ms": round(statistics.median(self.first_token_ms), 1) if self.first_token_ms else None,
            "first_token_p95_ms": round(percentile(self.first_token_ms, 0.95), 1) if self.first_token_ms else None,
            "total_p50_ms": round(statistics.median(self.total_ms), 1) if self.total_ms else None,
        }


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (p95 of 30 values is the 29th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latin_share(text: str) -> float:
    """Share of the answer's letters that are Latin: English answers should be ≥ ENGLISH_LATIN_SHARE."""
    letters = [c for c in strip_markers(text) if c.isalpha()]
    return sum(1 for c in letters if c.isascii()) / len(letters) if letters else 0.0


class QuoteChecker:
    """Re-cleans the corpus independently of the index and checks each quote is the exact span it claims."""

    def __init__(self, corpus_dir: Path) -> None:
        documents, _ = load_corpus(corpus_dir)
        self.cleaned = {d.doc_id: clean_raw(d).text for d in documents}

    def verbatim(self, source: str, quote: str, start: int, end: int) -> bool:
        return bool(quote) and self.cleaned.get(source, "")[start:end] == quote


def evaluate(
    questions: list[GoldenQuestion],
    ask: Callable[[str], Answer],
    checker: QuoteChecker,
    on_answer: Callable[[GoldenQuestion, Answer], None] | None = None,
) -> dict[str, dict[str, float | int | None]]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for q in questions:
        answer = ask(q.question)
        if on_answer:
            on_answer(q, answer)
        for tally in (tallies[q.lang or answer.language], tallies["all"]):
            tally.add_answer(answer)
            for c in answer.citations:
                tally.quotes += 1
                tally.verbatim += checker.verbatim(c.source, c.quote, c.start, c.end)
            if q.answerable:
                tally.answerable += 1
                rank = first_hit_rank(answer, q.evidence)
                tally.hits += rank is not None
                tally.reciprocal_rank += 1 / rank if rank else 0.0
                tally.keyword_recall += keyword_recall(answer.text, q.answer_keywords)
                tally.with_citations += bool(answer.citations)
                tally.answered += answer.answerable
            else:
                tally.unanswerable += 1
                tally.refused += not answer.answerable
            if q.lang == "en" and answer.answerable:
                tally.english_answered += 1
                tally.english_in_english += latin_share(answer.text) >= ENGLISH_LATIN_SHARE
    return {lang: tally.summary() for lang, tally in sorted(tallies.items())}
