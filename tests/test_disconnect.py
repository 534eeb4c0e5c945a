"""A client that hangs up frees the local model: the next question is generated, not queued behind nobody.

A real server process with the real 0.5B model on the report index (``model_served``). ``llm.max_wait_s`` is
2 s, so a question that arrives while the engine is still busy gets the busy notice and quotes at once (the
first answers are assumed to take 8 s): a generated answer proves the engine was free.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from assistant.answering.generate.turns import BUSY

LONG = "Explain in detail every use case of generative AI in each industry that the report lists."  # ~5 s after its first token
NEXT = "微软对OpenAI的投资金额是多少？"

pytestmark = pytest.mark.slow


def next_question_is_generated(url: str) -> None:
    """Asked right after another client left: nobody ahead of it, and the model writes the answer."""
    with httpx.Client(base_url=url, timeout=300) as client:
        with client.stream("POST", "/api/ask", params={"stream": "true"}, json={"question": NEXT}) as response:
            events = [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]
    assert [e for e in events if e["type"] == "queue"] == []  # nobody ahead: the abandoned answer stopped
    answer = events[-1]
    assert answer["type"] == "answer" and answer["mode"] == "generated", (answer["notice"], answer["answer"][:300])
    assert BUSY["zh"].split("（")[0] not in answer["notice"]


def engine_state(url: str) -> tuple[float, float]:
    """(questions the engine is answering or holding, answers it stopped because their client left), from /metrics."""
    samples = {line.split()[0]: float(line.split()[1]) for line in httpx.get(f"{url}/metrics").text.splitlines()
               if line.startswith("assistant_engine_")}
    return samples["assistant_engine_questions"], samples["assistant_engine_answers_stopped"]


def stopped_for_nobody(url: str, stopped_before: float, within_s: float = 30.0) -> float:
    """Seconds until the engine is idle; it must be because the abandoned answer was stopped, not because it ended."""
    began = time.monotonic()
    while (state := engine_state(url))[0] > 0 and time.monotonic() - began < within_s:
        time.sleep(0.1)
    assert state == (0, stopped_before + 1), state
    return time.monotonic() - began


def first_model_token(client: httpx.Client, question: str) -> float:
    """Stream an answer, hang up at the model's first token; the time of hanging up."""
    with client.stream("POST", "/api/ask", params={"stream": "true"}, json={"question": question}) as response:
        drafted = False
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            drafted = drafted or event["type"] == "draft"
            if drafted and event["type"] == "token" and event["text"].strip():
                return time.monotonic()
    raise AssertionError("the answer ended before the model wrote anything")


def test_a_client_hanging_up_frees_the_engine_for_the_next_question(model_served):
    _, stopped = engine_state(model_served.url)
    with httpx.Client(base_url=model_served.url, timeout=300) as client:
        first_model_token(client, LONG)
    stopped_for_nobody(model_served.url, stopped)  # the abandoned answer was stopped, not written to its end
    next_question_is_generated(model_served.url)
