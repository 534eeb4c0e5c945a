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


ANSWER = "根据报告原文：\n“易用性| 通过开箱即用的连接。” [1]\n“安全和隐私|符合数据安全标准。” [2]"


def test_entity_only_follow_up_keeps_the_predicate_and_swaps_the_entity():
    assert condense_offline("And Google?", [("How much did Microsoft invest in OpenAI?", "…")]) == "How much did Google invest?"
    assert condense_offline("那谷歌呢？", [("微软对OpenAI的投资金额是多少？", "…")]) == "谷歌的投资金额是多少？"


def test_ordinals_name_an_item_of_the_previous_answer():
    assert condense_offline("那第二个呢？", [(BUYERS, ANSWER)]).startswith("安全和隐私 ")
    assert condense_offline("What about the second one?", [("Which criteria do buyers use?", ANSWER)]).startswith("安全和隐私 ")
    listed = "根据报告原文：\n“企业买家有独特的特点。” [1]\n“经常采用的标准包括：” [2]\n" + ANSWER.split("\n", 1)[1].replace("[1]", "[3]").replace("[2]", "[4]")
    assert condense_offline("那第二个呢？", [(BUYERS, listed)]).startswith("安全和隐私 ")  # the list's second item
    assert condense_offline("那第五个呢？", [(BUYERS, ANSWER)]).startswith("那第五个呢？")  # no fifth item: topic carried


def test_pronouns_stand_for_the_previous_subject():
    assert condense_offline("它的成本是多少？", [("生成式AI有哪些风险？", "…")]) == "生成式AI的成本是多少？"
    assert condense_offline("What does it cost?", [("What risks does OpenAI face?", "…")]) == "What does OpenAI cost?"


def test_the_words_that_frame_a_question_are_not_carried_into_a_follow_up():
    from assistant.retrieval.followup import key_terms

    assert key_terms("What does the report say enterprises will use customer data analysis for?") == [
        "enterprises", "use", "customer", "data", "analysis"
    ]
    carried = condense_offline("Will that stay the same?", [("How much more can a generative AI query cost than an indexed search query?", "…")])
    assert carried.endswith("(generative ai query cost indexed search)")
