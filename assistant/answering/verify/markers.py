"""Citation markers in the many bracket styles models write, and answer sentences split around them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.language import CJK

CONTENT_RE = re.compile(f"[A-Za-z0-9０-９{CJK}]")  # a bare figure ("30%") is a claim
MAX_MARKER = 99

_NUMBER = r"[0-9０-９]+"
_ITEM = rf"{_NUMBER}(?:\s*[-–~～]\s*{_NUMBER})?"
_MARKER = rf"[\[［【]\^?\s*{_ITEM}(?:\s*[,，、;；]\s*{_ITEM})*\s*[\]］】]"
MARKER_RE = re.compile(_MARKER)
ITEM_RE = re.compile(rf"({_NUMBER})(?:\s*[-–~～]\s*({_NUMBER}))?")
SENTENCE_END_RE = re.compile(
    rf"(?:[。！？!?…]+|(?<!\.[A-Za-z])\.(?=\s|$|[\[［【]))[”’」』）)\"']*(?:[ \t]*{_MARKER})*|\n",
    re.MULTILINE,
)
# A URL or a code span is one word: "?" and "!" inside it end no sentence, and no marker goes inside it.
VERBATIM_RE = re.compile(r"`[^`\n]*`|\b(?:https?|ftp)://[^\s<>\"'，。！？、）)\]】]*[^\s<>\"'，。！？、）)\]】.,;:!?]")
LIST_PREFIX_RE = re.compile(r"^\s*(?:[-*•·]\s*)?(?:\d{1,2}(?:[.)](?=\s)|、)\s*)?")
LIST_NUMBER_RE = re.compile(r"[ \t]*(?:[-*•·][ \t]*)?\d{1,2}\.")
TRAILING_END_RE = re.compile(r"[\s。！？!?…．.”’」』）)\"']*$")


@dataclass(frozen=True)
class Marker:
    """A citation marker at ``text[start:end]`` naming sources by 1-based number."""

    start: int
    end: int
    numbers: tuple[int, ...]


def parse_markers(text: str) -> list[Marker]:
    """Every citation marker in ``text``: ``[1]``, ``[1, 2]``, ``[1-3]``, ``[^1]``, ``【1，2】``, ``［１］``…

    Numbers keep their first-seen order without repeats. Bracketed numbers above
    ``MAX_MARKER`` are years or figures, not markers, and are skipped.
    """
    markers = []
    for match in MARKER_RE.finditer(text):
        numbers: list[int] = []
        for item in ITEM_RE.finditer(match.group()):
            first = int(item.group(1))
            last = int(item.group(2)) if item.group(2) else first
            numbers.extend(range(first, last + 1) if first <= last else (first, last))
        if max(numbers) <= MAX_MARKER:
            markers.append(Marker(match.start(), match.end(), tuple(dict.fromkeys(numbers))))
    return markers


def strip_markers(text: str) -> str:
    """The text without citation markers (and without the space that preceded them)."""
    out, cursor = [], 0
    for marker in parse_markers(text):
        out.append(text[cursor : marker.start].rstrip(" \t"))
        cursor = marker.end
    out.append(text[cursor:])
    return "".join(out)


def split_answer_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer in Chinese or English, each keeping the markers that follow its full stop.

    A span that is only markers joins the sentence before it; list numbering
    ("1.") and abbreviations ("e.g.", "U.S.") do not end a sentence, nor does punctuation inside a URL or code span.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    verbatim = [m.span() for m in VERBATIM_RE.finditer(text)]
    for match in SENTENCE_END_RE.finditer(text):
        if LIST_NUMBER_RE.fullmatch(text, text.rfind("\n", 0, match.start()) + 1, match.start() + 1):
            continue
        if any(a <= match.start() < b for a, b in verbatim):
            continue
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, len(text)))
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a == b:
            continue
        if merged and not CONTENT_RE.search(strip_markers(text[a:b])) and parse_markers(text[a:b]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def marker_segments(raw: str, markers: Sequence[Marker]) -> dict[str, list[int]]:
    """For a sentence with several markers: the words before each marker (since the previous one) and their sources.

    Adjacent markers (``[1][2]``) share the words before the first of them.
    """
    if len(markers) < 2:
        return {}
    segments: dict[str, list[int]] = {}
    segment, cursor = "", 0
    for marker in markers:
        words = LIST_PREFIX_RE.sub("", raw[cursor : marker.start]).strip(" \t,，;；、")
        segment = words if CONTENT_RE.search(words) else segment
        if segment:
            segments.setdefault(segment, []).extend(marker.numbers)
        cursor = marker.end
    return segments


def end_insertion_point(sentence: str) -> int:
    """Where appended markers go: before the closing full stop and quotes."""
    match = TRAILING_END_RE.search(sentence)
    return match.start() if match else len(sentence)


def join_marker(before: str, markers: str) -> str:
    """Attach markers to text the way the language does: ``美元[1]`` but ``dollars [1]``."""
    if not markers:
        return before
    spaced = before and before[-1].isascii() and not before[-1].isspace() and before[-1] not in "[(]"
    return f"{before} {markers}" if spaced else before + markers
