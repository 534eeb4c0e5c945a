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

from assistant.answering.digest import central_sentences
from assistant.answering.windows import Window, select_windows
from assistant.indexing.manifest import write_atomic
from assistant.retrieval.sections import (
    CHINESE_NUMERALS,
    SectionScope,
    main_sections,
    numbered_sections,
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
PER_SECTION_IN_REPORT = 2  # central sentences each section offers to a whole-report digest
SECTION_NUMBER_RE = re.compile(f"第([{CHINESE_NUMERALS}])节")
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
    scope = SectionScope(section_references(question), tuple(numbered_sections(ordered)))
    if scope.parts:
        return scope.label, [c for c in ordered if scope.part_of(c) is not None]
    main = set(main_sections(ordered))
    return "report", [c for c in ordered if c.section in main] or ordered


def summary_requests(sections: Sequence[str], language: str) -> list[str]:
    """One summary question per main section, then one for the whole report: what ``index --digests`` asks."""
    requests = []
    for section in sections:
        number = SECTION_NUMBER_RE.match(section)
        if number:
            n = CHINESE_NUMERALS.index(number.group(1)) + 1
            requests.append(f"请总结{number.group(0)}" if language == "zh" else f"Summarize section {n}")
        elif section == "摘要":
            requests.append("请总结摘要" if language == "zh" else "Summarize the abstract")
    return [*requests, REPORT_REQUEST[language]]


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


def cached_answer(entry: dict, draft: Answer) -> Answer | None:
    """The cached digest as the answer to ``draft``'s question, or None when the entry is malformed."""
    try:
        citations = tuple(Citation(**c) for c in entry["citations"])
        checks = tuple(SentenceCheck(**{**c, "citations": tuple(c["citations"]), "reason": Reason(c["reason"])}) for c in entry["checks"])
        return replace(draft, text=str(entry["text"]), citations=citations, checks=checks, mode=AnswerMode.GENERATED, model=str(entry["model"]))
    except (KeyError, TypeError, ValueError):
        return None
