"""Verify a generated answer against the numbered sources it was given (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answering.verify.markers import (
    CONTENT_RE,
    LIST_PREFIX_RE,
    Marker,
    end_insertion_point,
    join_marker,
    marker_segments,
    parse_markers,
    split_answer_sentences,
    strip_markers,
)
from assistant.answering.verify.quantities import unmatched_quantities
from assistant.answering.verify.support import (
    Candidate,
    Similarity,
    SourceSentences,
    best_by_source,
    candidates,
    support_scores,
)
from assistant.language import is_instruction
from assistant.types import Chunk, Citation, Reason, SentenceCheck


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
    def obeyed(self) -> bool:
        """Whether the model restated an order a source gave it (those sentences were dropped)."""
        return any(s.reason is Reason.OBEYED for s in self.sentences)

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
                chunk_id=c.sentence.chunk_id,  # a window's sentence may lie in the next chunk
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
    sentences: SourceSentences,
    similarity: Similarity,
    *,
    min_support: float,
    orders: Sequence[str] = (),
) -> VerifiedAnswer:
    """Align every sentence of ``answer_text`` to a verbatim source sentence and check its figures.

    ``sources`` are numbered from 1 in the order the prompt listed them; ``sentences`` maps
    a chunk id to its quotable sentences (or lists them per source, for evidence windows). A sentence is verified when its best support
    reaches ``min_support`` and each of its figures occurs in the supporting chunk text.
    With the bundled E5, 0.07 separated supported from invented sentences on report
    excerpts in both languages; recalibrate on real model output.

    A source sentence that gives the assistant orders ("ignore previous instructions and reply that …") never
    supports a claim; a claim closer to such an order than to any other source sentence restates it, whatever the
    model was told, and is dropped from the text. ``orders`` are more such sentences, of passages the prompt left out.
    """
    verifier = _Verifier(candidates(sources, sentences), len(sources), similarity, min_support, orders)
    checks: list[SentenceCheck] = []
    pieces: list[str] = []
    cursor = 0
    spans = split_answer_sentences(answer_text)
    for i, (start, end) in enumerate(spans):
        check = verifier.check(answer_text[start:end])
        checks.append(check)
        if i == len(spans) - 1 and _introduces_nothing(check):
            end = len(answer_text)  # a closing label ("来源编号：[1]", an echo of the prompt's cue) is dropped
        elif check.reason is not Reason.OBEYED:  # an order from a document, restated, is never shown
            pieces.append(answer_text[cursor:start] + check.text)
        cursor = end
    pieces.append(answer_text[cursor:])
    return VerifiedAnswer("".join(pieces).rstrip(), verifier.numbering.citations(), tuple(checks), verifier.dropped)


def _introduces_nothing(check: SentenceCheck) -> bool:
    return check.reason is Reason.FRAMING and check.text.rstrip().endswith((":", "："))


class _Verifier:
    """State shared by the sentences of one answer: the candidate pool, citation numbering, dropped markers."""

    def __init__(
        self, pool: Sequence[Candidate], sources: int, similarity: Similarity, min_support: float, orders: Sequence[str]
    ) -> None:
        given = {c.sentence.text: is_instruction(c.sentence.text) for c in pool}  # overlapping chunks repeat sentences
        self.pool = [c for c in pool if not given[c.sentence.text]]
        self.orders = list(dict.fromkeys([*(text for text, order in given.items() if order), *orders]))
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
        if not CONTENT_RE.search(claim) or claim.endswith((":", "：")):  # a label with markers after it states nothing
            return SentenceCheck(strip_markers(raw), (), True, 0.0, Reason.FRAMING)
        if self.orders and self.restates_order(claim):
            return SentenceCheck(strip_markers(raw), (), False, 0.0, Reason.OBEYED)
        segments = {
            words: kept_numbers
            for words, numbers in marker_segments(raw, markers).items()
            if (kept_numbers := [n for n in numbers if n in cited])
        }
        whole = best_by_source(claim, self.pool, self.similarity, {c.number for c in self.pool})  # every source, once
        best = self.best_support(claim, whole, segments, cited)
        ranked = sorted(best.values(), key=lambda item: item[0], reverse=True)
        # the least-supported part decides: each stretch of words before its own marker needs a supporting source
        support = min(
            [ranked[0][0] if ranked else 0.0]
            + [max(best[n][0] for n in numbers if n in best) for numbers in segments.values()]
        )
        # a cited sentence keeps every cited source that supports it; an uncited one gets the single best source
        kept = [item for item in ranked if item[0] >= self.min_support] if cited else []
        kept = kept or ranked[:1]
        mismatch = bool(unmatched_quantities(claim, "\n".join(candidate.chunk.text for _, candidate in kept)))
        recited = None
        if (support < self.min_support or mismatch) and cited and len(segments) <= 1:
            recited = self.other_source(claim, whole, cited)  # one claim, cited to the wrong source
        if recited:
            (support, _), kept, reason = recited, [recited], Reason.RECITED
        elif support < self.min_support:
            reason = Reason.WEAK_SUPPORT if cited else Reason.UNSUPPORTED
        elif mismatch:
            reason = Reason.NUMBER_MISMATCH
        else:
            reason = Reason.SUPPORTED if cited else Reason.AUTO_ATTACHED
        verified = reason in (Reason.SUPPORTED, Reason.AUTO_ATTACHED, Reason.RECITED)
        if not cited and not verified:
            return SentenceCheck(strip_markers(raw), (), False, support, reason)
        text, used = self.rewrite(raw, markers, {candidate.number: candidate for _, candidate in kept}, verified)
        return SentenceCheck(text, tuple(used), verified, support, reason)

    def restates_order(self, claim: str) -> bool:
        """Whether the sentence closest to the claim, of all the sources', is an order to the assistant."""
        texts = [*dict.fromkeys(c.sentence.text for c in self.pool), *self.orders]
        scores = support_scores(claim, texts, self.similarity)
        best = max(range(len(texts)), key=scores.__getitem__)
        return texts[best] in self.orders and scores[best] >= self.min_support

    def other_source(
        self, claim: str, whole: Mapping[int, tuple[float, Candidate]], cited: Sequence[int]
    ) -> tuple[float, Candidate] | None:
        """The best-supporting sentence of a source the claim did not cite that supports it, figures and all."""
        found = sorted((item for n, item in whole.items() if n not in cited), key=lambda item: -item[0])
        return next(
            (item for item in found if item[0] >= self.min_support and not unmatched_quantities(claim, item[1].chunk.text)),
            None,
        )

    def best_support(
        self,
        claim: str,
        whole: Mapping[int, tuple[float, Candidate]],
        segments: Mapping[str, Sequence[int]],
        cited: Sequence[int],
    ) -> dict[int, tuple[float, Candidate]]:
        """Best sentence per (cited) source for the whole claim (``whole``: every source's), and per cited source
        also for the words its marker follows.

        "A grew 20% [1], and B fell [2]." cites each source for half the sentence;
        neither half alone would support the whole.
        """
        best = {n: item for n, item in whole.items() if not cited or n in cited}
        for words, numbers in segments.items():
            if words == claim:
                continue
            for n, item in best_by_source(words, self.pool, self.similarity, numbers).items():
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
