"""LLM backends: failure handling against a scripted OpenAI server, answers from a real llama.cpp model."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fake_openai import Delay, Drop, FakeOpenAI, Reply, Status, pieces
from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from assistant.answering.generate.llm import LocalChatModel, make_chat_model, stream_text
from assistant.errors import LlmUnavailable
from assistant.settings import LlmSettings, Settings

QUESTION = [("system", "Answer only from the quotes."), ("user", "报告中提到的增长率是多少？")]


def openai_model(base_url: str, **overrides: object) -> BaseChatModel:
    settings = LlmSettings(provider="openai", base_url=base_url, model="fake-model", **overrides)
    model = make_chat_model(settings)
    assert model is not None
    return model


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_stream_concatenates_deltas_and_sends_the_prompt(fake_llm: FakeOpenAI) -> None:
    text = "The report puts growth at 35% (p. 4), mostly in manufacturing."
    fake_llm.script(Reply(text))

    deltas = list(stream_text(openai_model(fake_llm.base_url, max_tokens=77, retries=0, temperature=0.3), QUESTION))

    assert deltas == pieces(text)
    [request] = fake_llm.requests
    assert request["messages"] == [{"role": role, "content": content} for role, content in QUESTION]
    assert request["stream"] is True
    assert request["model"] == "fake-model"
    assert request["max_completion_tokens"] == 77
    assert request["temperature"] == 0.3


def test_server_errors_become_llm_unavailable_after_the_configured_retries(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(Status(500))

    with pytest.raises(LlmUnavailable, match="HTTP 500.*check its logs"):
        list(stream_text(openai_model(fake_llm.base_url, retries=2), QUESTION))

    assert len(fake_llm.requests) == 3


def test_a_slow_server_times_out_within_the_retry_budget(fake_llm: FakeOpenAI) -> None:
    timeout, retries, backoff_slack = 0.5, 1, 2.5
    fake_llm.script(Delay(10))

    started = time.perf_counter()
    with pytest.raises(LlmUnavailable, match="no response in time.*ASSISTANT_LLM__TIMEOUT_S"):
        list(stream_text(openai_model(fake_llm.base_url, timeout_s=timeout, retries=retries), QUESTION))

    assert time.perf_counter() - started < timeout * (retries + 1) + backoff_slack
    assert len(fake_llm.requests) == retries + 1


def test_a_dropped_stream_is_not_passed_off_as_a_complete_answer(fake_llm: FakeOpenAI) -> None:
    partial = "The report puts growth at"
    fake_llm.script(Drop(partial))
    stream = stream_text(openai_model(fake_llm.base_url, retries=0), QUESTION)

    received = [next(stream) for _ in pieces(partial)]
    with pytest.raises(LlmUnavailable, match="stream ended before the model finished"):
        next(stream)

    assert received == pieces(partial)


@pytest.mark.parametrize(("code", "hint"), [(401, "ASSISTANT_LLM__API_KEY"), (404, "ASSISTANT_LLM__MODEL")])
def test_client_errors_name_the_setting_to_fix(fake_llm: FakeOpenAI, code: int, hint: str) -> None:
    fake_llm.script(Status(code))

    with pytest.raises(LlmUnavailable, match=f"HTTP {code}.*{hint}"):
        list(stream_text(openai_model(fake_llm.base_url, retries=0), QUESTION))


@pytest.mark.parametrize(("provider", "suffix"), [("openai", "/v1"), ("ollama", "")])
def test_an_unreachable_server_names_provider_and_url(provider: str, suffix: str) -> None:
    url = closed_port_url() + suffix
    model = make_chat_model(LlmSettings(provider=provider, base_url=url, model="m", retries=0, timeout_s=5))
    assert model is not None

    with pytest.raises(LlmUnavailable, match="cannot connect") as caught:
        list(stream_text(model, QUESTION))

    assert f"The {provider} language model at {url}" in str(caught.value)


def test_provider_none_means_no_model() -> None:
    assert make_chat_model(LlmSettings()) is None


def test_a_missing_gguf_says_how_to_fetch_it(tmp_path: Path) -> None:
    settings = LlmSettings(provider="local", model_path=tmp_path / "absent.gguf")

    with pytest.raises(LlmUnavailable, match="assistant model fetch"):
        make_chat_model(settings)


def test_settings_come_from_the_environment_and_never_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__PROVIDER", "openai")
    monkeypatch.setenv("ASSISTANT_LLM__BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("ASSISTANT_LLM__MODEL", "qwen2.5-coder-1.5b")
    monkeypatch.setenv("ASSISTANT_LLM__API_KEY", "sk-do-not-print")

    llm = Settings().llm

    assert llm.api_key.get_secret_value() == "sk-do-not-print"
    assert llm.describe() == "openai · qwen2.5-coder-1.5b · http://127.0.0.1:8080/v1"
    assert "sk-do-not-print" not in repr(llm) + Settings().model_dump_json()


def test_remote_providers_need_a_model_name() -> None:
    with pytest.raises(ValidationError, match="ASSISTANT_LLM__MODEL"):
        LlmSettings(provider="ollama")


# -- a real model (Qwen2.5-Coder-0.5B, fetched once into models/) ---------------------------------


@pytest.mark.slow
def test_openai_client_against_a_real_llama_cpp_server(local_llm_server: str) -> None:
    model = openai_model(local_llm_server, temperature=0, max_tokens=24, timeout_s=300)

    answer = model.invoke([("user", "What is 2 + 3? Reply with the number only.")])
    deltas = list(stream_text(model, [("user", "Count from 1 to 5, separated by commas.")]))

    assert "5" in str(answer.content)
    assert len(deltas) >= 3
    assert "1" in "".join(deltas) and "3" in "".join(deltas)


@pytest.fixture(scope="module")
def local_model(small_gguf: Path) -> LocalChatModel:
    model = make_chat_model(
        LlmSettings(provider="local", model_path=small_gguf, n_ctx=1024, threads=2, temperature=0, max_tokens=24)
    )
    assert isinstance(model, LocalChatModel)
    return model


@pytest.mark.slow
def test_local_model_answers_in_process(local_model: LocalChatModel) -> None:
    answer = local_model.invoke([("user", "What is 2 + 3? Reply with the number only.")])
    deltas = list(stream_text(local_model, [("user", "Count from 1 to 5, separated by commas.")]))

    assert "5" in str(answer.content)
    assert answer.response_metadata["finish_reason"] in ("stop", "length")
    assert len(deltas) >= 3
    assert "1" in "".join(deltas) and "3" in "".join(deltas)


@pytest.mark.slow
def test_abandoning_a_local_stream_stops_generation(local_model: LocalChatModel) -> None:
    long_winded = local_model.model_copy(update={"max_tokens": 400})  # shares the loaded engine
    stream = stream_text(long_winded, [("user", "Count from 1 to 200, separated by commas.")])
    next(stream)
    started = time.perf_counter()
    next(stream), next(stream)
    per_token = (time.perf_counter() - started) / 2

    started = time.perf_counter()
    stream.close()  # without the stop signal this would wait for ~400 tokens
    closing = time.perf_counter() - started
    again = local_model.invoke([("user", "What is 2 + 3? Reply with the number only.")])

    assert closing < max(1.0, 20 * per_token)
    assert "5" in str(again.content)


@pytest.mark.slow
def test_a_prompt_beyond_the_context_window_names_the_setting(local_model: LocalChatModel) -> None:
    with pytest.raises(LlmUnavailable, match="exceeds the available context size.*ASSISTANT_LLM__N_CTX"):
        list(stream_text(local_model, [("user", "报告 " * 2000)]))
