"""A client that hangs up frees the local model: the next question is generated, not queued behind nobody.

A real server process with the real 0.5B model on the report index. ``llm.max_wait_s`` is 2 s, so a question
that arrives while the engine is still busy gets the busy notice and quotes at once (the first answers are
assumed to take 8 s): a generated answer proves the engine was free.
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


@pytest.fixture(scope="module")
def model_server(report_assistant, small_gguf, tmp_path_factory):
    from conftest import assistant_server

    paths = report_assistant.settings.paths
    env = {
        "ASSISTANT_LLM__PROVIDER": "local",
        "ASSISTANT_LLM__MODEL_PATH": str(small_gguf),
        "ASSISTANT_LLM__N_CTX": "2048",
        "ASSISTANT_LLM__THREADS": "2",
        "ASSISTANT_LLM__MAX_TOKENS": "400",
        "ASSISTANT_LLM__MAX_WAIT_S": "2",
        "ASSISTANT_LIMITS__RATE_PER_MINUTE": "0",
    }
    with assistant_server(paths.corpus_dir, paths.index_dir, tmp_path_factory.mktemp("disconnect") / "server.log", env) as server:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            warm = client.post("/api/ask", json={"question": NEXT}).json()  # loads the engine
            assert warm["mode"] == "generated", warm
        yield server


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


def test_a_client_hanging_up_frees_the_engine_for_the_next_question(model_server):
    with httpx.Client(base_url=model_server.url, timeout=300) as client:
        first_model_token(client, LONG)
        time.sleep(0.5)  # the engine must be free within a token or two, not when the abandoned answer would end
        with client.stream("POST", "/api/ask", params={"stream": "true"}, json={"question": NEXT}) as response:
            events = [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]
    assert [e for e in events if e["type"] == "queue"] == []  # nobody ahead: the abandoned answer stopped
    answer = events[-1]
    assert answer["type"] == "answer" and answer["mode"] == "generated", answer
    assert BUSY["zh"].split("（")[0] not in answer["notice"]
