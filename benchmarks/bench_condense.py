"""What condensing a follow-up with the local model costs and buys (not a test).

For every question of the follow-up sets, the earlier turns are answered first (extractive, as a
user would have seen them), then the follow-up is made standalone three ways: offline
(``condense_offline``), by the model with the condense prompt as built (``CONDENSE_MAX_TOKENS``),
and by the model with no budget (every turn, answers up to ``HISTORY_ANSWER_CHARS``). Each rewrite
is searched; hit@5 is whether a top-5 chunk holds the evidence. The engine reports the tokens it
read and its milliseconds: prompt reading plus writing the rewrite is what condensing adds before
the answer's own prompt starts. Variants are interleaved per question on one engine.

    .venv/bin/python benchmarks/bench_condense.py

Writes benchmarks/results/condense.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from assistant.answering.generate.llm import load_engine
from assistant.answering.generate.prompts import CONDENSE_MAX_TOKENS, build_condense_messages
from assistant.evaluate import read_golden
from assistant.ingest.chunk import normalize
from assistant.retrieval.followup import condense_offline
from assistant.service import Assistant
from assistant.settings import DEFAULT_MODEL_PATH, LlmSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
SETS = [ROOT / "eval" / "golden_followups_dev.jsonl", ROOT / "eval" / "golden_followups_own.jsonl"]


def model_rewrite(engine, question: str, history: list[tuple[str, str]], budget: int) -> dict[str, object]:
    messages = [{"role": r, "content": c} for r, c in build_condense_messages(question, history, budget)]
    response = engine.handle_chat_completions({"messages": messages, "max_tokens": 60, "temperature": 0, "cache_prompt": False})
    timings = response.get("timings", {})
    text = response["choices"][0]["message"]["content"].strip()
    return {"text": text, "read": timings.get("prompt_n", 0), "ms": timings.get("prompt_ms", 0.0) + timings.get("predicted_ms", 0.0)}


def hit_at_5(assistant: Assistant, question: str, evidence: list[str]) -> bool:
    wanted = [normalize(e) for e in evidence]
    return any(any(w in normalize(h.chunk.text) for w in wanted) for h in assistant.retrieve(question, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "condense.json")
    args = parser.parse_args()

    assistant = Assistant(Settings(llm=LlmSettings(provider="none")))  # history answers as an offline user saw them
    engine = load_engine(args.model, n_ctx=2048, threads=args.threads)
    built = CONDENSE_MAX_TOKENS
    variants = {"offline": [], f"model, budget {built}": [], "model, no budget": []}
    rows = []
    for path in SETS:
        for q in read_golden(path):
            history = [(earlier, assistant.ask(earlier).text) for earlier in q.history]
            row = {"id": q.id, "question": q.question}
            offline = condense_offline(q.question, history)
            row["offline"] = {"text": offline, "hit": hit_at_5(assistant, offline, q.evidence)}
            for name, budget in ((f"model, budget {built}", built), ("model, no budget", 100_000)):
                result = model_rewrite(engine, q.question, history, budget)
                result["hit"] = hit_at_5(assistant, str(result["text"]), q.evidence)
                row[name] = result
            for name, results in variants.items():
                results.append(row[name])
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    summary = {}
    for name, results in variants.items():
        summary[name] = {"hit@5": round(sum(r["hit"] for r in results) / len(results), 3)}
        if name != "offline":
            summary[name] |= {
                "prompt_tokens_p50": statistics.median(r["read"] for r in results),
                "prompt_tokens_max": max(r["read"] for r in results),
                "added_ms_p50": round(statistics.median(r["ms"] for r in results)),
            }
    result = {"questions": len(rows), "model": args.model.name, "load_average": os.getloadavg(), "variants": summary, "rows": rows}
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
