"""Dictionary terms across languages (CC-CEDICT), both ways."""

from assistant.retrieval.crosslingual import chinese_to_english_terms, english_to_chinese_terms
from assistant.retrieval.hybrid import lexical_tokens


def test_chinese_words_become_english_stems_and_english_words_chinese_terms():
    assert {"restrict", "limit", "downstream"} <= set(chinese_to_english_terms(["下游", "限制"]))
    assert "微软" in english_to_chinese_terms("How much did Microsoft invest?")


def test_a_chinese_question_keeps_only_the_glosses_the_corpus_holds():
    tokens = lexical_tokens("下游接收者有什么限制？", "zh", vocabulary={"downstream", "restrict"})
    assert "下游" in tokens and {"downstream", "restrict"} <= set(tokens) and "limit" not in tokens
