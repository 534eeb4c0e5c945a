"""The local engine's queue: strict arrival order, positions, expected waits, and the busy fallback."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.answering.generate.turns import QUEUE_POLL_S, EngineQueue, in_turn, questions_ahead
from assistant.service import Assistant
from assistant.settings import LlmSettings, Settings
from assistant.types import Answer, AnswerMode, EventKind, StreamEvent


def test_tickets_are_served_in_arrival_order_and_know_how_many_are_ahead():
    queue = EngineQueue(initial_service_s=5)
    first, second, third = queue.join(), queue.join(), queue.join()
    assert [queue.ahead(t) for t in (first, second, third)] == [0, 1, 2]
    assert queue.wait_turn(first, 0) and not queue.wait_turn(second, 0.01)
    assert queue.expected_wait_s(queue.ahead(third)) == 10
    queue.leave(second)  # gave up while waiting: it no longer counts, and is skipped when its turn comes
    assert queue.ahead(third) == 1
    queue.leave(first, served_s=1.0)
    assert queue.wait_turn(third, 0) and queue.waiting() == 1
    assert queue.expected_wait_s(2) == pytest.approx(2 * 3.0)  # median of the guess (5) and the measured 1 s


def test_a_waiting_ticket_wakes_when_the_one_before_leaves():
    queue = EngineQueue()
    first, second = queue.join(), queue.join()
    woke = threading.Event()
    waiter = threading.Thread(target=lambda: queue.wait_turn(second, 10) and woke.set())
    waiter.start()
    queue.leave(first, served_s=0.5)
    waiter.join(5)
    assert woke.is_set()


def test_positions_read_naturally_in_both_languages():
    assert questions_ahead(2, "en") == "2 questions ahead" and questions_ahead(1, "en") == "1 question ahead"
    assert questions_ahead(2, "zh") == "前面还有 2 个问题"


def test_a_wait_longer_than_max_wait_gives_the_extractive_answer_at_once_with_a_notice(report_assistant, small_gguf):
    settings = Settings(
        paths=report_assistant.settings.paths, llm=LlmSettings(provider="auto", model_path=small_gguf, max_wait_s=1)
    )
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    busy = assistant.engine_queue.join()  # another question holds the engine; ~8 s expected
    events = list(assistant.ask_stream("微软对OpenAI的投资金额是多少？"))
    assistant.engine_queue.leave(busy)
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.DRAFT and kinds[-1] is EventKind.ANSWER and EventKind.TOKEN not in kinds
    answer = events[-1].answer
    assert answer.mode is AnswerMode.EXTRACTIVE and "busy" in answer.notice or "正忙" in answer.notice
    assert "100亿美元" in answer.text and answer.citations
    assert assistant.engine_queue.waiting() == 0  # the abandoned turn does not block later questions


@pytest.mark.slow
def test_the_real_local_model_drafts_first_and_a_second_question_waits_its_turn(report_assistant, small_gguf):
    settings = Settings(
        paths=report_assistant.settings.paths,
        llm=LlmSettings(model_path=small_gguf, threads=2, max_tokens=48, max_wait_s=600),  # provider: the default, auto
    )
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    assert settings.llm.resolved() == "local"
    generating = threading.Event()
    first: list = []

    def ask_first() -> None:
        for event in assistant.ask_stream("微软对OpenAI的投资金额是多少？"):
            first.append((event, time.monotonic()))
            if event.kind is EventKind.TOKEN:
                generating.set()

    thread = threading.Thread(target=ask_first)
    thread.start()
    assert generating.wait(600)
    second = [(event, time.monotonic()) for event in assistant.ask_stream("How much did Microsoft invest in OpenAI?")]
    thread.join(600)
    for events in (first, second):
        kinds = [e.kind for e, _ in events]
        assert kinds[0] is EventKind.DRAFT and events[0][0].answer.mode is AnswerMode.EXTRACTIVE
        assert kinds[-1] is EventKind.ANSWER and events[-1][0].answer.mode is AnswerMode.GENERATED
    queued = [(e, at) for e, at in second if e.kind is EventKind.QUEUE]
    assert queued and queued[0][0].text == "1 question ahead"
    second_token = next(at for e, at in second if e.kind is EventKind.TOKEN)
    assert second_token >= first[-1][1]  # its model text starts only after the first answer is complete
    assert all(events[-1][0].answer.citations for events in (first, second))  # checked against the windows


def test_an_answer_running_longer_than_the_history_says_raises_the_expected_wait():
    now = [100.0]
    queue = EngineQueue(initial_service_s=5, clock=lambda: now[0])
    first, second = queue.join(), queue.join()
    queue.begin()
    now[0] += 2
    assert queue.expected_wait_s(queue.ahead(second)) == 5  # still within the median
    now[0] += 10
    assert queue.expected_wait_s(queue.ahead(second)) == 12  # the answer being written has taken 12 s already
    queue.leave(first, served_s=12.0)
    assert queue.expected_wait_s(1) == pytest.approx(8.5)  # nothing generating: the median of 5 and 12


def test_a_question_already_waiting_leaves_with_the_extractive_answer_once_its_wait_would_pass_max_wait():
    queue = EngineQueue(initial_service_s=0.2)  # the history promises a short wait...
    slow = queue.join()
    queue.begin()  # ...but the answer ahead never finishes
    extractive = Answer("q", "en", "quoted [1]", True, AnswerMode.EXTRACTIVE)
    never = iter([StreamEvent(EventKind.TOKEN, "must not run")])
    started = time.monotonic()
    events = list(in_turn(queue, never, extractive, max_wait_s=1.0))
    waited = time.monotonic() - started
    assert [e.kind for e in events] == [EventKind.QUEUE, EventKind.NOTICE, EventKind.ANSWER]
    assert events[0].text == "1 question ahead" and "busy" in events[-1].answer.notice
    assert events[-1].answer.mode is AnswerMode.EXTRACTIVE and events[-1].answer.text == "quoted [1]"
    assert 0.4 <= waited < 1.0 + 3 * QUEUE_POLL_S  # admitted at first (0.2 s expected), gone once waited + elapsed > 1 s
    assert queue.ahead(queue.join()) == 1  # it left the queue: a new arrival has only the slow one ahead
    queue.leave(slow)
