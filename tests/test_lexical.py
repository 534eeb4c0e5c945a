"""Tokenizer and BM25 index."""

from assistant.indexing.lexical import LexicalIndex, cached_lexical_index, latin_stems, tokenize, tokens_in
from assistant.indexing.tokens import TOKENIZER_VERSION, load_tokens, row_tokens


def test_chinese_is_segmented_and_stopwords_dropped():
    tokens = tokenize("微软对OpenAI的投资金额是多少？")
    assert {"微软", "投资", "金额", "openai"} <= set(tokens)
    assert "的" not in tokens


def test_numbers_years_and_percentages_are_tokens():
    tokens = tokenize("到2032年，约20%的支出，1,000 tokens")
    assert {"2032", "20%", "20", "1000"} <= set(tokens)


def test_latin_words_are_lowercased_and_hyphenated_names_kept():
    assert tokenize("GPT-3 and Stable Diffusion") == ["gpt-3", "stabl", "diffus"]


def test_english_words_are_stemmed_and_stop_words_dropped():
    assert tokenize("What does modifying and conveying copies mean?") == ["modifi", "convey", "copi", "mean"]
    assert set(tokenize("copies conveyed")) <= set(tokenize("convey a copy"))  # the forms differ, the stems meet
    index = LexicalIndex.build(["a", "b"], ["Conveying verbatim copies.", "Disclaimer of warranty."])
    assert index.search(tokenize("how to convey a copy"), 2)[0][0] == "a"


def test_query_tokens_are_found_in_a_sentence_by_stem_or_as_written():
    assert latin_stems("The Company conveys it") >= {"compani", "convey"}
    assert tokens_in(["compani", "convey", "微软", "100", "patent"], "The company conveys 微软的100亿") == {"compani", "convey", "微软", "100"}


def test_bm25_ranks_the_matching_chunk_first(tmp_path):
    index = LexicalIndex.build(["a", "b", "c"], ["微软投资了OpenAI。", "谷歌投资了Anthropic。", "芯片供应商。"])
    results = index.search(tokenize("微软的投资"), 3)
    assert results[0][0] == "a"
    assert all(score > 0 for _, score in results)
    assert index.search([], 3) == []


def test_cache_is_keyed_by_index_version(tmp_path):
    first = cached_lexical_index(tmp_path, "v1", ["a"], ["ra"], {"ra": "微软投资"})
    assert (tmp_path / f"bm25-v{TOKENIZER_VERSION}-v1" / "ids.json").exists()
    again = cached_lexical_index(tmp_path, "v1", ["ignored"], ["ignored"], {})
    assert again.ids == first.ids == ["a"]
    cached_lexical_index(tmp_path, "v2", ["b"], ["rb"], {"rb": "谷歌"})
    assert not (tmp_path / f"bm25-v{TOKENIZER_VERSION}-v1").exists()


def test_a_new_generation_tokenises_only_rows_it_has_not_seen(tmp_path):
    texts = {"r1": "微软投资了OpenAI。", "r2": "谷歌投资了Anthropic。", "r3": "芯片供应商。"}
    seen: list[str] = []

    def counting(text: str) -> list[str]:
        seen.append(text)
        return tokenize(text)

    assert row_tokens(tmp_path, ["r1", "r2"], texts, counting).tolist() == [tokenize(texts["r1"]), tokenize(texts["r2"])]
    assert len(seen) == 2
    assert row_tokens(tmp_path, ["r2", "r3"], texts, counting).tolist() == [tokenize(texts["r2"]), tokenize(texts["r3"])]
    assert seen[2:] == [texts["r3"]]  # r2 came from the cache
    assert set(load_tokens(tmp_path)[0]) == {"r2", "r3"}  # only the live rows are kept
    assert row_tokens(tmp_path, ["r2", "r4"], texts, counting) is None  # r4: neither cached nor given


def test_bm25_from_cached_tokens_scores_as_one_built_from_text(tmp_path):
    ids, rows = ["a", "b", "c"], ["ra", "rb", "rc"]
    texts = dict(zip(rows, ["微软投资了OpenAI。", "谷歌投资了Anthropic，2023年。", "。"]))
    cached_lexical_index(tmp_path, "v1", ids[:2], rows[:2], texts)  # tokens of ra and rb cached
    reused = cached_lexical_index(tmp_path, "v2", ids, rows, {"rc": texts["rc"]})
    fresh = LexicalIndex.build(ids, list(texts.values()))
    for question in ("微软的投资", "2023年谷歌", "芯片"):
        assert reused.search(tokenize(question), 3) == fresh.search(tokenize(question), 3)
    assert reused.search(tokenize("微软的投资"), 1)[0][0] == "a"
