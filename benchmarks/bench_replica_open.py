"""Server-mode benchmark (not a test): how long a new app server takes to open a library on a Chroma server.

Writes bench_scale's synthetic library (real report sentences, E5 vectors plus noise) to a ``chroma run`` server
started here on loopback, twice: once with each row's BM25 tokens stored beside it (what ``assistant index`` does
now) and once without (an index written before). Then, per library, opens it ``--opens`` times from an app server
with an empty local folder (``Assistant.retriever``: rows from Chroma, BM25 built, sentence index prepared) and asks
one question. Medians, and the ratio of the two, go to benchmarks/results/replica_open.json.

    .venv/bin/python benchmarks/bench_replica_open.py [--size 10000] [--opens 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chromadb  # noqa: E402
from bench_scale import load_material, prepare_report, synthesize  # noqa: E402

from assistant.indexing.embed import make_embedder  # noqa: E402
from assistant.indexing.lexical import tokenize  # noqa: E402
from assistant.indexing.store.chunks import ChunkStore  # noqa: E402
from assistant.indexing.store.rows import row_id, sentence_layout  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import LlmSettings, PathSettings, Settings, StoreSettings  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "replica_open.json"
CHROMA = Path(sys.executable).with_name("chroma")
QUESTION = "微软对OpenAI的投资金额是多少？"


def chroma_server(data: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            return server
        except Exception:  # noqa: BLE001 - not up yet
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def settings(url: str, collection: str, index_dir: Path, corpus: Path) -> Settings:
    return Settings(paths=PathSettings(corpus_dir=corpus, index_dir=index_dir), llm=LlmSettings(provider="none"),
                    store=StoreSettings(chroma_url=url, collection=collection))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-replica-"))
    server = chroma_server(workdir / "chroma", args.port)
    url = f"http://127.0.0.1:{args.port}"
    try:
        prepare_report(workdir)
        library = synthesize(load_material(workdir / "report" / "index"), args.size)
        corpus = workdir / "corpus"
        by_chunk: dict[str, list] = {}
        for sentence in library.sentences:
            by_chunk.setdefault(sentence.chunk_id, []).append(sentence)
        rows = [row_id(c, sentence_layout(c, by_chunk.get(c.id, []))) for c in library.chunks]
        started = time.perf_counter()
        tokens = {row: tokenize(c.text) for row, c in zip(rows, library.chunks)}
        tokenize_s = time.perf_counter() - started
        result: dict[str, object] = {"chunks": len(library.chunks), "sentences": len(library.sentences),
                                     "indexer_tokenize_s": round(tokenize_s, 1)}
        for name, stored in (("with_tokens", tokens), ("without_tokens", {})):
            writer = settings(url, name.replace("_", "-"), workdir / f"writer-{name}", corpus)
            fingerprint = writer.index_fingerprint(make_embedder(writer.embed).identity)
            store = ChunkStore(writer.paths.index_dir, writer.store.collection, url)
            store.write(fingerprint, library.documents, library.chunks, library.chunk_vectors, library.sentences,
                        library.sentence_vectors, tokens=stored)
            opens, asks = [], []
            for n in range(args.opens):
                replica = Assistant(settings(url, writer.store.collection, workdir / f"replica-{name}-{n}", corpus))
                began = time.perf_counter()
                replica.retriever()
                opens.append(time.perf_counter() - began)
                began = time.perf_counter()
                replica.ask(QUESTION)
                asks.append(time.perf_counter() - began)
                replica.close()
            result[name] = {"open_s": [round(s, 2) for s in opens], "open_p50_s": round(statistics.median(opens), 2),
                            "first_ask_p50_ms": round(1000 * statistics.median(asks), 1)}
        result["open_ratio_without_to_with"] = round(result["without_tokens"]["open_p50_s"] / result["with_tokens"]["open_p50_s"], 2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    result["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                         f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
