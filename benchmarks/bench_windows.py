"""Evidence-window benchmark (not a test, no model needed): how much of the answer reaches the prompt, per token budget.

For every answerable dev question, the prompt's sources are built exactly as ``Assistant`` builds them,
at several ``llm.context_tokens`` budgets. Two measures of quality, per language:

- evidence in prompt: a golden evidence string is contained (whitespace-insensitive) in the sources;
- keywords in prompt: share of the answer-keyword groups whose Chinese alternative (or name) is in the sources,
  the most a model can write without inventing.

And the cost: estimated prompt tokens of the sources (median), which on a CPU model is the first-token time.

    .venv/bin/python benchmarks/bench_windows.py --budgets 300 450 600 800

Writes benchmarks/results/windows.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from assistant.evaluate import keyword_recall, read_golden
from assistant.ingest.chunk import normalize
from assistant.service import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"
OUT = ROOT / "benchmarks" / "results" / "windows.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[300, 450, 600, 800])
    parser.add_argument("--golden", type=Path, default=GOLDEN)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    questions = [q for q in read_golden(args.golden) if q.answerable]
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for budget in args.budgets:
        settings = Settings(llm={"provider": "local", "context_tokens": budget})
        assistant = Assistant(settings)
        for q in questions:
            _, extractive, windows, _ = assistant._answer_offline(q.question, q.question, None, 0.0)
            text = normalize("\n".join(w.source.text for w in windows))
            key = f"{budget}/{q.lang}"
            rows[key]["evidence"].append(float(any(normalize(e) in text for e in q.evidence)))
            rows[key]["keywords"].append(keyword_recall(text, q.answer_keywords))
            rows[key]["tokens"].append(float(sum(w.tokens for w in windows)))
    summary = {
        key: {
            "questions": len(values["evidence"]),
            "evidence_in_prompt": round(statistics.mean(values["evidence"]), 3),
            "keywords_in_prompt": round(statistics.mean(values["keywords"]), 3),
            "source_tokens_p50": statistics.median(values["tokens"]),
        }
        for key, values in rows.items()
    }
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for key, values in summary.items():
        print(key, values)


if __name__ == "__main__":
    main()
