"""The numpy BM25 matrix against bm25s's own indexing, on the report's text: the same float32 score everywhere."""

import bm25s
import numpy as np

from assistant.indexing.lexical import tokenize
from assistant.indexing.scoring import bm25_model
from assistant.indexing.tokens import RowTokens
from conftest import REPORT


def _columns(model: bm25s.BM25) -> dict[str, tuple[list[int], list[float]]]:
    scores = model.scores
    out = {}
    for word, column in model.vocab_dict.items():
        if column + 1 < len(scores["indptr"]):
            a, b = scores["indptr"][column], scores["indptr"][column + 1]
            out[word] = (scores["indices"][a:b].tolist(), scores["data"][a:b].tolist())
    return out


def test_every_score_is_the_one_bm25s_computes():
    text = REPORT.read_text(encoding="utf-8")
    rows = [tokenize(text[i : i + 400]) for i in range(0, len(text), 400)] + [[], tokenize("。")]  # two empty rows
    ours = bm25_model(RowTokens.encode(rows))
    theirs = bm25s.BM25()
    theirs.index([row or ["\u0000"] for row in rows], show_progress=False)
    assert set(ours.vocab_dict) == set(theirs.vocab_dict)
    assert _columns(ours) == _columns(theirs)
    for question in ("微软对OpenAI的投资金额是多少？", "2023年 市场规模", "agent"):
        tokens = tokenize(question)
        assert np.array_equal(ours.get_scores(tokens), theirs.get_scores(tokens))


def test_rows_are_taken_and_compacted_without_changing_their_tokens():
    rows = [["微软", "投资"], [], ["谷歌", "微软"], ["芯片"]]
    tokens = RowTokens.encode(rows)
    taken = tokens.take([3, 0, 1])
    assert taken.tolist() == [["芯片"], ["微软", "投资"], []]
    assert taken.compact().tolist() == taken.tolist() and len(taken.compact().vocabulary) == 3
    more = tokens.then(RowTokens.encode([["新词", "微软"]], tokens.vocabulary))
    assert more.tolist() == rows + [["新词", "微软"]]
