"""Scale benchmark (not a test): retrieval and answer latency at the report's size, 10k and 100k chunks.

Embedding 100k chunks and their 900k sentences is out of reach on a CPU (the report's
518 texts take about 20 s, so a million would take about 11 hours), so the larger
indexes are synthetic but made of real material: each synthetic chunk is a run of 8-10
real report sentences (from one report chunk, topped up from others) with figures
re-drawn and company names swapped, so jieba, BM25 and the answerer see realistic
Chinese text. Vectors are the real E5 vectors of the source chunk and sentences plus
Gaussian noise, re-normalised. The real report's own chunks are always included, so
the dev-set questions keep their true answers. Indexes are written with the real
``ChunkStore.write`` and opened with the real ``Assistant``.

Each size is built in one child process and measured in another, so peak RSS is per
size and separates the build from the serving process.

    .venv/bin/python benchmarks/bench_scale.py [--sizes report,10000,100000] [--workdir DIR]

A ``--workdir`` keeps the built indexes; a later run with the same folder measures them
again without rebuilding, and leaves each size's rankings (dense, BM25, sentence vectors)
and answers per question in ``answers.json`` there, to check that a code change kept the
results on identical data. Chroma's HNSW results can differ between two processes opening
the same index (seen at 10k chunks), and answers with them; the BM25 and sentence rankings
must not. Writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from bench_core import GOLDEN, REPORT, ROOT, percentile, timed
from scale_updates import update

from assistant.answering.compose.extractive import compose_offline
from assistant.evaluate import read_golden
from assistant.indexing.embed import make_embedder
from assistant.indexing.lexical import tokenize
from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.store.chunks import ChunkStore
from assistant.ingest.chunk import chunk_id
from assistant.ingest.load import file_digest
from assistant.language import detect_language
from assistant.retrieval.sentences import SentenceIndex
from assistant.service import Assistant
from assistant.settings import LlmSettings, PathSettings, Settings
from assistant.types import Chunk, Sentence

OUT = ROOT / "benchmarks" / "results" / "scale.json"

SEED = 20240601
CHUNKS_PER_DOCUMENT = 1000  # a long report (~500 pages) per synthetic document
SENTENCES_PER_CHUNK = (8, 10)
NOISE = 0.35  # norm of the Gaussian perturbation added to a unit vector before re-normalising
NAME_SWAP_SHARE = 0.7  # share of company-name mentions replaced by another name
NAMES = ["OpenAI", "NVIDIA", "Google", "Anthropic", "Microsoft", "Amazon", "Deloitte", "Grammarly", "Jasper",
         "Midjourney", "Lensa", "微软", "谷歌", "亚马逊", "英伟达"]
NEW_NAMES = ["Nimbus", "Aurora Labs", "Helix", "Corvid", "Tessellate", "Quanta", "Lumen AI", "Brightwave",
             "星河科技", "远山智能", "青松资本", "云杉数据", "赤霄", "蓝鲸计算", "北辰", "知行"]
NAME_RE = re.compile("|".join(re.escape(n) for n in NAMES))
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def rss_mb() -> float:
    """Resident memory now (Linux): what a serving process keeps after the transient peak of opening the index."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return round(resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {"p50": round(1000 * statistics.median(seconds), 2), "p95": round(1000 * percentile(seconds, 0.95), 2)}


def settings_for(workdir: Path, index_dir: Path, corpus_dir: Path | None = None) -> Settings:
    # offline answers: the targets are retrieval and extractive latency, and a local model would add its ~1 GB and seconds
    return Settings(paths=PathSettings(corpus_dir=corpus_dir or workdir / "corpus", index_dir=index_dir), llm=LlmSettings(provider="none"))


# -- synthetic material ------------------------------------------------------------------------


