"""Check a generated answer against the numbered sources it was given.

Models cite loosely: markers in many bracket styles, numbers for sources that were
never given, claims with no marker at all, figures converted wrongly between
Chinese and English units. Verification is pure code over the sources — no second
model call — so it is cheap, deterministic and testable:

* markers are parsed, out-of-range ones dropped, the rest renumbered densely;
* each answer sentence is aligned to the source sentence that supports it best
  (embedding similarity through a callback, plus lexical overlap that counts
  dictionary translations and converted figures), which becomes its verbatim quote;
* every figure in a sentence must occur in the cited text, after unit conversion.

A bracketed number above ``MAX_MARKER`` (``[2023]``) is ordinary text, not a marker;
``[0]`` or a number above the number of sources is a marker to a source that does
not exist, so it is removed and counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .crosslingual import english_to_chinese_terms
from .embed import VectorEmbeddings
from .lexical import tokenize
from .types import Chunk, Citation, Reason, Sentence, SentenceCheck

Similarity = Callable[[str, Sequence[str]], Sequence[float]]
"""``similarity(claim, candidates)``: one score per candidate, cosine-like (higher is closer)."""

MAX_MARKER = 99
LEXICAL_WEIGHT = 0.2

_NUMBER = r"[0-9０-９]+"
_ITEM = rf"{_NUMBER}(?:\s*[-–~～]\s*{_NUMBER})?"
_MARKER = rf"[\[［【]\^?\s*{_ITEM}(?:\s*[,，、;；]\s*{_ITEM})*\s*[\]］】]"
MARKER_RE = re.compile(_MARKER)
ITEM_RE = re.compile(rf"({_NUMBER})(?:\s*[-–~～]\s*({_NUMBER}))?")
SENTENCE_END_RE = re.compile(
    rf"(?:[。！？!?…]+|(?<!\.[A-Za-z])\.(?=\s|$|[\[［【]))[”’」』）)\"']*(?:[ \t]*{_MARKER})*|\n",
    re.MULTILINE,
)
LIST_PREFIX_RE = re.compile(r"^\s*(?:[-*•·]\s*)?(?:\d{1,2}(?:[.)](?=\s)|、)\s*)?")
LIST_NUMBER_RE = re.compile(r"[ \t]*(?:[-*•·][ \t]*)?\d{1,2}\.")
TRAILING_END_RE = re.compile(r"[\s。！？!?…．.”’」』）)\"']*$")
LATIN_RE = re.compile(r"[A-Za-z]")
CONTENT_RE = re.compile(r"[A-Za-z0-9０-９\u3400-\u9fff\uf900-\ufaff]")  # a bare figure ("30%") is a claim

FULL_WIDTH = str.maketrans("０１２３４５６７８９％．", "0123456789%.")
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
SCALES = {
    "万亿": 1e12,
    "千亿": 1e11,
    "百亿": 1e10,
    "十亿": 1e9,
    "亿": 1e8,
    "千万": 1e7,
    "百万": 1e6,
    "十万": 1e5,
    "万": 1e4,
    "千": 1e3,
    "trillion": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "thousand": 1e3,
}
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_PERCENT = r"%|percent\b|per\s+cent\b"
FIGURE_WORDS = frozenset(SCALES) | {"percent", "per", "cent"}
QUANTITY_RE = re.compile(
    rf"百分之(?P<cn_percent>[{CN_NUMERAL}]+|\d+(?:\.\d+)?)"
    rf"|(?<![A-Za-z0-9.])(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\.\d)"
    rf"\s*(?:(?P<percent>{_PERCENT})|(?P<scale>{_SCALE})(?![A-Za-z]))?"
    rf"|(?P<cn>[{CN_NUMERAL}]+?)(?P<cn_scale>万亿|亿|万)",
    re.IGNORECASE,
)
CN_RUN_RE = re.compile(rf"[{CN_NUMERAL}]+")


@dataclass(frozen=True)
class Marker:
    """A citation marker at ``text[start:end]`` naming sources by 1-based number."""

    start: int
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class Quantity:
    """A figure normalised to one unit: 2,000亿 is ``Quantity(2e11, "amount")``."""

    value: float
    kind: Literal["year", "percent", "amount"]


@dataclass(frozen=True)
class VerifiedAnswer:
    """The answer with canonical ``[n]`` markers, one citation per distinct quote, and a verdict per sentence."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    dropped_markers: int

    @property
    def claims(self) -> int:
        return sum(1 for s in self.sentences if s.is_claim)

    @property
    def verified(self) -> int:
        return sum(1 for s in self.sentences if s.is_claim and s.verified)

    @property
    def unverified(self) -> int:
        return self.claims - self.verified

    @property
    def verified_share(self) -> float:
        """Share of claim sentences that the sources support; 0 for an answer without claims."""
        return self.verified / self.claims if self.claims else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [s.to_dict() for s in self.sentences],
            "claims": self.claims,
            "verified": self.verified,
            "unverified": self.unverified,
            "dropped_markers": self.dropped_markers,
            "verified_share": round(self.verified_share, 4),
        }


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
    ("1.") and abbreviations ("e.g.", "U.S.") do not end a sentence.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in SENTENCE_END_RE.finditer(text):
        if LIST_NUMBER_RE.fullmatch(text, text.rfind("\n", 0, match.start()) + 1, match.start() + 1):
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


