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

from assistant.answering.turns import BUSY

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
    assert answer["type"] == "answer" and answer["mode"] == "generated", answer
    assert BUSY["zh"].split("（")[0] not in answer["notice"]


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
    with httpx.Client(base_url=model_served.url, timeout=300) as client:
        first_model_token(client, LONG)
    time.sleep(1.0)  # the engine must be free within ~2 s (a token or two), not when the abandoned answer would end (~5 s)
    next_question_is_generated(model_served.url)
