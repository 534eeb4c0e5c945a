"""Can a score tell answerable from unanswerable questions? (An analysis, not a test.)

For each question of one half of a golden set, offline, on the configured index: the best sentence support (the
evidence score ``compose_offline`` starts from) and three normalisations of it against the question's own score
distribution. Prints, per language, the pairwise AUC of answerable over unanswerable questions (1.0: some threshold
separates them; 0.5: chance) and the unanswerable questions' values. Only the tuning halves may choose a rule.

    ASSISTANT_LLM__PROVIDER=none .venv/bin/python benchmarks/evidence_separation.py --qa eval/golden_dev.jsonl --split tune
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from assistant.answering.compose.extractive import rank_sentences
from assistant.evaluate import only_split, read_golden
from assistant.service import Assistant

SCORES = ("best", "best - library median", "best - retrieved mean", "z over 200 nearest")


def scores(assistant: Assistant, question: str) -> dict[str, float]:
    retriever, query = assistant.prepare(question)
    ranked = rank_sentences(query, assistant.retrieve(question), retriever.sentences)
    best = ranked[0][0] if ranked else 0.0
    _, vectors = retriever.sentences.source.nearest(query.vector, 200)
    near = np.sort(vectors @ query.vector)[::-1]
    background = float(np.median(near[20:])) if len(near) > 20 else 0.0
    return {
        "best": best,
        "best - library median": best - background,
        "best - retrieved mean": best - float(np.mean([score for score, _, _ in ranked])) if ranked else 0.0,
        "z over 200 nearest": (best - background) / float(np.std(near)) if len(near) > 1 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qa", type=Path, required=True)
    parser.add_argument("--split", choices=["tune", "check", "all"], default="tune")
    args = parser.parse_args()
    assistant = Assistant()
    rows = [(q.lang, q.type != "unanswerable", scores(assistant, q.question))
            for q in only_split(read_golden(args.qa), args.split) if not q.history]
    for language in sorted({lang for lang, _, _ in rows}):
        for name in SCORES:
            answerable = [s[name] for lang, ok, s in rows if lang == language and ok]
            unanswerable = [s[name] for lang, ok, s in rows if lang == language and not ok]
            if answerable and unanswerable:
                auc = np.mean([a > u for a in answerable for u in unanswerable])
                print(f"{language} {name:24s} AUC {auc:.2f}  unanswerable {[round(u, 3) for u in unanswerable]}")


if __name__ == "__main__":
    main()
