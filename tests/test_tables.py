"""Which lines are table cells or rows, on lines of the report's own tables."""

import numpy as np
import pytest

from assistant.answering.compose.digest import central_sentences, is_prose
from assistant.ingest.tables import is_cell_row
from assistant.retrieval.sentences import in_memory_index
from assistant.types import Chunk, Hit, Sentence


@pytest.mark.parametrize(
    "line",
    [
        "拓展市场 ● ●",  # the micro-market matrix: a row of bullets
        "AMD NVIDIA",  # vendor table: names only
        "供应商 描述 案例 主要客户 主要盈利模式",  # vendor table: the column headers
        "每个用户",  # one short cell
        "垂",  # a vertical label, one character per line
    ],
)
def test_table_lines_are_cell_rows(line):
    assert is_cell_row(line, finished=False)


def test_prose_is_no_cell_row_and_a_short_finished_sentence_is_prose():
    assert not is_cell_row("基础设施层通常被认为是最成熟、稳定和商业化的。", finished=True)
    assert not is_cell_row("它们有效。", finished=True)
    assert is_cell_row("它们有效", finished=False)  # the same words, unfinished and short: a cell


def test_a_digest_never_takes_table_cells_for_prose():
    assert is_prose("生成式人工智能可能会转变商业模式、流程和价值动态。")
    assert not is_prose("模型层\n供应商 描述 案例 主要客户 主要盈利模式")  # long enough, but table rows
    assert not is_prose("短句。")  # too short to stand for a section
    text = "Amazon Co:here Google Microsoft NVIDIA Meta\n生成式人工智能可能会转变商业模式、流程和价值动态。"
    chunk = Chunk("c1", "r.txt", text, 0, len(text), 0, 1, "第三节")  # a prose chunk that holds a row of names
    split = text.index("\n") + 1
    sentences = [Sentence("c1", text[: split - 1], 0, split - 1, 1), Sentence("c1", text[split:], split, len(text), 1)]
    index = in_memory_index([chunk], sentences, np.eye(2, dtype=np.float32))
    ranked = central_sentences([Hit(chunk, 1.0, 1)], index)
    assert [s.text for _, s, _ in ranked["第三节"]] == ["生成式人工智能可能会转变商业模式、流程和价值动态。"]
