from assistant.language import detect_language
from assistant.retrieval.crosslingual import english_to_chinese_terms, stem


def test_language_of_questions():
    assert detect_language("微软对OpenAI的投资金额是多少？") == "zh"
    assert detect_language("How much did Microsoft invest in OpenAI?") == "en"
    assert detect_language("What is the share of AI in 2032 according to 德勤?") == "en"
    assert detect_language("12345") == "en"


def test_dictionary_expansion_finds_chinese_terms():
    terms = english_to_chinese_terms("Which investment did Microsoft make?")
    assert "投资" in terms
    assert "成本" in english_to_chinese_terms("costs")


def test_stemming_is_conservative():
    assert stem("industries") == "industry"
    assert stem("licensing") == "licens"
    assert stem("is") == "is"
