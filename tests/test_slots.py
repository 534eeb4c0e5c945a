"""The asked-for slot of a question, and whether passages name it."""

import pytest

from assistant.answering.evidence.slots import absent_slot, asked_slot, mentions_slot, slot_forms, translatable


@pytest.mark.parametrize(
    "question, language, slot",
    [
        ("微软向OpenAI投资100亿美元后获得了多少股份？", "zh", ["股份"]),
        ("报告预计生成式AI将导致多少员工失业？", "zh", ["员工失业"]),
        ("微软对OpenAI的投资金额是多少？", "zh", ["投资"]),  # 金额 is generic: any investment figure answers
        ("Coreweave的总部位于哪个城市？", "zh", ["总部"]),
        ("报告观察到，集成玩家是通过几种途径进入市场的？", "zh", ["进入市场"]),
        ("谷歌给Anthropic投了多少资金？", "zh", []),  # money words name no thing to look for
        ("What equity stake did Microsoft receive for its 10 billion dollar investment?", "en", ["equity", "stake"]),
        ("How many employees will lose their jobs to generative AI?", "en", ["employees"]),
        ("How many layers make up the technology stack?", "en", ["layers"]),
        ("Where is Coreweave headquartered?", "en", ["headquartered"]),
        ("How much money did Microsoft put into OpenAI?", "en", []),
        ("How many kinds of content can it produce?", "en", ["content"]),
        ("Which company does the report name as a leader in chips?", "en", []),
        ("In what year did DALL-E 2 draw attention?", "en", []),
    ],
)
def test_the_slot_is_read_from_the_question_shape(question, language, slot):
    assert asked_slot(question, language) == slot


def test_english_slot_words_are_looked_for_through_the_dictionary():
    assert "员工" in slot_forms("employees")  # the singular's translation
    assert slot_forms("员工失业") == ["员工", "工失", "失业"]
    assert translatable("stake") and translatable("股份")
    assert not translatable("qwertyuiop")  # unknown to the dictionary: proves nothing absent


def test_a_slot_is_absent_only_when_no_form_of_it_occurs():
    passages = "仅在2022年，风险投资公司就投资了超过20亿美元。长期的员工失业风险。"
    assert absent_slot(["股份"], passages)
    assert not absent_slot(["员工失业"], passages) and mentions_slot(["employees"], passages)
    assert not absent_slot(["qwertyuiop"], passages)
    assert not absent_slot([], passages)
