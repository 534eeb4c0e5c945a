"""What changed between two versions of a document: sentences and table rows aligned, figures compared.

Not a line diff: text extracted from a PDF is re-wrapped between editions, so lines are joined inside a paragraph
and compared without whitespace; a table row (a line of cells) stays a unit of its own. Units are aligned in
order (difflib), a replaced unit is paired with the most similar one replacing it, and within a changed pair the
figures are compared as quantities ("100亿美元" → "130亿美元"). A paragraph that only moved is not a change.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.answering.verify.quantities import CURRENCY_RE, QUANTITY_RE, Quantity, quantities, same_quantity
from assistant.indexing.versions import Version
from assistant.language import SENTENCE_END_RE

PARAGRAPH_RE = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")
TABLE_ROW_RE = re.compile(r"\||\t|\S {2,}\S")  # cells: pipes, tabs, or runs of spaces between words
WHITESPACE_RE = re.compile(r"\s+")
SAME_UNIT = 0.5  # a removed and an added unit at least this similar are one changed unit
MAX_PAIRINGS = 40_000  # unit comparisons in one replaced block (~1 s); beyond, its units are listed removed and added


@dataclass(frozen=True)
class Unit:
    """A sentence or table row of one version, with its offsets in that version's cleaned text."""

    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return WHITESPACE_RE.sub("", self.text)


@dataclass(frozen=True)
class FigureChange:
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """One added, removed or changed unit; a changed one lists the figures that differ."""

    kind: Literal["added", "removed", "changed"]
    old: Unit | None = None
    new: Unit | None = None
    figures: tuple[FigureChange, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        def unit(u: Unit | None) -> dict[str, object] | None:
            return {"text": u.text, "start": u.start, "end": u.end} if u else None

        return {
            "kind": self.kind,
            "old": unit(self.old),
            "new": unit(self.new),
            "figures": [{"old": f.old, "new": f.new} for f in self.figures],
        }


def units(text: str) -> list[Unit]:
    """Sentences (joined across line breaks inside a paragraph) and table rows, in order, verbatim."""
    pieces: list[tuple[int, int]] = []
    for paragraph in PARAGRAPH_RE.finditer(text):
        run_start = None  # where the current run of prose lines began
        for line in re.finditer(r"[^\n]+\n?", paragraph.group() + "\n"):
            start, end = paragraph.start() + line.start(), min(paragraph.start() + line.end(), paragraph.end())
            if TABLE_ROW_RE.search(line.group().strip()):
                if run_start is not None:
                    pieces += _sentences(text, run_start, start)
                    run_start = None
                pieces.append((start, end))
            elif run_start is None:
                run_start = start
        if run_start is not None:
            pieces += _sentences(text, run_start, paragraph.end())
    found = []
    for start, end in pieces:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            offset = start + piece.index(stripped)
            found.append(Unit(stripped, offset, offset + len(stripped)))
    return found


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]``, a run of prose lines read as one (re-wrapping is not a change)."""
    flat = text[start:end].replace("\n", " ")  # same length: offsets stay those of the text
    bounds = [0, *(m.end() for m in SENTENCE_END_RE.finditer(flat)), len(flat)]
    return [(start + a, start + b) for a, b in zip(bounds, bounds[1:])]


def figures_changed(old: str, new: str) -> tuple[FigureChange, ...]:
    """Figures of ``old`` that ``new`` does not state, paired in order with those ``new`` states instead."""
    before, after = _written(old), _written(new)
    gone = [text for text, figure in before if not any(same_quantity(figure, other) for _, other in after)]
    came = [text for text, figure in after if not any(same_quantity(figure, other) for _, other in before)]
    return tuple(FigureChange(a, b) for a, b in zip(gone, came))


def _written(text: str) -> list[tuple[str, Quantity]]:
    """Each figure as the text writes it ("$13 billion", "100亿美元"), with its value."""
    found = []
    for m in QUANTITY_RE.finditer(text):
        start = m.start() - 1 if text[m.start() - 1 : m.start()] == "$" else m.start()
        end = (CURRENCY_RE.match(text, m.end()) or m).end()
        found += [(text[start:end].strip(), figure) for figure in quantities(m.group())]
    return found


def compare(old_text: str, new_text: str) -> list[Change]:
    """The changes from ``old_text`` to ``new_text``, in the new text's order (removed units where they were)."""
    old, new = units(old_text), units(new_text)
    matcher = difflib.SequenceMatcher(None, [u.key for u in old], [u.key for u in new], autojunk=False)
    changes: list[Change] = []
    for tag, a, b, c, d in matcher.get_opcodes():
        if tag != "equal":
            changes += _pair(old[a:b], new[c:d])
    moved = {ch.old.key for ch in changes if ch.kind == "removed" and ch.old} & {
        ch.new.key for ch in changes if ch.kind == "added" and ch.new
    }
    return [ch for ch in changes if (ch.old or ch.new).key not in moved or ch.kind == "changed"]  # type: ignore[union-attr]


