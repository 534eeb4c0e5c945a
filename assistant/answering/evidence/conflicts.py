"""Sources that disagree on the asked-for figure: found by code and shown with each source, never resolved silently.

One document says Microsoft invested 100亿美元 in OpenAI, another 130亿美元: a quoting answer would show
whichever ranked first and a model would pick one. For a question that asks for a figure, each document's
best-supported sentence that names everything the question names is read for the figure written nearest to
those names; two documents stating different values is a disagreement. Only across documents: within one
document, two figures near the same names are usually two facts (last year's and this year's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering.evidence.specifics import anchors, mentioned
from assistant.answering.verify.quantities import (
    FULL_WIDTH,
    QUANTITY_RE,
    Quantity,
    asks_for_quantity,
    asks_for_year,
    currency_after,
    figure_text,
    quantities,
    same_quantity,
)
from assistant.retrieval.crosslingual import english_to_chinese_terms
from assistant.types import Hit, Sentence

CONFLICT_MARGIN = 0.2  # within this of the best sentence: the same fact (a sentence in the other language scores ~0.1 lower)
CONFLICT = {
    "zh": "来源说法不一：{claims}。请核对原文。",
    "en": "The sources disagree: {claims}. Check the quotes.",
}
SAYS = {"zh": "《{doc}》称{figure}", "en": "{doc} says {figure}"}
SEPARATOR = {"zh": "；", "en": "; "}

Ranked = tuple[float, Sentence, Hit]


@dataclass(frozen=True)
class Stated:
    """A ranked sentence and the figure it states for the asked-for fact."""

    item: Ranked
    figure: Quantity
    currency: str


def stated_figure(text: str, names: Sequence[str], years: bool) -> tuple[Quantity, str] | None:
    """The figure written nearest to the names in ``text`` (all of which it must mention), with its currency."""
    lowered = text.lower()
    if not all(mentioned(name, lowered) for name in names):
        return None
    forms = [form for name in names for form in (name, *english_to_chinese_terms(name))]
    spots = [m.start() for form in forms for m in re.finditer(re.escape(form), lowered)]
    normal = text.translate(FULL_WIDTH)  # same length: offsets agree
    found = []
    for match in QUANTITY_RE.finditer(normal):
        for figure in quantities(match.group(0)):
            if (figure.kind == "year") == years and spots:
                distance = min(abs(match.start() - spot) for spot in spots)
                found.append((distance, figure, currency_after(normal, match)))
    return min(found, key=lambda f: f[0])[1:] if found else None


def disagreement(question: str, ranked: Sequence[Ranked]) -> list[Stated]:
    """Per document, the figure its best sentence states for what the question asks; empty unless they differ."""
    names = [a for a in anchors(question) if not a[0].isdigit()]
    if not names or not ranked or not asks_for_quantity(question):
        return []
    years = asks_for_year(question)
    floor = ranked[0][0] - CONFLICT_MARGIN
    found: dict[str, Stated] = {}
    for item in ranked:
        document = item[2].chunk.doc_id
        if item[0] < floor:
            break
        if document in found:
            continue
        stated = stated_figure(item[1].text, names, years)
        if stated:
            found[document] = Stated(item, *stated)
    values = list(found.values())
    differ = any(not same_quantity(a.figure, b.figure) for a in values for b in values)
    return values if differ else []


def conflict_notice(stated: Sequence[Stated], language: str) -> str:
    """The disagreement in the reader's language: each document with the figure it states."""
    claims = [
        SAYS[language].format(doc=s.item[2].chunk.doc_id, figure=figure_text(s.figure, s.currency, language)) for s in stated
    ]
    return CONFLICT[language].format(claims=SEPARATOR[language].join(claims))
