"""Generated answers: prompt a chat model with evidence windows, stream its text, then verify every citation.

The extractive answer is computed first (it costs milliseconds) because it carries
the calibrated evidence score: below the threshold the question is refused
without calling the model, and whenever the model fails, times out, or produces
nothing checkable, the user still gets the extractive answer with a visible notice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import replace

from langchain_core.language_models import BaseChatModel

from assistant.answering.compose.extractive import IGNORED_ORDERS, REFUSAL
from assistant.answering.generate.prompts import (
    Message,
    build_condense_messages,
    build_messages,
    is_model_refusal,
    NUDGE_REFUSED,
    NUDGE_UNCHECKABLE,
    second_look_messages,
)
from assistant.answering.generate.supplement import with_left_out
from assistant.answering.verify import Similarity, VerifiedAnswer, verify
from assistant.answering.evidence.windows import Window
from assistant.errors import LlmUnavailable
from assistant.types import Answer, AnswerMode, EventKind, StreamEvent, Turn

NOTICE = {
    "zh": "语言模型不可用（{reason}），以下为原文摘录。",
    "en": "The language model is unavailable ({reason}); showing quotes from the documents instead.",
}
UNCHECKABLE = {
    "zh": "语言模型的回答没有一句能与来源核对，以下为原文摘录。",
    "en": "No sentence of the model's answer could be checked against the sources; showing quotes from the documents instead.",
}
NOT_FOUND = {  # the evidence gate found the question answered; the model did not, twice: the reader sees the quotes
    "zh": "语言模型认为检索到的段落没有回答这个问题，以下为最相关的原文摘录。",
    "en": "The language model found no answer in the retrieved passages; showing the closest quotes from the documents instead.",
}
CONDENSE_MAX_CHARS = 300
MIN_SHOWN_SHARE = 0.5  # an answer mostly unsupported by its sources is not shown (it gets a second look first)
LOOP_REPEATS = 3
SENTENCE_END_RE = re.compile(r"[。！？.!?\n]")
SENTENCE_RE = re.compile(r"[^。！？.!?\n]{8,}[。！？.!?\n]")  # sentences long enough that a repeat is a loop


def condense(model: BaseChatModel, question: str, history: Sequence[Turn]) -> str | None:
    """The model's standalone rewrite of a follow-up, or None when it fails or rambles."""
    from assistant.answering.generate.llm import (
        stream_text,  # the OpenAI/Ollama clients load only when a model is configured
    )

    try:
        rewritten = "".join(stream_text(model, build_condense_messages(question, history))).strip()
    except LlmUnavailable:
        return None
    return rewritten if 0 < len(rewritten) <= CONDENSE_MAX_CHARS else None


def with_notice(answer: Answer, notice: str) -> Answer:
    """The answer with one more notice for the reader, after those it carries already (never twice)."""
    if not notice or notice in answer.notice:
        return answer
    return replace(answer, notice=f"{answer.notice} {notice}" if answer.notice else notice)


def fallback(extractive: Answer, notice: str) -> Iterator[StreamEvent]:
    yield StreamEvent(EventKind.NOTICE, notice)
    yield StreamEvent(EventKind.ANSWER, answer=with_notice(extractive, notice))