def _pair(removed: list[Unit], added: list[Unit]) -> list[Change]:
    """A replaced block: each added unit paired with the most similar removed one still free, when similar enough."""
    changes: list[Change] = []
    free = list(removed)
    if len(removed) * len(added) > MAX_PAIRINGS:  # a rewritten document: pairing would take minutes, and mean little
        return [Change("removed", unit) for unit in removed] + [Change("added", None, unit) for unit in added]
    for unit in added:
        scored = [(difflib.SequenceMatcher(None, old.key, unit.key, autojunk=False).ratio(), old) for old in free]
        ratio, match = max(scored, key=lambda s: s[0], default=(0.0, None))
        if match is not None and ratio >= SAME_UNIT:
            free.remove(match)
            changes.append(Change("changed", match, unit, figures_changed(match.text, unit.text)))
        else:
            changes.append(Change("added", None, unit))
    return [Change("removed", unit) for unit in free] + changes


@dataclass(frozen=True)
class DocumentChanges:
    """The changes from version ``old`` to version ``new`` of one document."""

    doc_id: str
    old: Version
    new: Version
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "from": self.old.to_dict(),
            "to": self.new.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
        }

    def lines(self) -> list[str]:
        """One line per change, as ``assistant changes`` prints them."""
        shown = []
        for change in self.changes:
            figures = "; ".join(f"{f.old} → {f.new}" for f in change.figures)
            if change.kind == "changed" and change.old and change.new:
                shown.append(f"~ {figures + ': ' if figures else ''}{change.old.text}  →  {change.new.text}")
            elif change.new:
                shown.append(f"+ {change.new.text}")
            elif change.old:
                shown.append(f"- {change.old.text}")
        return shown


CHANGE_QUESTION_RE = re.compile(
    r"\bwhat(?:'s| has| have)? changed\b|\bwhat (?:was|were|has been|have been) (?:added|removed|deleted|changed)\b"
    r"|\b(?:previous|earlier|last|old|new|updated|revised|latest) (?:version|edition|revision)\b"
    r"|\b(?:changes?|differences?)\b[^.?!]{0,40}\b(?:versions?|editions?|revisions?|update)\b"
    r"|(?:修订版|新版|新版本|更新后|这次更新|上一版|旧版|前一版|上个版本|上一个版本|版本)[^。？?]{0,12}(?:改|变|不同|新增|增加|删)"
    r"|(?:改了|改动了?|修改了?|变更了?|更新了)(?:哪些|什么)",
    re.IGNORECASE,
)
CHANGES_LEAD = {
    "zh": "《{doc}》第{old}版 → 第{new}版的变化（由代码比对两个版本得出）：",
    "en": "What changed in {doc} from version {old} to version {new} (computed by comparing the two versions):",
}
NO_CHANGES = {"zh": "《{doc}》第{old}版与第{new}版的文字相同。", "en": "Versions {old} and {new} of {doc} have the same text."}
KIND_LABEL = {
    "zh": {"changed": "修改", "added": "新增", "removed": "删除"},
    "en": {"changed": "Changed", "added": "Added", "removed": "Removed"},
}
LINE = {"zh": "{i}. {label}{figures}：{quote}{was}", "en": "{i}. {label}{figures}: {quote}{was}"}
FIGURES = {"zh": "（{}）", "en": " ({})"}
WAS = {"zh": "（原文：{}）", "en": " (was: {})"}
SEPARATOR = {"zh": "；", "en": "; "}
MAX_LISTED = 10  # changes listed in a chat answer; `assistant changes` lists them all


