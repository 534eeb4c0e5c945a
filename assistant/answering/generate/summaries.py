"""Model-written section digests: sources drawn from the whole section, answers cached by content.

A summary request ("总结第三节", "summarize the report") is about a section, not about the
words of the question, so its sources are the section's most central sentences taken from
*all* of its chunks, not from the passages the question retrieved. That makes the prompt a
function of the section's content alone, and the verified answer can be cached under a key
of the section's chunk ids (content-derived), the language and the model: a later summary
of the same section is instant, an unchanged re-index keeps it, and an edit anywhere in the
section changes the key. Writing a digest costs a model call of ~20 s on 2 CPU cores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from assistant.answering.compose.digest import central_sentences
from assistant.answering.generate.translate import renumber_markers
from assistant.answering.evidence.windows import Window, select_windows
from assistant.indexing.store.manifest import write_atomic
from assistant.language import CJK_RE
from assistant.language import heading_labels
from assistant.retrieval.sections import (
    ABSTRACT_HEADING_RE,
    SectionScope,
    main_sections,
    section_references,
)
from assistant.retrieval.sentences import SentenceIndex
from assistant.types import (
    Answer,
    AnswerMode,
    Chunk,
    Citation,
    Hit,
    Reason,
    SentenceCheck,
)

log = logging.getLogger(__name__)

CACHE_FILE = "digests.json"
MAX_ENTRIES = 256  # sections × languages × models; the oldest entries go first
PER_SECTION_IN_REPORT = 2  # central sentences (or digest sentences) each section offers to a whole-report digest
MIN_DIGEST_CLAIMS = 2  # fewer verified sentences than this is not a summary
LEADING_MARKERS_RE = re.compile(r"(?:\[\d+\]\s*)+")
SENTENCE_JOIN = {"zh": "", "en": " "}
REPORT_REQUEST = {"zh": "请总结这份报告的主要观点", "en": "Summarize the report"}


@dataclass(frozen=True)
class DigestPlan:
    """What a summary is written from: its scope, windows, and the cache key of both."""

    scope: str  # the section label, or "report"
    windows: list[Window]
    key: str


def scope_chunks(chunks: Sequence[Chunk], question: str) -> tuple[str, list[Chunk]]:
    """The chunks a summary question covers: the named sections', or the main sections' for the whole report."""
    ordered = sorted(chunks, key=lambda c: (c.doc_id, c.start))
    scope = SectionScope(section_references(question))
    if scope.parts:
        return scope.label, [c for c in ordered if scope.part_of(c) is not None]
    main = set(main_sections(ordered))
    return "report", [c for c in ordered if c.section in main] or ordered


def summary_requests(sections: Sequence[str], language: str) -> list[str]:
    """One summary question per main section, then one for the whole report: what ``index --digests`` asks."""
    return [*section_requests(sections, language), REPORT_REQUEST[language]]


def section_requests(sections: Sequence[str], language: str) -> list[str]:
    """One summary question per main section (the abstract and the numbered ones), naming it by its label."""
    requests = []
    for section in sections:
        labels = heading_labels(section)
        if labels:
            label = section.split()[0] if labels[0].unit else f"第{labels[0].number}节"  # "11. Patents." → 第11节
            requests.append(f"请总结{label}" if language == "zh" else f"Summarize section {labels[0].number}")
        elif ABSTRACT_HEADING_RE.match(section.strip()):
            requests.append("请总结摘要" if language == "zh" else "Summarize the abstract")
    return requests


def plan_digest(
    chunks: Sequence[Chunk], sentences: SentenceIndex, question: str, language: str, model: str, *, budget_tokens: int
) -> DigestPlan | None:
    """The digest's windows (central sentences of the scope, within the token budget) and its cache key."""
    scope, members = scope_chunks(chunks, question)
    ranked = central_sentences([Hit(chunk, 0.0, rank) for rank, chunk in enumerate(members, start=1)], sentences)
    if not ranked:
        return None
    if scope == "report":  # every section first offers its most central sentence, then its next one
        pool = [items[i] for i in range(PER_SECTION_IN_REPORT) for items in ranked.values() if i < len(items)]
    else:
        pool = [item for items in ranked.values() for item in items]
    pool = sorted(pool, key=lambda item: -item[0])
    windows = select_windows(pool, sentences, budget_tokens=budget_tokens, reach=0)
    windows.sort(key=lambda w: (w.source.doc_id, w.source.start))  # a summary reads in document order
    content = json.dumps([model, language, scope, sorted(c.id for c in members), [w.source.text for w in windows]])
    return DigestPlan(scope, windows, hashlib.sha256(content.encode("utf-8")).hexdigest())


