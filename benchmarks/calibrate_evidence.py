"""The evidence thresholds (``answer.min_evidence``, ``answer.min_evidence_en``) from the tuning halves' scores.

Rule (docs/architecture.md#refusals): per question language, the midpoint between the highest score of an
unanswerable question and the 10th-percentile score of the answerable ones. Run each dev set's tuning half
offline with ``--out``, on the index it is about, then pass each golden file with its answers:

    ASSISTANT_LLM__PROVIDER=none .venv/bin/assistant eval --qa eval/golden_dev.jsonl --split tune --out build/tune-report.jsonl
    ASSISTANT_LLM__PROVIDER=none ASSISTANT_PATHS__CORPUS_DIR=build/library/corpus \\
        ASSISTANT_PATHS__INDEX_DIR=build/library/index .venv/bin/assistant eval \\
        --qa eval/golden_library_dev.jsonl --split tune --out build/tune-library.jsonl
    .venv/bin/python benchmarks/calibrate_evidence.py eval/golden_dev.jsonl=build/tune-report.jsonl \\
        eval/golden_library_dev.jsonl=build/tune-library.jsonl

Never feed it the check halves: they are what the thresholds are judged on.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from assistant.evaluate import read_golden

PERCENTILE = 10


def scores(pairs: list[str]) -> dict[str, dict[bool, list[float]]]:
    """Per language, the evidence scores of answerable (True) and unanswerable (False) questions."""
    found: dict[str, dict[bool, list[float]]] = defaultdict(lambda: {True: [], False: []})
    for pair in pairs:
        golden_path, _, answers_path = pair.partition("=")
        golden = {q.id: q for q in read_golden(Path(golden_path))}
        for line in Path(answers_path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            q = golden[row["id"]]
            if q.split == "check":
                raise SystemExit(f"{answers_path} holds check-half question {q.id}: calibrate on the tuning half only")
            if not q.history:  # a follow-up's score is its condensed question's
                found[q.lang or row["language"]][q.answerable].append(float(row["evidence"]))
    return found


def main(argv: list[str]) -> int:
    if not argv or any("=" not in pair for pair in argv):
        print(__doc__, file=sys.stderr)
        return 2
    for language, by_kind in sorted(scores(argv).items()):
        answerable, unanswerable = by_kind[True], by_kind[False]
        if not answerable or not unanswerable:
            print(f"{language}: needs answerable and unanswerable questions ({len(answerable)}, {len(unanswerable)})")
            continue
        low = float(np.percentile(answerable, PERCENTILE))
        high = max(unanswerable)
        print(
            f"{language}: {len(answerable)} answerable (p{PERCENTILE} {low:.3f}), {len(unanswerable)} unanswerable "
            f"(max {high:.3f}) -> threshold {(low + high) / 2:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
