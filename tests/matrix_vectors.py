"""An in-memory stand-in for the sentence ANN source, shared by the retrieval tests."""

from __future__ import annotations

import numpy as np


class MatrixVectors:
    """Sentence vectors in memory with exact nearest neighbours: the ANN index's contract, without the approximation."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids, self.matrix = ids, vectors
        self.requested: list[int] = []

    def cover(self, rows) -> None:
        """Every row is in the matrix."""

    def count(self) -> int:
        return len(self.ids)

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        self.requested.append(n)
        order = np.argsort(-(self.matrix @ vector), kind="stable")[:n]
        return [self.ids[i] for i in order], self.matrix[order]

    def vectors(self, ids: list[str]) -> np.ndarray:
        where = {sid: i for i, sid in enumerate(self.ids)}
        return self.matrix[[where[sid] for sid in ids]]
