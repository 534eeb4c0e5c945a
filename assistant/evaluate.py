"""Evaluation on a golden question file: retrieval hit@k and MRR, answer quality, citation integrity, refusals."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.answering.verify import strip_markers
from assistant.errors import AssistantError
from assistant.ingest.chunk import normalize
from assistant.ingest.clean import (
    SENTENCE_END,
    TITLE_LINE_MAX,
    clean_raw,
    ends_sentence,
    is_heading_like,
)
from assistant.ingest.load import load_corpus
from assistant.retrieval.sections import section_references
from assistant.language import detect_language
from assistant.types import Answer, CleanDocument, Turn

ENGLISH_LATIN_SHARE = 0.8


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    lang: str
    question: str
    evidence: tuple[str, ...]
    answer_keywords: tuple[str, ...]
    type: str = ""
    section: str = ""  # where the evidence is ("第三节", "摘要")
    history: tuple[str, ...] = ()  # earlier questions of the conversation; the eval answers them itself first
    doc: str = ""  # the document that holds the answer (library sets); empty: any, or none for unanswerables
    split: str = ""  # "tune" or "check": see assign_splits

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
                    section=str(row.get("section", "")),
                    history=tuple(str(turn["question"]) for turn in row.get("history", [])),
                    doc=str(row.get("doc", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AssistantError(f"{path}:{number} is not a golden question ({exc}).") from exc
    return assign_splits(questions)


SPLITS = ("tune", "check")


def assign_splits(questions: list[GoldenQuestion]) -> list[GoldenQuestion]:
    """A fixed tuning half and check half: within each (document, language) group, even positions tune and odd
    positions check. Rules and constants are chosen on the tuning half; results are quoted on the check half, so a
    change that only fits the known questions shows up as a gap between the two."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    assigned = []
    for q in questions:
        position = seen[(q.doc, q.lang)]
        seen[(q.doc, q.lang)] += 1
        assigned.append(replace(q, split=SPLITS[position % 2]))
    return assigned


def only_split(questions: list[GoldenQuestion], split: str) -> list[GoldenQuestion]:
    """The questions of one half ("tune" or "check"), or all of them ("all")."""
    return questions if split == "all" else [q for q in questions if q.split == split]


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
    in_original: int = 0
    fragments: int = 0
    headings: int = 0
    section_quotes: int = 0  # quotes of questions that name a section ("第三节", "the conclusion")
    in_section: int = 0
    claims: int = 0
    verified_claims: int = 0
    fallbacks: int = 0
    generated: int = 0
    english_answered: int = 0  # answered English questions
    english_in_english: int = 0  # ...whose answer is at least ENGLISH_LATIN_SHARE Latin letters
    answered_any: int = 0  # answered questions, either language
    in_question_language: int = 0  # ...whose own words (quotes aside) are in the question's language
    with_doc: int = 0  # answered questions that name the document holding the answer
    right_doc: int = 0  # ...whose citations all come from that document
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
            # Against the document as the reader sees it (whitespace ignored), not the cleaned text.
            "quotes_in_original": round(self.in_original / max(self.quotes, 1), 3),
            "fragment_quotes": self.fragments,  # neither a whole sentence nor a whole table row
            "heading_quotes": self.headings,  # a title, heading or label quoted alone
            # Questions naming a section: share of their quotes from that section (None: no such question).
            "section_quotes_in_section": round(self.in_section / self.section_quotes, 3) if self.section_quotes else None,
            # Share of generated answer sentences whose citation the verifier confirmed (None: no generated text).
            "verified_sentence_share": round(self.verified_claims / self.claims, 3) if self.claims else None,
            "english_answers_in_english": round(self.english_in_english / self.english_answered, 3)
            if self.english_answered
            else None,
            # Either language: the answer's own words (verbatim quotes removed) are in the question's language.
            "answers_in_question_language": round(self.in_question_language / self.answered_any, 3)
            if self.answered_any
            else None,
            # Library sets: answers whose citations all come from the document that holds the answer.
            "right_document": round(self.right_doc / self.with_doc, 3) if self.with_doc else None,
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


def answer_language_matches(answer: Answer, language: str) -> bool:
    """Whether the answer's own words are in ``language``: quotes are the document's words, so they are removed
    first (a Chinese answer about an English text quotes English); what remains is judged by its letters."""
    own = strip_markers(answer.text)
    for citation in answer.citations:
        own = own.replace(citation.quote, " ")
    if language == "en":
        return latin_share(own) >= ENGLISH_LATIN_SHARE
    return detect_language(own) == language


def latin_share(text: str) -> float:
    """Share of the answer's letters that are Latin: English answers should be ≥ ENGLISH_LATIN_SHARE."""
    letters = [c for c in strip_markers(text) if c.isalpha()]
    return sum(1 for c in letters if c.isascii()) / len(letters) if letters else 0.0


