"""One local engine, many users: questions take turns in arrival order, and each knows how many are ahead.

A CPU model answers one question at a time (two in parallel would each run at half speed
and both users would wait for the slower one). The expected wait is the number of
questions ahead times the running median of recent generation times, or the time the
answer now being written has already taken when that is longer (a machine that just got
busy is slower than its history says), so the service can give the extractive answer at
once instead of a wait longer than ``llm.max_wait_s``. A waiting question checks again at
every poll, counting the time it has already waited, and leaves with the extractive
answer as soon as its wait would pass the limit: no one waits much longer than it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from assistant.answering.generate.answer import fallback
from assistant.types import Answer, EventKind, StreamEvent

BUSY = {
    "zh": "语言模型正忙（{ahead}），以下为原文摘录。",
    "en": "The language model is busy ({ahead}); showing quotes from the documents instead.",
}
INITIAL_SERVICE_S = 8.0  # assumed generation time until the first ones are measured
RECENT = 20
QUEUE_POLL_S = 0.5  # how often a waiting question reports its position


class EngineQueue:
    """Tickets served strictly in order; ``ahead`` counts the question being answered plus those waiting before."""

    def __init__(self, initial_service_s: float = INITIAL_SERVICE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._condition = threading.Condition()
        self._clock = clock
        self._next = 0  # the ticket the next arrival gets
        self._serving = 0  # the ticket whose turn it is
        self._began: float | None = None  # when the serving ticket's generation began
        self._left: set[int] = set()  # tickets abandoned before their turn came
        self._durations: deque[float] = deque([initial_service_s], maxlen=RECENT)
        self.stopped = 0  # generations stopped before their end: the client left while the model wrote

    def join(self) -> int:
        with self._condition:
            ticket = self._next
            self._next += 1
            return ticket

    def ahead(self, ticket: int) -> int:
        """Questions to be answered before this ticket's (0: its turn now)."""
        with self._condition:
            return sum(1 for t in range(self._serving, ticket) if t not in self._left)

    def waiting(self) -> int:
        """Questions a new arrival would have ahead of it."""
        with self._condition:
            return sum(1 for t in range(self._serving, self._next) if t not in self._left)

    def expected_wait_s(self, ahead: int) -> float:
        with self._condition:
            per_question = statistics.median(self._durations)
            if self._began is not None:
                per_question = max(per_question, self._clock() - self._began)
            return ahead * per_question

    def begin(self) -> None:
        """The serving ticket starts generating now (its elapsed time bounds the estimate from below)."""
        with self._condition:
            self._began = self._clock()

    def wait_turn(self, ticket: int, timeout_s: float) -> bool:
        """True once it is the ticket's turn; False after ``timeout_s`` (to report a new position)."""
        with self._condition:
            return self._condition.wait_for(lambda: self._serving == ticket, timeout=timeout_s)

    def leave(self, ticket: int, served_s: float | None = None) -> None:
        """Done (``served_s`` = how long its generation took) or abandoned; the next ticket's turn may start."""
        with self._condition:
            if served_s is not None:
                self._durations.append(served_s)
            if ticket == self._serving:
                self.stopped += served_s is None and self._began is not None
                self._began = None
            self._left.add(ticket)
            while self._serving in self._left:
                self._left.discard(self._serving)
                self._serving += 1
            self._condition.notify_all()


def questions_ahead(ahead: int, language: str) -> str:
    """The queue position as the chat shows it: "2 questions ahead" / "前面还有 2 个问题"."""
    if language == "zh":
        return f"前面还有 {ahead} 个问题"
    return f"{ahead} question{'s' if ahead != 1 else ''} ahead"


def in_turn(
    queue: EngineQueue,
    events: Iterator[StreamEvent],
    extractive: Answer,
    *,
    max_wait_s: float,
) -> Iterator[StreamEvent]:
    """Run ``events`` when the engine's turn comes, reporting the queue position meanwhile.

    A question whose wait so far plus its expected wait passes ``max_wait_s`` gets the
    extractive answer with a notice: at once on arrival, or as soon as a slow answer ahead makes it so.
    """
    language = extractive.language
    ticket = queue.join()
    joined = time.monotonic()
    served: float | None = None
    reported = 0
    try:
        while (ahead := queue.ahead(ticket)) > 0:
            if time.monotonic() - joined + queue.expected_wait_s(ahead) > max_wait_s:
                yield from fallback(extractive, BUSY[language].format(ahead=questions_ahead(ahead, language)))
                return
            if ahead != reported:
                yield StreamEvent(EventKind.QUEUE, questions_ahead(ahead, language))
                reported = ahead
            queue.wait_turn(ticket, QUEUE_POLL_S)
        queue.begin()
        began = time.perf_counter()
        yield from events
        served = time.perf_counter() - began
    finally:
        queue.leave(ticket, served)