class DigestCache:
    """Verified digests by key, in one JSON file beside the index; a damaged file is started afresh."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CACHE_FILE
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring the digest cache %s (%s); digests will be written again", self.path, exc)
            return {}
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> dict | None:
        with self._lock:
            entry = self._read().get(key)
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, answer: Answer) -> None:
        """Record a verified answer; written to a temporary file and renamed, so readers never see half a file."""
        entry = {
            "text": answer.text,
            "model": answer.model,
            "citations": [asdict(c) for c in answer.citations],
            "checks": [asdict(c) for c in answer.checks],
        }
        with self._lock:
            entries = self._read()
            entries.pop(key, None)
            entries[key] = entry
            while len(entries) > MAX_ENTRIES:
                entries.pop(next(iter(entries)))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(entries, ensure_ascii=False))
            except OSError as exc:  # a cache that cannot be written costs speed, never the answer
                log.warning("could not write the digest cache %s (%s)", self.path, exc)


def _renumbered(draft: Answer, parts: Sequence[tuple[Answer, Sequence[SentenceCheck]]], separator: str) -> Answer:
    """The chosen sentences of one or more answers as one answer, citations renumbered densely in order of use."""
    citations: list[Citation] = []
    checks: list[SentenceCheck] = []
    paragraphs = []
    for answer, chosen in parts:
        numbers: dict[int, int] = {}
        by_n = {c.n: c for c in answer.citations}
        for check in chosen:
            for old in check.citations:
                if old not in numbers and old in by_n:
                    numbers[old] = len(citations) + 1
                    citations.append(replace(by_n[old], n=numbers[old]))
        texts = [markers_last(renumber_markers(check.text, numbers).strip()) for check in chosen]
        checks += [
            replace(check, text=text, citations=tuple(numbers[n] for n in check.citations if n in numbers))
            for check, text in zip(chosen, texts)
        ]
        paragraphs.append(SENTENCE_JOIN.get(draft.language, " ").join(texts))
    return replace(draft, text=separator.join(paragraphs), citations=tuple(citations), checks=tuple(checks), mode=AnswerMode.GENERATED, model=parts[0][0].model if parts else draft.model)


def markers_last(sentence: str) -> str:
    """"[1] The market grows." → "The market grows. [1]": small models number a summary's sentences like a list."""
    lead = LEADING_MARKERS_RE.match(sentence)
    if not lead or lead.end() == len(sentence):
        return sentence
    markers = "".join(lead.group(0).split())
    return f"{sentence[lead.end():]}{' ' if sentence.isascii() else ''}{markers}"


def verified_digest(answer: Answer) -> Answer | None:
    """The digest with only its verified sentences, or None when fewer than ``MIN_DIGEST_CLAIMS`` remain.

    A digest is cached and served again and again, so a sentence the verifier could not confirm
    (most often a framing lead-in such as "The report discusses …") is dropped rather than shown flagged,
    and so is a sentence of an English digest that the model left (partly) in the sources' Chinese.
    """
    kept = [c for c in answer.checks if c.is_claim and c.verified and (answer.language != "en" or not CJK_RE.search(c.text))]
    if len(kept) < MIN_DIGEST_CLAIMS:
        return None
    return _renumbered(answer, [(answer, kept)], "")


def report_from_sections(sections: Sequence[Answer], draft: Answer) -> Answer:
    """A whole-report digest as the digest of the section digests: each one's first sentences, a paragraph each."""
    return _renumbered(draft, [(a, [c for c in a.checks if c.is_claim][:PER_SECTION_IN_REPORT]) for a in sections], "\n\n")


def cached_answer(entry: dict, draft: Answer) -> Answer | None:
    """The cached digest as the answer to ``draft``'s question, or None when the entry is malformed."""
    try:
        citations = tuple(Citation(**c) for c in entry["citations"])
        checks = tuple(SentenceCheck(**{**c, "citations": tuple(c["citations"]), "reason": Reason(c["reason"])}) for c in entry["checks"])
        return replace(draft, text=str(entry["text"]), citations=citations, checks=checks, mode=AnswerMode.GENERATED, model=str(entry["model"]))
    except (KeyError, TypeError, ValueError):
        return None