def asks_what_changed(question: str) -> bool:
    """Whether a question asks about an update ("what changed?", "修订版改了哪些数字") rather than the content."""
    return bool(CHANGE_QUESTION_RE.search(question))


def change_lines(found: DocumentChanges, language: str, first: int = 1) -> tuple[str, list[tuple[Unit, int | None]]]:
    """The answer's text with markers from ``first`` on, and the units it quotes in marker order, each with its
    earlier version (None: the current one).

    Each change cites the new wording and, for a changed unit, the earlier version's wording too.
    """
    if not found.changes:
        return NO_CHANGES[language].format(doc=found.doc_id, old=found.old.n, new=found.new.n), []
    quoted: list[tuple[Unit, int | None]] = []

    def cite(unit: Unit, version: int | None) -> str:
        quoted.append((unit, version))
        return f"“{unit.text}” [{first + len(quoted) - 1}]"

    lines = [CHANGES_LEAD[language].format(doc=found.doc_id, old=found.old.n, new=found.new.n)]
    for i, change in enumerate(found.changes[:MAX_LISTED], start=1):
        figures = SEPARATOR[language].join(f"{f.old} → {f.new}" for f in change.figures)
        now = change.new or change.old
        assert now is not None  # every change has a side
        quote = cite(now, None if change.new else found.old.n)
        was = WAS[language].format(cite(change.old, found.old.n)) if change.kind == "changed" and change.old else ""
        lines.append(LINE[language].format(
            i=i, label=KIND_LABEL[language][change.kind], figures=FIGURES[language].format(figures) if figures else "",
            quote=quote, was=was,
        ))
    return "\n".join(lines), quoted


CHANGED_NOTE = {
    "zh": "注意：《{doc}》第{new}版修改了引用的内容：{figures}（前者为第{old}版）。",
    "en": "Note: version {new} of {doc} changed the quoted passage: {figures} (the first as version {old} had it).",
}


def change_note(found: DocumentChanges, spans: Sequence[tuple[int, int]], language: str) -> str:
    """A note for quotes (``spans`` of the current version) whose figures the latest update changed; "" if none."""
    figures = [
        f"{f.old} → {f.new}"
        for change in found.changes
        if change.kind == "changed" and change.new and any(change.new.start < end and start < change.new.end for start, end in spans)
        for f in change.figures
    ]
    if not figures:
        return ""
    return CHANGED_NOTE[language].format(
        doc=found.doc_id, new=found.new.n, old=found.old.n, figures=SEPARATOR[language].join(dict.fromkeys(figures))
    )


PASSAGE_NOTE = {
    "zh": {
        "changed": "[{n}] 引自《{doc}》第{old}版；该段在第{new}版（{when}）改为：{now}",
        "removed": "[{n}] 引自《{doc}》第{old}版；该段在第{new}版（{when}）已删除。",
        "gone": "[{n}] 引自《{doc}》第{old}版，该版本已不再保留；引文保存在此回答中。",
    },
    "en": {
        "changed": "[{n}] quotes version {old} of {doc}; version {new} ({when}) changed the passage to: {now}",
        "removed": "[{n}] quotes version {old} of {doc}; version {new} ({when}) removed the passage.",
        "gone": "[{n}] quotes version {old} of {doc}, which is no longer kept; the quote is saved with this answer.",
    },
}


