"""A small sentence index over lines of text, for tests of how quotes are chosen."""

import re

import numpy as np

from assistant.retrieval.sentences import in_memory_index
from assistant.types import Chunk, Hit, Sentence


def lines_index(lines: list[str]):
    """One chunk of lines (each line one or more sentences split after 。 or ：) and its sentence index."""
    text = "\n".join(lines)
    chunk = Chunk("c1", "report.txt", text, 50, 50 + len(text), 0, 1, "第二节")
    sentences = [
        Sentence("c1", m.group(), 50 + m.start(), 50 + m.end(), 1) for m in re.finditer(r"[^\n。：]+[。：]?", text)
    ]
    index = in_memory_index([chunk], sentences, np.eye(len(sentences), dtype=np.float32))
    return index, Hit(chunk, 1.0, 1), sentences
