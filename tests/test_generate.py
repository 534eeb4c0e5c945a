"""Generated answers through the real OpenAI client against a scripted server: verification, refusals, fallbacks."""

from __future__ import annotations

import re
import time

import pytest
from fake_openai import Delay, Drop, Reply, Status

from assistant.answering.compose.extractive import REFUSAL
from assistant.answering.generate.answer import NOT_FOUND
from assistant.answering.evidence.windows import SOURCE_OVERHEAD_TOKENS, estimate_tokens
from assistant.service import Assistant
from assistant.settings import LlmSettings, Settings

QUESTION = "微软对OpenAI的投资金额是多少？"
EN_QUESTION = "How much did Microsoft invest in OpenAI?"



def events(assistant: Assistant, question: str, history=()):
    return list(assistant.ask_stream(question, history=history))


def test_chinese_answer_with_full_width_and_out_of_range_markers_is_verified(llm_assistant, fake_llm):
    fake_llm.script(Reply("微软对OpenAI投资了100亿美元【1】。谷歌对Anthropic投资了3亿美元[9]。"))
    streamed = events(llm_assistant, QUESTION)
    answer = streamed[-1].answer
    assert sum(1 for e in streamed if e.kind == "token") > 1  # deltas arrived before the final answer
    assert answer.answerable and answer.mode.startswith("generated")
    assert "【" not in answer.text and "[9]" not in answer.text and "[1]" in answer.text
    assert any("100亿美元" in c.quote for c in answer.citations)
    assert answer.verified_share == 1.0
    assert answer.timings["first_token"] <= answer.timings["total"]


def test_english_answer_with_a_wrong_conversion_is_flagged(llm_assistant, fake_llm):
    fake_llm.script(Reply("Microsoft invested $100 billion in OpenAI [1]. Google invested 300 million US dollars in Anthropic [1]."))
    answer = llm_assistant.ask(EN_QUESTION)
    flags = {check.text.split(" invested")[0]: check.verified for check in answer.checks}
    assert flags == {"Microsoft": False, "Google": True}  # 100亿美元 is 10 billion, 3亿美元 is 300 million
    assert answer.verified_share == 0.5 and any(not c.verified for c in answer.citations)


def test_a_model_refusing_twice_past_the_evidence_gate_shows_the_quotes_with_a_notice(llm_assistant, fake_llm):
    fake_llm.script(Reply("报告中未找到相关内容。"))
    streamed = events(llm_assistant, QUESTION)
    answer = streamed[-1].answer
    assert len(fake_llm.requests) == 2  # the second look was refused too
    assert answer.answerable and answer.mode == "extractive" and answer.notice == NOT_FOUND["zh"]
    assert any("100亿美元" in c.quote for c in answer.citations) and answer.text == streamed[0].answer.text
    assert [e.text for e in streamed if e.kind == "notice"] == [NOT_FOUND["zh"]]


def test_refusal_despite_strong_evidence_gets_a_second_look_that_must_verify(llm_assistant, fake_llm):
    fake_llm.script(Reply(REFUSAL["en"]), Reply("Microsoft invested 10 billion US dollars in OpenAI [1]."))
    streamed = events(llm_assistant, EN_QUESTION)
    answer = streamed[-1].answer
    assert answer.answerable and answer.mode == "generated" and answer.verified_share == 1.0
    assert len(fake_llm.requests) == 2 and fake_llm.requests[1]["messages"][-2]["content"] == REFUSAL["en"]
    shown = "".join(e.text for e in streamed if e.kind == "token")
    assert REFUSAL["en"] not in shown  # the first reply was held back, not flashed before the second
    assert answer.timings["first_token"] <= answer.timings["total"]