def generate(
    model: BaseChatModel,
    extractive: Answer,
    windows: Sequence[Window],
    similarity: Similarity,
    *,
    min_support: float,
    model_name: str,
    digest: bool = False,
    prompt: Sequence[Message] | None = None,
    keep_quotes: bool = False,
    orders: Sequence[str] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[StreamEvent]:
    """Stream the model's answer, then the verified answer (or the extractive one with a notice).

    The prompt carries the standalone question (``extractive.query``) instead of the
    conversation: follow-ups were already resolved, and every token costs prompt time
    on a CPU model. Its sources are the evidence windows, and citations are verified
    against exactly their sentences. A ``digest`` asks for a short summary of the sources; a ``prompt``
    replaces the question's (a translation: of the Chinese digest, or of the extractive quotes), verified
    the same way but without a second look, since it restates text that was checked already. With
    ``keep_quotes``, an answer to the question is followed by the draft's quotes it does not restate (``supplement``).
    ``orders`` are the retrieved sentences that give the assistant orders: a claim restating one is dropped.

    A small model refuses some questions whose evidence is in its sources (English questions
    over Chinese text most often), although the retrieval gate found strong evidence, or
    writes something no source sentence backs (a wrong count, a vague restatement). Either
    way it gets one second look, on the cached prompt (a few seconds): told that the sources
    bear on the question, or that its answer could not be matched to them, it answers again,
    after a ``DRAFT`` event that tells every face to discard the text streamed so far. The
    second answer is kept only when every claim in it verifies; otherwise the extractive answer is
    shown with a notice. (The gate, not the model, decides what is unanswerable: on the dev set the
    model's second refusals were all of answerable questions.)
    """
    language = extractive.language
    sources = [w.source for w in windows]
    messages = list(prompt) if prompt else build_messages(extractive.query, language, sources, digest=digest)
    started = clock()
    timings = {k: v for k, v in extractive.timings.items() if k != "first_token"}  # the draft's; set again when text shows

    def finished(answer: Answer) -> StreamEvent:
        timings["generation"] = (clock() - started) * 1000
        timings.setdefault("first_token", timings["generation"] + timings.get("total", 0.0))
        return StreamEvent(EventKind.ANSWER, answer=replace(answer, mode=AnswerMode.GENERATED, model=model_name, timings=timings))

    try:
        text = yield from _stream(model, messages, language, timings, started, clock)
        refusal = not prompt and is_model_refusal(text, language)
        checked = None if refusal else _verify(text, windows, similarity, min_support, orders)
        if checked is None or checked.verified_share < MIN_SHOWN_SHARE:
            yield StreamEvent(EventKind.DRAFT, answer=extractive)
            if not prompt:
                nudge = NUDGE_REFUSED if refusal else NUDGE_UNCHECKABLE
                retry = yield from _stream(model, second_look_messages(messages, text, nudge[language]), language, timings, started, clock)
                checked = None if is_model_refusal(retry, language) else _verify(retry, windows, similarity, min_support, orders)
            if checked is None or checked.claims == 0 or checked.unverified:
                # a refusal past the evidence gate, or little the sources back up (a bare "[1][2]", an echoed
                # injection, a loop): the quotes the gate found, with a notice saying why they are shown
                yield from fallback(extractive, (NOT_FOUND if refusal else UNCHECKABLE)[language])
                return
    except LlmUnavailable as exc:
        yield from fallback(extractive, NOTICE[language].format(reason=exc.reason))
        return
    answer = replace(extractive, text=checked.text, citations=checked.citations, checks=checked.sentences)
    if checked.obeyed:
        answer = with_notice(answer, IGNORED_ORDERS[language])
    yield finished(with_left_out(answer, extractive) if keep_quotes and not (prompt or digest) else answer)


def _verify(
    text: str, windows: Sequence[Window], similarity: Similarity, min_support: float, orders: Sequence[str]
) -> VerifiedAnswer:
    sources, sentences = [w.source for w in windows], [w.sentences for w in windows]
    return verify(text, sources, sentences, similarity, min_support=min_support, orders=orders)


def _stream(
    model: BaseChatModel,
    messages: Sequence[Message],
    language: str,
    timings: dict[str, float],
    started: float,
    clock: Callable[[], float],
) -> Generator[StreamEvent, None, str]:
    """Token events of one model reply, returning its whole text.

    Text that is still the start of the fixed refusal is held back, so that a refusal which
    gets a second look never flashes on screen; first-token time is when text is shown.
    """
    from assistant.answering.generate.llm import stream_text  # the OpenAI/Ollama clients load only when a model is configured

    refusal = REFUSAL[language]
    text, shown = "", 0
    with closing(stream_text(model, messages)) as deltas:  # closed early, it tells the engine to stop generating
        for delta in deltas:
            text += delta
            if SENTENCE_END_RE.search(delta) and (cut := repeated_from(text)) is not None:
                return text[:cut].strip()  # a small model caught in a loop: keep what it said before repeating
            if shown == 0 and refusal.startswith(text.strip()):
                continue
            timings.setdefault("first_token", (clock() - started) * 1000 + timings.get("total", 0.0))
            yield StreamEvent(EventKind.TOKEN, text[shown:])
            shown = len(text)
    return text.strip()


def repeated_from(text: str) -> int | None:
    """Where a reply begins to repeat itself: the start of a sentence's second occurrence, once it occurred
    ``LOOP_REPEATS`` times (a 1.5B model can repeat one sentence until ``llm.max_tokens``, 40 s on 2 cores)."""
    seen: dict[str, list[int]] = {}
    for match in SENTENCE_RE.finditer(text):
        starts = seen.setdefault(match.group(0).strip(), [])
        starts.append(match.start())
        if len(starts) >= LOOP_REPEATS:
            return starts[1]
    return None
