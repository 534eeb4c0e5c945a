"""The draft's quotes a generated answer left out, shown verbatim under it.

A 1.5B model answering from evidence windows often names one item of a list the report gives in full
("企业买家经常采用的标准" → only 安全和隐私), reads one column of a table row, or turns 第二和第三代
into 第2代. The extractive draft that the reader saw first quoted those sentences; replacing it with the
model's answer must not lose them. So the quotes the answer does not restate stay under it, as numbered
citations like every other: the reader gets the fluent answer and all of the evidence the gate found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from assistant.answering.compose.extractive import document_names, novelty, quote_lines
from assistant.answering.verify.quantities import Quantity, quantities, same_quantity
from assistant.language import detect_language
from assistant.types import Answer, Citation

LEFT_OUT_NOVELTY = 0.5  # a quote with more than half of its character pairs missing from the answer was not restated
LEAD = {"zh": "原文还写道：", "en": "The sources also say:"}
NAMED_LEAD = {"zh": "{sources}还写道：", "en": "Also from {sources}:"}  # when the answer drew on several documents


def left_out(answer: str, language: str, quotes: Sequence[Citation], cited: Sequence[Citation] = ()) -> list[Citation]:
    """The quotes in ``language`` that ``answer`` does not restate and none of its own citations already quotes.

    Quotes in another language are never "left out": character pairs cannot tell whether a translation restates them.
    """
    spans = {(c.source, c.start, c.end) for c in cited}
    stated = quantities(answer, loose=True)
    return [
        quote
        for quote in quotes
        if (quote.source, quote.start, quote.end) not in spans
        and detect_language(quote.quote) == language
        and not restates(answer, stated, quote.quote)
    ]


def restates(answer: str, stated: Sequence[Quantity], quote: str) -> bool:
    """Most of the quote's character pairs, and each of its figures: "第2代" does not restate "第二和第三代"."""
    return novelty(quote, answer) <= LEFT_OUT_NOVELTY and all(
        any(same_quantity(figure, s) for s in stated) for figure in quantities(quote, loose=True)
    )


def with_left_out(answer: Answer, draft: Answer) -> Answer:
    """``answer`` followed by the ``draft``'s quotes it left out, numbered after its own citations."""
    missing = left_out(answer.text, answer.language, draft.citations, answer.citations)
    if not missing:
        return answer
    first = max((c.n for c in answer.citations), default=0) + 1
    added = tuple(replace(quote, n=n) for n, quote in enumerate(missing, start=first))  # draft quotes are verbatim
    several = len({hit.chunk.doc_id for hit in answer.retrieved}) > 1
    lead = NAMED_LEAD[answer.language].format(sources=document_names(answer.language, added)) if several else LEAD[answer.language]
    return replace(answer, text=f"{answer.text}\n\n{lead}\n{quote_lines(added)}", citations=answer.citations + added)