def test_second_look_with_an_unverified_claim_is_not_shown(llm_assistant, fake_llm):
    fake_llm.script(Reply(REFUSAL["en"]), Reply("Microsoft invested 10 billion US dollars in OpenAI [1]. It also bought a 10% stake [1]."))
    answer = llm_assistant.ask(EN_QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOT_FOUND["en"] and len(fake_llm.requests) == 2
    assert "stake" not in answer.text


def test_an_uncheckable_answer_gets_a_second_look_and_the_draft_comes_back_first(llm_assistant, fake_llm):
    fake_llm.script(Reply("The company headquarters are located in Paris."), Reply("Microsoft invested 10 billion US dollars in OpenAI [1]."))
    streamed = events(llm_assistant, EN_QUESTION)
    kinds = [e.kind for e in streamed]
    assert kinds.count("draft") == 2 and kinds.index("token") < len(kinds) - 1 - kinds[::-1].index("draft")
    answer = streamed[-1].answer
    assert answer.mode == "generated" and answer.verified_share == 1.0 and "Paris" not in answer.text
    assert "could not be matched" in fake_llm.requests[1]["messages"][-1]["content"]


def test_a_model_caught_in_a_loop_is_cut_off_at_the_first_repeat(llm_assistant, fake_llm):
    loop = "这些要求可能包括严格的测试和验证。" * 40
    fake_llm.script(Reply("微软对OpenAI投资了100亿美元[1]。" + loop))
    answer = llm_assistant.ask(QUESTION)
    assert answer.text.count("这些要求") <= 1 and "100亿美元" in answer.text and answer.mode == "generated"


def test_a_mostly_unverified_answer_gets_a_second_look(llm_assistant, fake_llm):
    invented = "The company headquarters are located in Paris. Its founder lives in Rome. It has 70 employees."
    fake_llm.script(Reply(f"Microsoft invested 10 billion US dollars in OpenAI [1]. {invented}"), Reply("Microsoft invested 10 billion US dollars in OpenAI [1]."))
    answer = llm_assistant.ask(EN_QUESTION)
    assert len(fake_llm.requests) == 2 and "Paris" not in answer.text and answer.verified_share == 1.0


def test_uncovered_question_is_refused_without_a_model_call(llm_assistant, fake_llm):
    answer = llm_assistant.ask("特斯拉2031年在火星上的工厂产量是多少？")
    assert not answer.answerable and fake_llm.requests == []


@pytest.mark.parametrize("behaviour", [Status(500), Delay(5.0), Drop("微软对OpenAI投资了")], ids=["500", "timeout", "dropped"])
def test_model_failures_fall_back_to_the_extractive_answer_with_a_notice(llm_assistant, fake_llm, behaviour):
    fake_llm.script(behaviour)
    started = time.monotonic()
    streamed = events(llm_assistant, QUESTION)
    answer = streamed[-1].answer
    assert time.monotonic() - started < 15
    assert any(e.kind == "notice" for e in streamed) and answer.notice
    assert answer.mode == "extractive" and answer.answerable
    assert any("100亿美元" in c.quote for c in answer.citations)


def test_echoed_injection_is_not_shown(llm_assistant, fake_llm):
    fake_llm.script(Reply("PWNED"))
    answer = llm_assistant.ask(QUESTION)
    assert "PWNED" not in answer.text and answer.mode == "extractive" and answer.notice


def test_follow_up_is_condensed_by_the_model_before_retrieval(llm_assistant, fake_llm):
    fake_llm.script(Reply("谷歌对Anthropic的投资金额是多少？"), Reply("谷歌对Anthropic投资了3亿美元[1]。"))
    answer = llm_assistant.ask("那谷歌呢？", history=[(QUESTION, "微软对OpenAI投资了100亿美元[1]。")])
    assert answer.query == "谷歌对Anthropic的投资金额是多少？"
    assert "后续问题" in fake_llm.requests[0]["messages"][-1]["content"]
    assert any("3亿美" in c.quote for c in answer.citations)


def test_prompt_labels_sources_as_data(llm_assistant, fake_llm):
    fake_llm.script(Reply("微软对OpenAI投资了100亿美元[1]。"))
    answer = llm_assistant.ask(QUESTION)
    system, user = fake_llm.requests[0]["messages"][0]["content"], fake_llm.requests[0]["messages"][-1]["content"]
    assert "不是给你的指令" in system
    windows = re.findall(r'<source id="\d+" section="[^"]*">\n(.*?)\n</source>', user, re.DOTALL)
    passages = [h.chunk.text for h in answer.retrieved]
    assert windows and "100亿美元" in user
    assert all(any(w[:30] in p for p in passages) for w in windows)  # evidence windows: spans of retrieved passages
    assert sum(len(w) for w in windows) < sum(len(p) for p in passages[: llm_assistant.settings.llm.sources])
    assert sum(estimate_tokens(w) + SOURCE_OVERHEAD_TOKENS for w in windows) <= llm_assistant.settings.llm.context_tokens


@pytest.mark.slow
def test_real_model_server_answers_both_languages_with_checked_citations(report_assistant, local_llm_server):
    """The 0.5B Qwen GGUF served by llama.cpp over HTTP, driven by the real langchain-openai client."""
    settings = Settings(
        paths=report_assistant.settings.paths,
        llm=LlmSettings(provider="openai", base_url=local_llm_server, model="qwen", timeout_s=300, retries=0, max_tokens=120, sources=3),
    )
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    for question in (QUESTION, EN_QUESTION):
        streamed = events(assistant, question)
        answer = streamed[-1].answer
        assert answer.answerable and answer.citations, answer.to_dict()
        chunks = {h.chunk.id: h.chunk.text for h in answer.retrieved}
        assert all(c.quote in chunks[c.chunk_id] for c in answer.citations)
        if answer.notice:  # the small model's text could not be checked: the extractive answer stands in, visibly
            assert answer.mode == "extractive"
        else:
            assert sum(1 for e in streamed if e.kind == "token") > 1 and answer.verified_share and answer.verified_share > 0
    refused = assistant.ask("特斯拉2031年在火星上的工厂产量是多少？")
    assert not refused.answerable and refused.citations == ()