class OriginalText:
    """A document as the reader sees it, without whitespace, with the offsets where its lines start and end."""

    def __init__(self, raw: str) -> None:
        parts, bounds, length = [], {0}, 0
        for line in raw.splitlines():
            piece = normalize(line)
            parts.append(piece)
            length += len(piece)
            bounds.add(length)
        self.text = "".join(parts)
        self.bounds = bounds
        self.title = next((normalize(line) for line in raw.splitlines() if line.strip()), "")

    def contains(self, quote: str) -> bool:
        return bool(normalize(quote)) and normalize(quote) in self.text

    def whole_lines(self, quote: str) -> bool:
        """Whether some occurrence of the quote starts at a line start and ends at a line end (a table row or cell)."""
        wanted = normalize(quote)
        position = self.text.find(wanted) if wanted else -1
        while position >= 0:
            if position in self.bounds and position + len(wanted) in self.bounds:
                return True
            position = self.text.find(wanted, position + 1)
        return False


class QuoteChecker:
    """Checks each quote independently of the index: the exact cleaned span it claims, verbatim in the original
    document (ignoring whitespace), a whole sentence or table row, and not a heading or title on its own."""

    def __init__(self, corpus_dir: Path) -> None:
        documents, _ = load_corpus(corpus_dir)
        cleaned = {d.doc_id: clean_raw(d) for d in documents}
        self.cleaned = {doc_id: doc.text for doc_id, doc in cleaned.items()}
        self.original = {d.doc_id: OriginalText(d.text) for d in documents}
        self.headings = {doc_id: _heading_lines(doc) for doc_id, doc in cleaned.items()}

    def verbatim(self, source: str, quote: str, start: int, end: int) -> bool:
        return bool(quote) and self.cleaned.get(source, "")[start:end] == quote

    def in_original(self, source: str, quote: str) -> bool:
        original = self.original.get(source)
        return original is not None and original.contains(quote)

    def is_fragment(self, source: str, quote: str, kind: str) -> bool:
        """Neither a sentence that ends at its full stop nor one whole row (line or cell) of a table."""
        if ends_sentence(quote.strip(), SENTENCE_END + "."):
            return False
        original = self.original.get(source)
        return not (kind == "table" and original is not None and original.whole_lines(quote))

    def is_heading(self, source: str, quote: str, kind: str) -> bool:
        """The title, a section or sub-heading, or a short unpunctuated label outside a table, quoted on its own."""
        key = normalize(quote)
        original = self.original.get(source)
        if key in self.headings.get(source, set()) or (original is not None and key == original.title):
            return True
        return kind != "table" and is_heading_like(quote.strip(), TITLE_LINE_MAX)


def _heading_lines(doc: CleanDocument) -> set[str]:
    """Section titles and sub-headings (a page-scope marker with no heading of its own adds nothing)."""
    return {normalize(h.heading or h.section) for h in doc.headings} - {""}


def check_quotes(tally: "Tally", answer: Answer, checker: QuoteChecker) -> None:
    kinds = {hit.chunk.id: hit.chunk.kind for hit in answer.retrieved}
    for c in answer.citations:
        kind = kinds.get(c.chunk_id, "prose")
        tally.quotes += 1
        tally.verbatim += checker.verbatim(c.source, c.quote, c.start, c.end)
        tally.in_original += checker.in_original(c.source, c.quote)
        tally.fragments += checker.is_fragment(c.source, c.quote, kind)
        tally.headings += checker.is_heading(c.source, c.quote, kind)


def in_named_section(section: str, golden: str) -> bool:
    """Whether a quote's section is one of the golden line's sections ("摘要+第三节": either part)."""
    return any(part and section.startswith(part) for part in golden.split("+"))


def ask_in_conversation(ask: Callable[..., Answer], q: GoldenQuestion) -> Answer:
    """Answer the earlier questions first, each with the turns before it, then the follow-up with all of them."""
    turns: list[Turn] = []
    for earlier in q.history:
        answer = ask(earlier, history=tuple(turns)) if turns else ask(earlier)
        turns.append((earlier, answer.text))
    return ask(q.question, history=tuple(turns)) if turns else ask(q.question)


def evaluate(
    questions: list[GoldenQuestion],
    ask: Callable[..., Answer],
    checker: QuoteChecker,
    on_answer: Callable[[GoldenQuestion, Answer], None] | None = None,
) -> dict[str, dict[str, float | int | None]]:
    """Metrics per language and overall; follow-ups (questions with a history) are tallied apart, as "followup"."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for q in questions:
        answer = ask_in_conversation(ask, q)
        if on_answer:
            on_answer(q, answer)
        lang = q.lang or answer.language
        groups = ("followup", f"followup-{q.lang}") if q.history else (lang, "all")
        groups += tuple(f"{q.split}-{group}" for group in groups) if q.split else ()
        for tally in (tallies[group] for group in groups):
            tally.add_answer(answer)
            check_quotes(tally, answer, checker)
            if q.section and section_references(q.question):
                tally.section_quotes += len(answer.citations)
                tally.in_section += sum(1 for c in answer.citations if in_named_section(c.section, q.section))
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
            if answer.answerable:
                tally.answered_any += 1
                tally.in_question_language += answer_language_matches(answer, lang)
            if q.doc and answer.answerable and answer.citations:
                tally.with_doc += 1
                tally.right_doc += all(c.source == q.doc for c in answer.citations)
    return {key: tallies[key].summary() for key in sorted(tallies, key=_group_order)}


def _group_order(key: str) -> tuple[int, str]:
    """Every question's groups first, then the tuning half's, then the check half's."""
    half, _, rest = key.partition("-")
    position = SPLITS.index(half) + 1 if half in SPLITS else 0
    return position, rest if position else key