def chinese_numeral(text: str) -> float:
    """Value of a Chinese numeral: 三十 → 30, 两千 → 2000, 一亿五千万 → 150000000, 二〇二三 → 2023."""
    for big, scale in (("亿", 1e8), ("万", 1e4)):
        if big in text:
            left, _, right = text.partition(big)
            return chinese_numeral(left or "一") * scale + (chinese_numeral(right) if right else 0)
    if all(c in CN_DIGITS for c in text):
        return float("".join(str(CN_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in CN_UNITS:
            total += (1 if digit is None else digit) * CN_UNITS[c]
            digit = None
        else:
            digit = CN_DIGITS[c]
    return float(total + (digit or 0))


def quantities(text: str, *, loose: bool = False) -> list[Quantity]:
    """Figures in ``text`` with units applied: 2,000亿 and 200 billion are both 2e11; 30% and 百分之三十 are 30 percent.

    A plain four-digit number from 1900 to 2100 is a year and only equals the same year.
    ``loose`` also reads bare Chinese numerals (三层, 十倍): used on source text, where an
    extra reading can only confirm a figure, never flag one.
    """
    text = text.translate(FULL_WIDTH)
    found: list[Quantity] = []
    for match in QUANTITY_RE.finditer(text):
        if match.group("cn_percent"):
            raw = match.group("cn_percent")
            value = float(raw) if raw[0].isdigit() else chinese_numeral(raw)
            found.append(Quantity(value, "percent"))
        elif match.group("cn"):
            found.append(Quantity(chinese_numeral(match.group("cn") + match.group("cn_scale")), "amount"))
        else:
            raw = match.group("num")
            value = float(raw.replace(",", ""))
            if match.group("percent"):
                found.append(Quantity(value, "percent"))
            elif match.group("scale"):
                found.append(Quantity(value * SCALES[match.group("scale").lower()], "amount"))
            else:
                is_year = raw.isdigit() and len(raw) == 4 and 1900 <= value <= 2100
                found.append(Quantity(value, "year" if is_year else "amount"))
    if loose:
        found.extend(Quantity(chinese_numeral(run), "amount") for run in CN_RUN_RE.findall(text))
    return found


def same_quantity(a: Quantity, b: Quantity) -> bool:
    return a.kind == b.kind and math.isclose(a.value, b.value, rel_tol=1e-6)


def unmatched_quantities(claim: str, source_text: str) -> list[Quantity]:
    """Figures of the claim that the source does not state in any unit."""
    stated = quantities(source_text, loose=True)
    return [q for q in quantities(claim) if not any(same_quantity(q, s) for s in stated)]


def claim_terms(claim: str) -> list[str]:
    """Distinct content words of a claim; figures, with their scale words, are compared as quantities instead."""
    return list(
        dict.fromkeys(
            t for t in tokenize(claim) if not t.replace(".", "").rstrip("%").isdigit() and t not in FIGURE_WORDS
        )
    )


def term_forms(term: str) -> tuple[str, ...]:
    """How a claim word can appear in a source: as itself, or an English word as a Chinese dictionary translation."""
    return (term, *english_to_chinese_terms(term)) if LATIN_RE.match(term) else (term,)


def mentions(forms: Sequence[str], text: str, lowered: str) -> bool:
    """Latin forms match whole words of the lower-cased text; Chinese forms match anywhere."""
    return any(
        re.search(rf"(?<![a-z]){re.escape(form)}(?![a-z])", lowered) if LATIN_RE.match(form) else form in text
        for form in forms
    )


def lexical_overlaps(claim: str, texts: Sequence[str]) -> list[float]:
    """IDF-weighted share of the claim's words and figures that each text states.

    IDF is taken over ``texts`` themselves, so words every retrieved source shares
    (生成式人工智能) count for little and a claim's distinctive words and figures decide.
    """
    lowered = [t.lower() for t in texts]
    stated = [quantities(t, loose=True) for t in texts]
    forms = [term_forms(term) for term in claim_terms(claim)]
    found = [[mentions(f, t, low) for t, low in zip(texts, lowered)] for f in forms]
    found += [[any(same_quantity(q, s) for s in figures) for figures in stated] for q in quantities(claim)]
    weights = [math.log(1 + (len(texts) - sum(row) + 0.5) / (sum(row) + 0.5)) for row in found]
    total = sum(weights)
    if not total:
        return [0.0] * len(texts)
    return [sum(w for w, row in zip(weights, found) if row[i]) / total for i in range(len(texts))]


def support_scores(claim: str, texts: Sequence[str], similarity: Similarity) -> list[float]:
    """How well each text supports the claim, on one scale for Chinese and English claims.

    Raw similarity depends on the language pair (E5 puts two unrelated Chinese sentences
    closer than an English claim and its Chinese source), so it counts as its margin
    over the median text: the claim must be closer to its evidence than to the typical
    retrieved sentence. Meaningful for several texts (k chunks of several sentences).
    """
    if not texts:
        return []
    similarities = np.asarray(similarity(claim, texts), dtype=float)
    margins = similarities - float(np.median(similarities))
    return [float(m) + LEXICAL_WEIGHT * o for m, o in zip(margins, lexical_overlaps(claim, texts))]


def embedding_similarity(embeddings: VectorEmbeddings, known: Mapping[str, np.ndarray] | None = None) -> Similarity:
    """Cosine similarity from normalised embeddings (claim as query, sources as passages).

    Source vectors are cached by text, seeded with the index's stored sentence vectors
    (``known``): the same retrieved sentences recur in every sentence of an answer and
    across answers, and the cache is bounded by the corpus.
    """
    cache: dict[str, np.ndarray] = dict(known or {})

    def similarity(claim: str, texts: Sequence[str]) -> list[float]:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, embeddings.passages(missing)))
        return (np.stack([cache[t] for t in texts]) @ embeddings.query(claim)).tolist()

    return similarity


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence of the source numbered ``number`` in the prompt."""

    number: int  # 1-based source number
    chunk: Chunk
    sentence: Sentence


def candidates(sources: Sequence[Chunk], sentences: Mapping[str, Sequence[Sentence]]) -> list[Candidate]:
    """Quotable sentences of every source; a source without sentences is quoted whole."""
    found = []
    for number, chunk in enumerate(sources, start=1):
        own = sentences.get(chunk.id) or [Sentence(chunk.id, chunk.text, chunk.start, chunk.end, chunk.page)]
        found.extend(Candidate(number, chunk, s) for s in own)
    return found


def best_by_source(
    claim: str, pool: Sequence[Candidate], similarity: Similarity, numbers: Collection[int]
) -> dict[int, tuple[float, Candidate]]:
    """The best-supporting sentence of each of the sources ``numbers``, scored against the whole pool."""
    texts = list(dict.fromkeys(c.sentence.text for c in pool))  # overlapping chunks repeat sentences
    score = dict(zip(texts, support_scores(claim, texts, similarity)))
    best: dict[int, tuple[float, Candidate]] = {}
    for candidate in pool:
        value = score[candidate.sentence.text]
        if candidate.number in numbers and (candidate.number not in best or value > best[candidate.number][0]):
            best[candidate.number] = (value, candidate)
    return best


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


class _Numbering:
    """Dense citation numbers in order of first use; one citation per distinct quoted span."""

    def __init__(self) -> None:
        self.by_span: dict[tuple[str, int, int], int] = {}
        self.entries: list[tuple[Candidate, bool]] = []

    def number(self, candidate: Candidate, verified: bool) -> int:
        key = (candidate.chunk.doc_id, candidate.sentence.start, candidate.sentence.end)
        if key not in self.by_span:
            self.by_span[key] = len(self.entries) + 1
            self.entries.append((candidate, verified))
        n = self.by_span[key]
        if not verified:
            self.entries[n - 1] = (self.entries[n - 1][0], False)
        return n

    def citations(self) -> tuple[Citation, ...]:
        return tuple(
            Citation(
                n=n,
                source=c.chunk.doc_id,
                section=c.chunk.section_path,
                page=c.sentence.page,
                chunk_id=c.chunk.id,
                quote=c.sentence.text,
                start=c.sentence.start,
                end=c.sentence.end,
                verified=verified,
            )
            for n, (c, verified) in enumerate(self.entries, start=1)
        )


def verify(
    answer_text: str,
    sources: Sequence[Chunk],
    sentences: Mapping[str, Sequence[Sentence]],
    similarity: Similarity,
    *,
    min_support: float,
) -> VerifiedAnswer:
    """Align every sentence of ``answer_text`` to a verbatim source sentence and check its figures.

    ``sources`` are numbered from 1 in the order the prompt listed them; ``sentences`` maps
    a chunk id to its quotable sentences. A sentence is verified when its best support
    reaches ``min_support`` and each of its figures occurs in the supporting chunk text.
    With the bundled E5, 0.07 separated supported from invented sentences on report
    excerpts in both languages; recalibrate on real model output.
    """
    verifier = _Verifier(candidates(sources, sentences), len(sources), similarity, min_support)
    checks: list[SentenceCheck] = []
    pieces: list[str] = []
    cursor = 0
    for start, end in split_answer_sentences(answer_text):
        check = verifier.check(answer_text[start:end])
        pieces.append(answer_text[cursor:start] + check.text)
        checks.append(check)
        cursor = end
    pieces.append(answer_text[cursor:])
    return VerifiedAnswer("".join(pieces), verifier.numbering.citations(), tuple(checks), verifier.dropped)


class _Verifier:
    """State shared by the sentences of one answer: the candidate pool, citation numbering, dropped markers."""

    def __init__(self, pool: Sequence[Candidate], sources: int, similarity: Similarity, min_support: float) -> None:
        self.pool = pool
        self.sources = sources
        self.similarity = similarity
        self.min_support = min_support
        self.numbering = _Numbering()
        self.dropped = 0

    def check(self, raw: str) -> SentenceCheck:
        """Verdict on one answer sentence, whose text comes back with canonical markers."""
        markers = parse_markers(raw)
        numbers = [n for m in markers for n in m.numbers]
        cited = list(dict.fromkeys(n for n in numbers if 1 <= n <= self.sources))
        self.dropped += len(numbers) - sum(1 for n in numbers if 1 <= n <= self.sources)
        claim = LIST_PREFIX_RE.sub("", strip_markers(raw)).strip()
        if not CONTENT_RE.search(claim) or (not cited and claim.endswith((":", "："))):
            return SentenceCheck(strip_markers(raw), (), True, 0.0, Reason.FRAMING)
        segments = {
            words: kept_numbers
            for words, numbers in marker_segments(raw, markers).items()
            if (kept_numbers := [n for n in numbers if n in cited])
        }
        best = self.best_support(claim, segments, cited)
        ranked = sorted(best.values(), key=lambda item: item[0], reverse=True)
        # the least-supported part decides: each stretch of words before its own marker needs a supporting source
        support = min(
            [ranked[0][0] if ranked else 0.0]
            + [max(best[n][0] for n in numbers if n in best) for numbers in segments.values()]
        )
        # a cited sentence keeps every cited source that supports it; an uncited one gets the single best source
        kept = [item for item in ranked if item[0] >= self.min_support] if cited else []
        kept = kept or ranked[:1]
        if support < self.min_support:
            reason = Reason.WEAK_SUPPORT if cited else Reason.UNSUPPORTED
        elif unmatched_quantities(claim, "\n".join(candidate.chunk.text for _, candidate in kept)):
            reason = Reason.NUMBER_MISMATCH
        else:
            reason = Reason.SUPPORTED if cited else Reason.AUTO_ATTACHED
        verified = reason in (Reason.SUPPORTED, Reason.AUTO_ATTACHED)
        if not cited and not verified:
            return SentenceCheck(strip_markers(raw), (), False, support, reason)
        text, used = self.rewrite(raw, markers, {candidate.number: candidate for _, candidate in kept}, verified)
        return SentenceCheck(text, tuple(used), verified, support, reason)

    def best_support(
        self, claim: str, segments: Mapping[str, Sequence[int]], cited: Sequence[int]
    ) -> dict[int, tuple[float, Candidate]]:
        """Best sentence per source for the whole claim, and per cited source also for the words its marker follows.

        "A grew 20% [1], and B fell [2]." cites each source for half the sentence;
        neither half alone would support the whole.
        """
        claims: dict[str, Collection[int]] = {claim: cited or {c.number for c in self.pool}}
        for words, numbers in segments.items():
            claims.setdefault(words, numbers)
        best: dict[int, tuple[float, Candidate]] = {}
        for text, numbers in claims.items():
            for n, item in best_by_source(text, self.pool, self.similarity, numbers).items():
                if n not in best or item[0] > best[n][0]:
                    best[n] = item
        return best

    def rewrite(
        self, raw: str, markers: Sequence[Marker], kept: Mapping[int, Candidate], verified: bool
    ) -> tuple[str, list[int]]:
        """Each marker becomes canonical ``[n]`` for its kept sources; kept sources no marker named are appended."""
        used: list[int] = []

        def canonical(numbers: Iterable[int]) -> str:
            fresh = []
            for source in numbers:
                if source in kept:
                    n = self.numbering.number(kept[source], verified)
                    if n not in used:
                        used.append(n)
                        fresh.append(f"[{n}]")
            return "".join(fresh)

        text, cursor = "", 0
        for marker in markers:
            text = join_marker((text + raw[cursor : marker.start]).rstrip(" \t"), canonical(marker.numbers))
            cursor = marker.end
        text += raw[cursor:]
        named = {n for m in markers for n in m.numbers}
        at = end_insertion_point(text)
        return join_marker(text[:at], canonical(n for n in kept if n not in named)) + text[at:], used
