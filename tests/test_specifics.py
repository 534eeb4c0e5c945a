"""What the evidence lacks: absent names, figures not stated, an asked-for slot never named."""

from assistant.answering.evidence.specifics import (
    anchors,
    in_vocabulary,
    mentioned,
    missing_anchors,
    quantity_gap,
    states_new_quantity,
    unsupported_specifics,
)


def test_anchor_extraction():
    assert anchors("How many parameters does Google's LaMDA model have?") == ["google", "lamda"]
    assert anchors("Midjourney的套餐多少钱？") == ["midjourney"]
    assert missing_anchors("What about LaMDA and GPT-3?", {"gpt-3"}) == ["lamda"]


def test_a_figure_the_question_gives_is_not_the_figure_it_asks_for():
    assert not states_new_quantity("2022年是人工智能的一个分水岭。", "How much revenue did Jasper generate in 2022?")
    assert states_new_quantity("2022年收入为5,000万美元。", "How much revenue did Jasper generate in 2022?")
    assert states_new_quantity("投资了100亿美元。", "微软投资了多少？")


def test_a_requested_figure_must_be_stated_next_to_the_asked_for_slot():
    question = "报告预计生成式AI将导致多少员工失业？"
    passages = "2022年是人工智能的一个分水岭。\n长期的员工失业风险。\n可能导致劳动力失业的问题。"
    quotes = ["长期的员工失业风险。", "2022年是人工智能的一个分水岭。"]
    assert quantity_gap(question, quotes, 2, ["员工失业"], passages) == 2  # named, never counted
    assert quantity_gap(question, quotes, 2, [], passages) == 0  # without a slot any figure in the best quotes does
    counted = passages + "\n预计将有300万员工失业。"
    assert quantity_gap(question, quotes, 2, ["员工失业"], counted) == 0  # counted elsewhere: the best quotes decide
    assert quantity_gap(question, quotes + ["预计将有300万员工失业。"], 1, ["员工失业"], counted) == 0
    assert quantity_gap("报告讨论了哪些风险？", quotes, 1, ["风险"], passages) == 0  # no figure asked for


def test_a_name_punctuated_differently_is_still_mentioned():
    assert mentioned("dall-e", "在2022年，openai的dall·e2因其文本生成图像的能力")
    assert in_vocabulary("dall-e", {"dall", "e2", "openai"})
    assert not mentioned("dall-e", "openai的chatgpt")


def test_a_name_the_caller_calls_generic_is_no_specific_even_when_the_corpus_lacks_it():
    question = "According to Deloitte, how much did Microsoft invest in OpenAI?"
    quotes = ["微软对OpenAI的100亿美元投资。"]
    vocabulary = {"microsoft", "openai", "微软"}
    assert unsupported_specifics(question, quotes, vocabulary) == 1  # deloitte: in neither corpus nor quotes
    assert unsupported_specifics(question, quotes, vocabulary, lambda word: word == "deloitte") == 0
