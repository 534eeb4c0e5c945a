"""Terminal progress for long work (indexing, first model load)."""

from __future__ import annotations

import sys


class ConsoleProgress:
    """One tqdm bar per indexing stage, on stderr so ``--json`` output stays clean."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bar = None
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = self._tqdm(total=total, desc=stage, unit="item", file=sys.stderr, leave=False)
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
