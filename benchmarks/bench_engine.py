"""Local-engine benchmark (not a test): llama.cpp settings for 2 CPU cores, on the prompts the app really sends.

Each variant loads its own engine; every question is put to all of them in turn (languages
alternating, as in a mixed audience; the variant order rotating), with the evidence-window prompts
``Assistant`` builds, so a change in the machine's load hits every variant alike. The engine's own timings
are recorded: prompt tokens read and reused from cache, prompt and generation milliseconds,
generated tokens, and the wall time of the whole answer. Variants:

- ``baseline``: the default: two slots sharing one KV buffer, idle slots kept, so the Chinese answering prompt's and
  the English translation prompt's fixed system prompts both stay cached;
- ``one-slot``: the earlier default, one slot with the prompt cache (each language switch reads the system prompt again);
- ``ngram``: speculative decoding that drafts from n-grams already in the prompt (answers copy figures and names);
- ``draft-0.5b``: speculative decoding with the 0.5B model as draft for the 1.5B;
- ``threads-1`` / ``batch-128``: fewer threads, smaller prompt batches.

    .venv/bin/python benchmarks/bench_engine.py --questions 3 --variants baseline one-slot ngram draft-0.5b
    .venv/bin/python benchmarks/bench_engine.py --questions 6 --variants baseline one-slot --max-tokens 1  # prompt only

Writes benchmarks/results/engine.json. Compare medians within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import xllamacpp

from assistant.answering.generate.llm import engine_params, start_engine
from assistant.answering.generate.models import MODELS
from assistant.answering.generate.prompts import build_messages
from assistant.evaluate import read_golden
from assistant.service import Assistant
from assistant.settings import MODELS_DIR, Settings

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"
OUT = ROOT / "benchmarks" / "results" / "engine.json"
SPECULATIVE = xllamacpp.common_speculative_type


def one_slot(params: xllamacpp.CommonParams) -> None:
    params.n_parallel = 1
    params.kv_unified = False
    params.cache_idle_slots = True


def ngram(params: xllamacpp.CommonParams) -> None:
    params.speculative.types = [SPECULATIVE.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]


def draft(params: xllamacpp.CommonParams) -> None:
    params.speculative.types = [SPECULATIVE.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    params.speculative.draft.mparams.path = str(MODELS_DIR / MODELS["0.5b"].filename)


def one_thread(params: xllamacpp.CommonParams) -> None:
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1


def small_batch(params: xllamacpp.CommonParams) -> None:
    params.n_batch = params.n_ubatch = 128


VARIANTS: dict[str, Callable[[xllamacpp.CommonParams], None]] = {
    "baseline": lambda params: None,
    "one-slot": one_slot,
    "ngram": ngram,
    "draft-0.5b": draft,
    "threads-1": one_thread,
    "batch-128": small_batch,
}


def prompts(settings: Settings, per_language: int) -> list[list[dict[str, str]]]:
    """The chat messages the app sends for answerable dev questions (English ones: the quotes' translation), alternating."""
    assistant = Assistant(settings)
    questions = [q for q in read_golden(GOLDEN) if q.answerable]
    by_language = {lang: [q for q in questions if q.lang == lang][:per_language] for lang in ("en", "zh")}
    ordered = [q for pair in zip(by_language["en"], by_language["zh"]) for q in pair]
    messages = []
    for q in ordered:
        _, extractive, windows, _ = assistant._answer_offline(q.question, q.question, None, 0.0)
        sources = [w.source for w in windows]
        chat = assistant._quotes_translation(extractive, windows) or build_messages(extractive.query, extractive.language, sources)
        messages.append([{"role": r, "content": c} for r, c in chat])
    return messages


def load_variant(name: str, settings: Settings) -> xllamacpp.Server:
    llm = settings.llm
    params = engine_params(llm.model_path, n_ctx=llm.n_ctx, threads=llm.threads, batch=llm.batch)
    VARIANTS[name](params)
    return start_engine(params)


def answer(engine: xllamacpp.Server, messages: list[dict[str, str]], settings: Settings) -> dict[str, float | str]:
    """One greedy answer (temperature 0, so every variant must write the same text) and the engine's timings."""
    llm = settings.llm
    started = time.perf_counter()
    response = engine.handle_chat_completions({"messages": messages, "max_tokens": llm.max_tokens, "temperature": 0.0})
    wall = time.perf_counter() - started
    t = response.get("timings", {})
    return {
        "read": t.get("prompt_n", 0), "cached": t.get("cache_n", 0), "prompt_ms": t.get("prompt_ms", 0.0),
        "generated": t.get("predicted_n", 0), "generation_ms": t.get("predicted_ms", 0.0), "wall_s": wall,
        "drafted": t.get("draft_n", 0), "accepted": t.get("draft_n_accepted", 0),
        "text": response["choices"][0]["message"]["content"],
    }


def run_interleaved(names: list[str], settings: Settings, batch: list[list[dict[str, str]]]) -> dict[str, list[dict]]:
    """Every question on every variant's engine, the variant order rotating, so load changes hit all alike."""
    engines = {name: load_variant(name, settings) for name in names}
    rows: dict[str, list[dict]] = {name: [] for name in names}
    for i, messages in enumerate(batch):
        for name in names[i % len(names):] + names[: i % len(names)]:
            rows[name].append(answer(engines[name], messages, settings))
    return rows


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 1)

    generated = sum(r["generated"] for r in rows)
    return {
        "answers": len(rows),
        "tokens_read_p50": median("read"),
        "tokens_cached_p50": median("cached"),
        "prompt_ms_p50": median("prompt_ms"),
        "prompt_ms_p50_en": round(statistics.median(r["prompt_ms"] for r in rows[0::2]), 1),  # questions alternate en, zh
        "prompt_ms_p50_zh": round(statistics.median(r["prompt_ms"] for r in rows[1::2]), 1),
        "generated_tokens_p50": median("generated"),
        "generation_tokens_per_s": round(1000 * generated / max(sum(r["generation_ms"] for r in rows), 1), 2),
        "wall_s_p50": median("wall_s"),
        "draft_acceptance": round(sum(r["accepted"] for r in rows) / max(sum(r["drafted"] for r in rows), 1), 3),
    }


def same_text(rows: list[dict], baseline: list[dict]) -> float:
    """Share of answers identical to the baseline's: speculative decoding must not change greedy output."""
    return round(sum(r["text"] == b["text"] for r, b in zip(rows, baseline)) / max(len(rows), 1), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=3, help="answerable questions per language")
    parser.add_argument("--variants", nargs="+", default=["baseline", "one-slot", "ngram", "draft-0.5b"], choices=list(VARIANTS))
    parser.add_argument("--max-tokens", type=int, default=None, help="tokens per answer (1: prompt reading only)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    settings = Settings(llm={"provider": "local", **({"max_tokens": args.max_tokens} if args.max_tokens else {})})
    batch = prompts(settings, args.questions)
    result = {"load_average_before": os.getloadavg(), "variants": {}}
    names = ["baseline"] + [name for name in args.variants if name != "baseline"]
    rows = run_interleaved(names, settings, batch)
    for name in names:
        result["variants"][name] = summarise(rows[name]) | {"same_text_as_baseline": same_text(rows[name], rows["baseline"])}
        print(name, result["variants"][name], flush=True)
    result["load_average_after"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
