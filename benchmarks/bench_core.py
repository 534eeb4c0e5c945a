"""Core benchmark (not a test): index build time vs pure embedding, warm ask latency, and the plain LangChain recipe.

Run with `make bench`. Writes benchmarks/results/core.json and prints a summary.
All numbers come from one run on this machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from assistant.evaluate import read_golden
from assistant.indexing.embed import E5Embeddings
from assistant.ingest.chunk import normalize
from assistant.service import Assistant
from assistant.settings import LlmSettings, PathSettings, Settings
from assistant.types import IndexReport

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"
REPORT = ROOT / "corpus" / "genai-enterprise-report.zh.txt"
T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hit_at_5(retrieved_texts: list[list[str]], questions) -> dict[str, float]:
    by_lang: dict[str, list[int]] = {}
    for texts, q in zip(retrieved_texts, questions):
        hit = any(normalize(e) in normalize(t) for t in texts for e in q.evidence)
        by_lang.setdefault(q.lang, []).append(int(hit))
    return {lang: round(sum(v) / len(v), 3) for lang, v in sorted(by_lang.items())}


def timed(fn: Callable[..., T], *args: object, **kwargs: object) -> tuple[float, T]:
    """Seconds taken by one call, and its result."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def embedded_texts(assistant: Assistant) -> tuple[list[str], list[str]]:
    """What a full rebuild embeds, in its order: each distinct chunk text, then each distinct sentence text."""
    retriever = assistant.retriever()
    index = retriever.sentences
    chunk_texts = list(dict.fromkeys(c.text for c in retriever.chunks.values()))
    sentences = (
        sentence
        for chunk_id in retriever.chunks
        for sentence in sorted((index.sentences[i] for i in index.by_chunk.get(chunk_id, [])), key=lambda s: s.start)
    )
    return chunk_texts, list(dict.fromkeys(s.text for s in sentences))


def index_vs_embedding(assistant: Assistant) -> tuple[IndexReport, dict[str, object]]:
    """Full in-process `assistant index --rebuild` against embedding exactly its texts: the pipeline's own overhead."""
    index_s, report = timed(assistant.index, rebuild=True)
    chunk_texts, sentence_texts = embedded_texts(assistant)
    if len(chunk_texts) + len(sentence_texts) != report.embedded:
        raise RuntimeError(f"rebuild embedded {report.embedded} texts, the index holds {len(chunk_texts) + len(sentence_texts)}")
    chunks_s, _ = timed(assistant.embedder.passages, chunk_texts)
    sentences_s, _ = timed(assistant.embedder.passages, sentence_texts)
    embed_s = chunks_s + sentences_s
    return report, {
        "texts": report.embedded,
        "index_rebuild_s": round(index_s, 2),
        "embedding_only_s": round(embed_s, 2),
        "overhead_s": round(index_s - embed_s, 2),
        "ratio_index_vs_embedding": round(index_s / embed_s, 3),
    }


def langchain_recipe(workdir: Path, embeddings: E5Embeddings, questions) -> dict[str, object]:
    """RecursiveCharacterTextSplitter 1000/200 + Chroma + the same E5 model, top-5 similarity search."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    text = REPORT.read_text(encoding="utf-8")
    started = time.perf_counter()
    docs = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).create_documents([text])
    store = Chroma.from_documents(docs, embeddings, persist_directory=str(workdir / "recipe"), collection_name="recipe")
    build = time.perf_counter() - started
    latencies, retrieved = [], []
    for q in questions:
        t = time.perf_counter()
        found = store.similarity_search(q.question, k=5)
        latencies.append(time.perf_counter() - t)
        retrieved.append([d.page_content for d in found])
    return {
        "chunks": len(docs),
        "build_seconds": round(build, 2),
        "hit@5": hit_at_5(retrieved, questions),
        "query_ms_p50": round(1000 * statistics.median(latencies), 1),
        "query_ms_p95": round(1000 * percentile(latencies, 0.95), 1),
    }


def main() -> None:
    questions = read_golden(GOLDEN)
    answerable = [q for q in questions if q.answerable]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "corpus").mkdir()
        shutil.copy(REPORT, workdir / "corpus" / REPORT.name)
        settings = Settings(paths=PathSettings(corpus_dir=workdir / "corpus", index_dir=workdir / "index"),
                            llm=LlmSettings(provider="none"))  # retrieval + the extractive answer: `auto` would generate
        assistant = Assistant(settings)
        model_load_s, _ = timed(assistant.embedder.query, "预热 warm-up")  # model load is not indexing time
        report, build = index_vs_embedding(assistant)
        assistant.ask("预热 warm-up")
        latencies, retrieved = [], []
        for q in questions:
            t = time.perf_counter()
            answer = assistant.ask(q.question)
            latencies.append(time.perf_counter() - t)
            if q.answerable:
                retrieved.append([h.chunk.text for h in answer.retrieved])
        ours = {
            "chunks": report.chunks,
            "sentences": report.sentences,
            "model_load_seconds": round(model_load_s, 2),
            "index_seconds": round(report.seconds, 2),
            "index_vs_embedding": build,
            "hit@5": hit_at_5(retrieved, answerable),
            "ask_ms_p50": round(1000 * statistics.median(latencies), 1),
            "ask_ms_p95": round(1000 * percentile(latencies, 0.95), 1),
        }
        recipe = langchain_recipe(workdir, assistant.embedder, answerable)
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}, {__import__('os').cpu_count()} cores",
        "questions": len(questions),
        "assistant": ours,
        "langchain_recipe": recipe,
        "latency_ratio_ask_vs_recipe_search_p50": round(ours["ask_ms_p50"] / max(recipe["query_ms_p50"], 0.001), 2),
    }
    out = ROOT / "benchmarks" / "results" / "core.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
