"""Tokenizer and BM25 index."""

from assistant.indexing.lexical import LexicalIndex, cached_lexical_index, tokenize


def test_chinese_is_segmented_and_stopwords_dropped():
    tokens = tokenize("微软对OpenAI的投资金额是多少？")
    assert {"微软", "投资", "金额", "openai"} <= set(tokens)
    assert "的" not in tokens


def test_numbers_years_and_percentages_are_tokens():
    tokens = tokenize("到2032年，约20%的支出，1,000 tokens")
    assert {"2032", "20%", "20", "1000"} <= set(tokens)


def test_latin_words_are_lowercased_and_hyphenated_names_kept():
    assert tokenize("GPT-3 and Stable Diffusion") == ["gpt-3", "stable", "diffusion"]


def test_bm25_ranks_the_matching_chunk_first(tmp_path):
    index = LexicalIndex.build(["a", "b", "c"], ["微软投资了OpenAI。", "谷歌投资了Anthropic。", "芯片供应商。"])
    results = index.search(tokenize("微软的投资"), 3)
    assert results[0][0] == "a"
    assert all(score > 0 for _, score in results)
    assert index.search([], 3) == []


def test_cache_is_keyed_by_index_version(tmp_path):
    first = cached_lexical_index(tmp_path, "v1", ["a"], ["微软投资"])
    assert (tmp_path / "bm25-v1" / "ids.json").exists()
    again = cached_lexical_index(tmp_path, "v1", ["ignored"], ["ignored"])
    assert again.ids == first.ids == ["a"]
    cached_lexical_index(tmp_path, "v2", ["b"], ["谷歌"])
    assert not (tmp_path / "bm25-v1").exists()
