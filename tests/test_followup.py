"""Offline condensing of follow-up questions."""

import pytest

from assistant.retrieval.followup import condense_offline, is_elliptical

BUYERS = "企业买家在选择生成式AI供应商时经常采用哪些标准？"


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("那第二个呢？", "zh", True),
        ("它的成本是多少？", "zh", True),
        ("价格呢？", "zh", True),
        ("微软对OpenAI的投资金额是多少？", "zh", False),
        ("and in 2025?", "en", True),
        ("What about the second one?", "en", True),
        ("How much did Microsoft invest in OpenAI?", "en", False),
    ],
)
def test_elliptical_questions_are_recognised(question, language, expected):
    assert is_elliptical(question, language) is expected


def test_follow_up_carries_the_previous_topic():
    condensed = condense_offline("那第二个呢？", [(BUYERS, "…")])
    assert condensed.startswith("那第二个呢？") and "供应商" in condensed and "标准" in condensed


def test_english_follow_up_carries_terms_across_two_turns():
    history = [("How much does a generative AI query cost?", "…"), ("and compared with an index query?", "…")]
    condensed = condense_offline("and in 2025?", history)
    assert "generative" in condensed and "query" in condensed and "cost" in condensed


def test_standalone_questions_are_left_alone():
    assert condense_offline("微软对OpenAI的投资金额是多少？", [(BUYERS, "…")]) == "微软对OpenAI的投资金额是多少？"
    assert condense_offline("那第二个呢？", []) == "那第二个呢？"