def fate(changes: Sequence[Change], start: int, end: int) -> Change | None:
    """What an update (``changes``, as ``compare`` found them) did to the passage at ``start:end`` of the old text:
    the changed or removed unit that overlaps it, or None when it was left as it was."""
    return next(
        (c for c in changes if c.kind != "added" and c.old is not None and c.old.start < end and start < c.old.end),
        None,
    )


def passage_note(n: int, doc_id: str, old: int, change: Change | None, new: int, when: str, language: str) -> str:
    """The line a reopened answer shows for citation ``n`` whose passage a later version changed or removed
    (``change`` None: the quoted version is no longer kept)."""
    if change is None:
        return PASSAGE_NOTE[language]["gone"].format(n=n, doc=doc_id, old=old)
    now = change.new.text if change.kind == "changed" and change.new else ""
    return PASSAGE_NOTE[language][change.kind].format(n=n, doc=doc_id, old=old, new=new, when=when, now=now)


EARLIER_QUESTION_RE = re.compile(
    r"\b(?:previous|earlier|last|old|original|first|prior) (?:version|edition|revision)\b[^.?!]{0,40}"
    r"\b(?:say|said|says|state|stated|write|wrote|have|had|put)\b"
    r"|\b(?:say|said|state|stated|write|wrote)\b[^.?!]{0,60}\b(?:previous|earlier|last|old|original|first|prior) "
    r"(?:version|edition|revision)\b"
    r"|\bbefore the (?:update|revision)\b"
    r"|(?:上一版|旧版|前一版|上个版本|上一个版本|原版|修订前|更新前|之前的版本)[^。？?]{0,30}(?:说|写|提到|怎么|是什么|多少|如何)",
    re.IGNORECASE,
)
EARLIER_LEAD = {
    "zh": "《{doc}》第{old}版（更新前）关于此的原文：",
    "en": "What version {old} of {doc} (before the update) said about this:",
}
EARLIER_LINE = {
    "changed": {"zh": "{old}；第{new}版改为：{new_quote}", "en": "{old}; version {new} changed it to: {new_quote}"},
    "same": {"zh": "{old}（第{new}版未改）", "en": "{old} (unchanged in version {new})"},
    "added": {"zh": "第{old_n}版没有这段；它在第{new}版中加入：{new_quote}", "en": "Version {old_n} did not have this; version {new} added: {new_quote}"},
}


def asks_about_earlier(question: str) -> bool:
    """A question about what an earlier version said on a topic ("what did the previous edition say about …",
    "上一版怎么说…"), rather than about the update as a whole."""
    return bool(EARLIER_QUESTION_RE.search(question))


def earlier_of(found: DocumentChanges, new_text: str, start: int, end: int) -> tuple[str, Unit | None, Unit | None]:
    """What the earlier version had where the later one has ``start:end``: ("changed", old unit, new unit),
    ("added", None, new unit) or ("same", the passage in the old version, None); the old unit's offsets are in the
    old version's text, found by the caller (``old_text``) for "same"."""
    for change in found.changes:
        if change.new is not None and change.new.start < end and start < change.new.end:
            return change.kind, change.old, change.new
    return "same", None, None


def earlier_lines(
    found: DocumentChanges, items: Sequence[tuple[str, Unit | None, Unit | None]], language: str, first: int = 1
) -> tuple[str, list[tuple[Unit, int | None]]]:
    """The answer to "what did the earlier version say": per current passage, the earlier wording cited from the
    earlier version, with what the update made of it cited from the current one."""
    quoted: list[tuple[Unit, int | None]] = []

    def cite(unit: Unit, version: int | None) -> str:
        quoted.append((unit, version))
        return f"“{unit.text}” [{first + len(quoted) - 1}]"

    lines = [EARLIER_LEAD[language].format(doc=found.doc_id, old=found.old.n)]
    for kind, old, new in items:
        line = EARLIER_LINE[kind][language]
        lines.append(line.format(
            old=cite(old, found.old.n) if old else "", new=found.new.n, old_n=found.old.n,
            new_quote=cite(new, None) if new else "",
        ))
    return "\n".join(lines), quoted