@dataclass
class Material:
    """The real report index: the source of every synthetic text and vector."""

    documents: dict[str, DocumentRecord]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentences: list[Sentence]
    sentence_vectors: np.ndarray

    def sentence_rows(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {c.id: [] for c in self.chunks}
        for i, sentence in enumerate(self.sentences):
            rows[sentence.chunk_id].append(i)
        return rows


def vary(text: str, rng: np.random.Generator) -> str:
    """Re-draw every figure (same number of digits, years stay years) and swap most company names."""

    def number(match: re.Match[str]) -> str:
        digits = match.group()
        if re.fullmatch(r"(19|20)\d\d", digits):
            return str(rng.integers(1990, 2036))
        whole = digits.split(".")[0]
        low = 10 ** (len(whole) - 1) if len(whole) > 1 else 0
        drawn = str(rng.integers(low, 10 ** len(whole)))
        return drawn + ("." + str(rng.integers(0, 10)) if "." in digits else "")

    def name(match: re.Match[str]) -> str:
        return str(rng.choice(NEW_NAMES)) if rng.random() < NAME_SWAP_SHARE else match.group()

    return NAME_RE.sub(name, NUMBER_RE.sub(number, text))


def perturb(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(NOISE / np.sqrt(vectors.shape[1]))
    out = vectors + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


@dataclass
class Library:
    """Everything ``ChunkStore.write`` takes, plus how close the noisy vectors stay to their sources."""

    documents: dict[str, DocumentRecord]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    source_similarity: float | None  # mean cosine of a synthetic chunk vector and its real source
    texts: dict[str, str]  # each synthetic document's text, written to the corpus so a re-index sees it unchanged


def synthetic_chunk(
    material: Material, rows: dict[str, list[int]], doc_id: str, ordinal: int, offset: int, rng: np.random.Generator
) -> tuple[Chunk, list[Sentence], int, list[int]]:
    """One chunk of 8-10 varied report sentences at ``offset``, with the indexes of its source chunk and sentences."""
    base = int(rng.integers(len(material.chunks)))
    want = int(rng.integers(SENTENCES_PER_CHUNK[0], SENTENCES_PER_CHUNK[1] + 1))
    own = rows[material.chunks[base].id]
    first = int(rng.integers(max(1, len(own) - want + 1)))
    picked = own[first : first + want]
    picked += [int(i) for i in rng.integers(len(material.sentences), size=want - len(picked))]
    texts = [vary(material.sentences[i].text, rng) for i in picked]
    text = "".join(texts)
    source = material.chunks[base]
    chunk = Chunk(chunk_id(doc_id, text, ordinal), doc_id, text, offset, offset + len(text), ordinal,
                  ordinal // 2 + 1, source.section, source.heading)
    sentences, position = [], offset
    for sentence_text in texts:
        sentences.append(Sentence(chunk.id, sentence_text, position, position + len(sentence_text), chunk.page))
        position += len(sentence_text)
    return chunk, sentences, base, picked


def synthesize(material: Material, size: int, seed: int = SEED) -> Library:
    """The real report rows, then ``size - len(report)`` synthetic chunks in documents of 1000 chunks each."""
    rng = np.random.default_rng(seed)
    rows = material.sentence_rows()
    documents = dict(material.documents)
    chunks, sentences = list(material.chunks), list(material.sentences)
    chunk_sources: list[int] = []
    sentence_sources: list[int] = []
    texts: dict[str, str] = {}
    synthetic = max(0, size - len(material.chunks))
    for first in range(0, synthetic, CHUNKS_PER_DOCUMENT):
        doc_id = f"synthetic/library-{first // CHUNKS_PER_DOCUMENT:04d}.txt"
        offset, ids = 0, []
        for ordinal in range(min(CHUNKS_PER_DOCUMENT, synthetic - first)):
            chunk, chunk_sentences, base, picked = synthetic_chunk(material, rows, doc_id, ordinal, offset, rng)
            chunks.append(chunk)
            sentences.extend(chunk_sentences)
            chunk_sources.append(base)
            sentence_sources.extend(picked)
            ids.append(chunk.id)
            offset = chunk.end
        text = "".join(c.text for c in chunks[-len(ids):])
        documents[doc_id] = DocumentRecord(sha256=file_digest(text.encode("utf-8")), chunks=len(ids), chunk_ids=tuple(ids),
                                           characters=offset, pages=len(ids) // 2 + 1, indexed_at=time.time())
        texts[doc_id] = text
    sources = material.chunk_vectors[chunk_sources]
    noisy = perturb(sources, rng)
    return Library(
        documents,
        chunks,
        np.vstack([material.chunk_vectors, noisy]),
        sentences,
        np.vstack([material.sentence_vectors, perturb(material.sentence_vectors[sentence_sources], rng)]),
        round(float(np.mean(np.sum(noisy * sources, axis=1))), 3) if len(noisy) else None,
        texts,
    )


def load_material(report_index: Path) -> Material:
    store = ChunkStore(report_index)
    manifest = store.manifest()
    stored = store.load_chunks(manifest)
    chunk_by_text, sentence_by_text = store.stored_vectors(manifest, manifest.rows())
    chunks = [s.chunk for s in stored]
    sentences = [sentence for s in stored for sentence in s.sentences()]
    return Material(manifest.documents, chunks, np.vstack([chunk_by_text[c.text] for c in chunks]), sentences,
                    np.vstack([sentence_by_text[x.text] for x in sentences]))


# -- child processes ---------------------------------------------------------------------------


def build(workdir: Path, size: int) -> dict[str, object]:
    """Write the index of ``size`` chunks through the real store; peak RSS is this process's."""
    material = load_material(workdir / "report" / "index")
    generate_s, library = timed(synthesize, material, size)
    settings = settings_for(workdir, workdir / f"n{size}", workdir / f"corpus-n{size}")
    fingerprint = settings.index_fingerprint(make_embedder(settings.embed).identity)
    shutil.rmtree(settings.paths.index_dir, ignore_errors=True)
    shutil.rmtree(settings.paths.corpus_dir, ignore_errors=True)
    shutil.copytree(workdir / "corpus", settings.paths.corpus_dir)
    for doc_id, text in library.texts.items():
        (settings.paths.corpus_dir / doc_id).parent.mkdir(parents=True, exist_ok=True)
        (settings.paths.corpus_dir / doc_id).write_text(text, encoding="utf-8")
    store = ChunkStore(settings.paths.index_dir)
    write_s, _ = timed(store.write, fingerprint, library.documents, library.chunks, library.chunk_vectors,
                       library.sentences, library.sentence_vectors)
    rows = len(library.chunks) + len(library.sentences)
    return {
        "chunks": len(library.chunks),
        "synthetic_chunks": len(library.chunks) - len(material.chunks),
        "sentences": len(library.sentences),
        "documents": len(library.documents),
        "characters": sum(len(c.text) for c in library.chunks),
        "vector_source_similarity": library.source_similarity,
        "generate_s": round(generate_s, 2),
        "chroma_build_s": round(write_s, 2),
        "chroma_rows_per_s": round(rows / write_s),
        "build_peak_rss_mb": peak_rss_mb(),
        "build_load_average": os.getloadavg()[0],
    }


def sentence_search_recall(sentences: SentenceIndex, vectors: np.ndarray, k: int = 10) -> tuple[float, float]:
    """The share of each question's exact top ``k`` live sentences (all vectors scored, in blocks) that the sentence
    search returns, and its top ``k``'s summed score over the exact one's: how much the sign-code ranking before
    exact re-scoring loses (nothing below 4,096 sentences; near-duplicates cost recall, not score)."""
    ids = [sentences._id(i) for i in range(len(sentences))]
    best = np.full((len(vectors), k), -np.inf, dtype=np.float32)
    where = np.zeros((len(vectors), k), dtype=np.int64)
    for start in range(0, len(ids), 5000):
        scores = (sentences.source.vectors(ids[start : start + 5000]) @ vectors.T).T
        merged = np.hstack([best, scores])
        positions = np.hstack([where, np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)])
        top = np.argsort(-merged, axis=1, kind="stable")[:, :k]
        best, where = np.take_along_axis(merged, top, 1), np.take_along_axis(positions, top, 1)
    found = [sentences.source.nearest(vector, k) for vector in vectors]
    recall = np.mean([len(set(got) & {ids[i] for i in exact}) / k for (got, _), exact in zip(found, where.tolist())])
    ratio = np.mean([float((got @ vector).sum() / best[q].sum()) for q, ((_, got), vector) in enumerate(zip(found, vectors))])
    return float(recall), float(ratio)


def measure(workdir: Path, size: int) -> dict[str, object]:
    """Latency per component over the dev-set questions, on the index built for ``size``."""
    questions = [q.question for q in read_golden(GOLDEN)]
    settings = settings_for(workdir, workdir / f"n{size}", workdir / f"corpus-n{size}")
    embedder = make_embedder(settings.embed)
    warm_s, _ = timed(lambda: (embedder.query("预热 warm-up"), tokenize("预热模型")))  # model loads are not search
    for cache in settings.paths.index_dir.glob("bm25-*"):
        shutil.rmtree(cache)
    for cache in ("tokens.npz", "rows.npz"):  # derived caches too: the first open reads and tokenises every row
        (settings.paths.index_dir / cache).unlink(missing_ok=True)
    first = Assistant(settings, embedder=embedder)
    load_s = timed(first.retriever)[0]  # first open: reads Chroma, builds BM25 and the caches
    first.close()  # its Chroma instance holds its own HNSW copy: measure one open, as a restarted server
    del first
    gc.collect()  # the retriever and its Assistant refer to each other: free them before the next open
    assistant = Assistant(settings, embedder=embedder)
    cached_load_s, retriever = timed(assistant.retriever)  # what a restarted server pays: BM25 from its cache
    cold_s, _ = timed(assistant.ask, questions[0])
    n, k = settings.retrieve.candidates, settings.retrieve.k
    sentences = retriever.sentences
    compose = partial(compose_offline, sentences=sentences, min_evidence=settings.answer.min_evidence,
                      max_quotes=settings.answer.max_quotes, vocabulary=retriever.vocabulary,
                      is_common=retriever.is_common)

    times: dict[str, list[float]] = defaultdict(list)
    digest, question_vectors = [], []
    for question in questions:
        embed_s, vector = timed(assistant.embedder.query, question)
        question_vectors.append(vector)
        query = retriever.prepare(question, detect_language(question), vector)
        hits = retriever.search(query, k)
        calls = {
            "dense": (retriever.dense_search, vector, n),
            "bm25": (retriever.lexical.search, query.tokens, n),
            "sentence_vectors": (sentences.ranked_chunks, vector, n),
            "search": (retriever.search, query, k),
            "compose": (compose, question, query, hits),
            "retrieve": (assistant.retrieve, question),
        }
        results = {name: timed(fn, *args) for name, (fn, *args) in calls.items()}
        ask_s, answer = timed(assistant.ask, question)
        times["embed_query"].append(embed_s)
        for name, (seconds, _) in results.items():
            times[name].append(seconds)
        times["ask"].append(ask_s)
        digest.append({
            "dense": [cid for cid, _ in results["dense"][1]],
            "bm25": [cid for cid, _ in results["bm25"][1]],
            "sentence_vectors": results["sentence_vectors"][1],
            "answer": [answer.answerable, round(answer.evidence, 4), [c.chunk_id for c in answer.citations]],
        })
    rss_after = rss_mb()
    recall_s, (recall, score_ratio) = timed(sentence_search_recall, sentences, np.vstack(question_vectors))
    return {
        "questions": len(questions),
        "sentence_search_recall_at_10": round(recall, 4),  # measured after the memory: it reads every vector
        "sentence_search_score_ratio_at_10": round(score_ratio, 4),
        "sentence_search_recall_s": round(recall_s, 1),
        "warm_up_models_s": round(warm_s, 2),
        "retriever_load_s": round(load_s, 2),
        "retriever_load_bm25_cached_s": round(cached_load_s, 2),
        "first_ask_cold_ms": round(1000 * cold_s, 1),
        "warm_ms": {name: summary_ms(values) for name, values in times.items()},
        "serve_peak_rss_mb": peak_rss_mb(),
        "serve_rss_after_questions_mb": rss_after,
        "measure_load_average": os.getloadavg()[0],
        "answers": digest,
    }


# -- orchestration -----------------------------------------------------------------------------


def child(workdir: Path, role: str, size: int) -> dict[str, object]:
    out = workdir / f"n{size}-{role}.json"
    subprocess.run([sys.executable, __file__, "--child", role, "--size", str(size), "--workdir", str(workdir)],
                   check=True)
    return json.loads(out.read_text(encoding="utf-8"))


def prepare_report(workdir: Path) -> int:
    """Index the real report once (real embeddings): the material and the smallest size."""
    index_dir = workdir / "report" / "index"
    if not (index_dir / "manifest.json").exists():
        (workdir / "corpus").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPORT, workdir / "corpus" / REPORT.name)
        Assistant(settings_for(workdir, index_dir)).index(rebuild=True)
    return len(load_material(index_dir).chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="report,10000,100000", help="'report' = the real index (~42 chunks)")
    parser.add_argument("--workdir", type=Path, help="keep built indexes here and reuse them on the next run")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", choices=["build", "measure", "update"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        roles = {"build": build, "measure": measure, "update": partial(update, vary=vary)}
        result = roles[args.child](args.workdir, args.size)
        (args.workdir / f"n{args.size}-{args.child}.json").write_text(json.dumps(result), encoding="utf-8")
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        report_chunks = prepare_report(workdir)
        sizes = [report_chunks if s == "report" else int(s) for s in args.sizes.split(",")]
        results = []
        for size in sizes:
            built = workdir / f"n{size}-build.json"
            stats = json.loads(built.read_text(encoding="utf-8")) if built.exists() else child(workdir, "build", size)
            stats |= child(workdir, "measure", size)
            stats |= child(workdir, "update", size)
            print(json.dumps({"size": size, **{k: v for k, v in stats.items() if k != "answers"}}), flush=True)
            results.append(stats)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    output = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end of the run",
        "synthetic_data": {
            "texts": f"runs of {SENTENCES_PER_CHUNK[0]}-{SENTENCES_PER_CHUNK[1]} real report sentences with figures "
            f"re-drawn and {NAME_SWAP_SHARE:.0%} of company names swapped; {CHUNKS_PER_DOCUMENT} chunks per document; "
            "the real report's chunks included",
            "vectors": f"real E5 vectors of the source chunk / sentences + Gaussian noise of norm {NOISE}, re-normalised",
            "seed": SEED,
        },
        "measured": "warm: the dev-set questions, each once, after one cold ask; dense, bm25, sentence_vectors and "
        "search (the fused hybrid retrieval) take a precomputed query vector; compose = compose_offline on the "
        "retrieved hits; retrieve and ask (offline) include embedding the question, which is CPU-bound and slows "
        "down most when other processes compete for the cores",
        "sizes": [{k: v for k, v in r.items() if k != "answers"} for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.workdir:
        (args.workdir / "answers.json").write_text(json.dumps({str(s): r["answers"] for s, r in zip(sizes, results)}))


if __name__ == "__main__":
    main()
