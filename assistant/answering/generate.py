"""Generated answers: prompt a chat model with evidence windows, stream its text, then verify every citation.

The extractive answer is computed first (it costs milliseconds) because it carries
the calibrated evidence score: below the threshold the question is refused
without calling the model, and whenever the model fails, times out, or produces
nothing checkable, the user still gets the extractive answer with a visible notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from langchain_core.language_models import BaseChatModel

from assistant.answering.extractive import REFUSAL
from assistant.answering.prompts import (
    build_condense_messages,
    build_messages,
    is_model_refusal,
)
from assistant.answering.verify import Similarity, verify
from assistant.answering.windows import Window
from assistant.errors import LlmUnavailable
from assistant.types import Answer, AnswerMode, EventKind, StreamEvent, Turn

NOTICE = {
    "zh": "语言模型不可用（{reason}），以下为报告原文摘录。",
    "en": "The language model is unavailable ({reason}); showing quotes from the report instead.",
}
UNCHECKABLE = {
    "zh": "语言模型的回答没有一句能与来源核对，以下为报告原文摘录。",
    "en": "No sentence of the model's answer could be checked against the sources; showing quotes from the report instead.",
}
CONDENSE_MAX_CHARS = 300


def condense(model: BaseChatModel, question: str, history: Sequence[Turn]) -> str | None:
    """The model's standalone rewrite of a follow-up, or None when it fails or rambles."""
    from assistant.answering.llm import (
        stream_text,  # the OpenAI/Ollama clients load only when a model is configured
    )

    try:
        rewritten = "".join(stream_text(model, build_condense_messages(question, history))).strip()
    except LlmUnavailable:
        return None
    return rewritten if 0 < len(rewritten) <= CONDENSE_MAX_CHARS else None


def fallback(extractive: Answer, notice: str) -> Iterator[StreamEvent]:
    yield StreamEvent(EventKind.NOTICE, notice)
    yield StreamEvent(EventKind.ANSWER, answer=replace(extractive, notice=notice))


def generate(
    model: BaseChatModel,
    extractive: Answer,
    windows: Sequence[Window],
    similarity: Similarity,
    *,
    min_support: float,
    model_name: str,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[StreamEvent]:
    """Stream the model's answer, then the verified answer (or the extractive one with a notice).

    The prompt carries the standalone question (``extractive.query``) instead of the
    conversation: follow-ups were already resolved, and every token costs prompt time
    on a CPU model. Its sources are the evidence windows, and citations are verified
    against exactly their sentences.
    """
    from assistant.answering.llm import stream_text

    language = extractive.language
    sources = [w.source for w in windows]
    messages = build_messages(extractive.query, language, sources)
    started = clock()
    timings = dict(extractive.timings)
    parts: list[str] = []
    try:
        for delta in stream_text(model, messages):
            if not parts:
                timings["first_token"] = (clock() - started) * 1000 + timings.get("total", 0.0)
            parts.append(delta)
            yield StreamEvent(EventKind.TOKEN, delta)
    except LlmUnavailable as exc:
        yield from fallback(extractive, NOTICE[language].format(reason=exc.reason))
        return
    text = "".join(parts).strip()
    timings["generation"] = (clock() - started) * 1000
    if is_model_refusal(text, language):
        yield StreamEvent(EventKind.ANSWER, answer=replace(extractive, text=REFUSAL[language], answerable=False, citations=(), mode=AnswerMode.GENERATED, model=model_name, timings=timings))
        return
    checked = verify(text, sources, [w.sentences for w in windows], similarity, min_support=min_support)
    if checked.verified == 0:  # nothing the sources back up (a bare "[1][2]", an echoed injection): do not show it
        yield from fallback(extractive, UNCHECKABLE[language])
        return
    answer = replace(
        extractive, text=checked.text, citations=checked.citations, checks=checked.sentences, mode=AnswerMode.GENERATED, model=model_name, timings=timings
    )
    yield StreamEvent(EventKind.ANSWER, answer=answer)
