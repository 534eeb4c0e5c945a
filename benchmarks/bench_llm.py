"""Local-model prompt benchmark (not a test): whole chunks vs evidence windows, and the system prompt's KV cache.

Prompt size is the first-token time of a CPU model, so each variant's prompt goes to the real engine
with ``max_tokens=1`` and the engine's own timings are recorded: tokens read (``prompt_n``), tokens
reused from the cache (``cache_n``) and milliseconds. Variants are interleaved per question so a
noisy shared machine slows them alike; compare medians and ratios, not absolutes.

    .venv/bin/python benchmarks/bench_llm.py --questions 4 --budgets 300 450 700

Writes benchmarks/results/llm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from assistant.answering.compose.extractive import rank_sentences
from assistant.answering.generate.llm import load_engine
from assistant.answering.generate.prompts import build_messages
from assistant.answering.evidence.windows import select_windows
from assistant.evaluate import per_language, read_golden
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.types import Chunk

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"


def prompt_timings(engine, question: str, language: str, sources: list[Chunk], *, cache: bool) -> dict[str, float]:
    """Read one prompt (and generate one token); the engine reports what it read and how long it took."""
    messages = [{"role": role, "content": text} for role, text in build_messages(question, language, sources)]
    response = engine.handle_chat_completions({"messages": messages, "max_tokens": 1, "cache_prompt": cache})
    timings = response.get("timings", {})
    return {"read": timings.get("prompt_n", 0), "cached": timings.get("cache_n", 0), "ms": timings.get("prompt_ms", 0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4, help="answerable questions per language")
    parser.add_argument("--budgets", type=int, nargs="+", default=[300, 450, 700])
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: llm.model_path)")
    args = parser.parse_args()
    settings = Settings()
    assistant = Assistant(settings)
    retriever = assistant.retriever()
    questions = per_language([q for q in read_golden(GOLDEN) if q.answerable], args.questions)
    engine = load_engine(args.model or settings.llm.model_path, n_ctx=4096, threads=settings.llm.threads or 2)
    variants = ["chunks", *(f"windows-{b}" for b in args.budgets), f"windows-{args.budgets[-2]}+cache"]
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for q in questions:
        prepared = retriever.prepare(q.question, q.lang, assistant.embedder.query(q.question))
        hits = retriever.search(prepared, settings.retrieve.k)[: settings.llm.sources]
        ranked = rank_sentences(prepared, hits, retriever.sentences)
        sources = {"chunks": [h.chunk for h in hits]}
        for budget in args.budgets:
            windows = select_windows(ranked, retriever.sentences, budget_tokens=budget, query_tokens=prepared.tokens)
            sources[f"windows-{budget}"] = [w.source for w in windows]
        for variant in variants:
            name = variant.removesuffix("+cache")
            if variant.endswith("+cache"):  # an earlier question (same language) left the system prompt in the cache
                prompt_timings(engine, "?", q.lang, [], cache=True)
            rows[variant].append(prompt_timings(engine, q.question, q.lang, sources[name], cache=variant.endswith("+cache")))
    summary = {
        v: {
            "prompt_tokens_p50": statistics.median(r["read"] + r["cached"] for r in runs),
            "tokens_read_p50": statistics.median(r["read"] for r in runs),
            "prompt_ms_p50": round(statistics.median(r["ms"] for r in runs)),
        }
        for v, runs in rows.items()
    }
    base = summary["chunks"]["prompt_ms_p50"] or 1
    for values in summary.values():
        values["ms_ratio_to_chunks"] = round(values["prompt_ms_p50"] / base, 3)
    result = {"questions": len(questions), "load_average": os.getloadavg(), "variants": summary}
    (ROOT / "benchmarks" / "results" / "llm.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
