"""The scale benchmark's re-indexing steps: what a user with a library pays to edit or add one document.

Run by ``bench_scale.py`` in a child process per size, on a copy of the built index and its corpus
(so the read-path measurements stay repeatable): an unchanged re-index (in-process and as the CLI
command), one edited document (the real report, one sentence inserted), one added document (the
report with every figure re-drawn: about 40 chunks of new text, embedded for real), then the cold
open of the retriever after the edit and a question that only the edit can answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_core import REPORT, timed

from assistant.service import Assistant
from assistant.settings import LlmSettings, PathSettings, Settings

ANCHOR = "虽然目前生成式人工智能主要应用于面向消费者的产品"
NEW_FACT = "青松资本于2026年向示例公司投资了77亿元人民币。"
QUESTION = "青松资本向示例公司投资了多少？"


def _step(assistant: Assistant) -> dict[str, object]:
    seconds, report = timed(assistant.index)
    counts = assistant.store.counts
    return {
        "wall_s": round(seconds, 2),
        "embedded": report.embedded,
        "chunks_added": report.chunks_added,
        "rows_written": counts.written,
        "rows_read": counts.read,
        "dead_rows_collected": counts.collected,
    }


def update(workdir: Path, size: int, vary) -> dict[str, object]:
    """Edit and add one document in the ``size`` library; ``vary`` re-draws figures (bench_scale.vary)."""
    index_dir, corpus_dir = workdir / f"n{size}-update", workdir / f"corpus-n{size}-update"
    for target, source in ((index_dir, workdir / f"n{size}"), (corpus_dir, workdir / f"corpus-n{size}")):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    settings = Settings(paths=PathSettings(corpus_dir=corpus_dir, index_dir=index_dir), llm=LlmSettings(provider="none"))
    assistant = Assistant(settings)
    assistant.embedder.query("预热 warm-up")  # the model load is not re-indexing
    unchanged = _step(assistant)
    env = {**os.environ, "ASSISTANT_PATHS__CORPUS_DIR": str(corpus_dir), "ASSISTANT_PATHS__INDEX_DIR": str(index_dir)}
    command_s, _ = timed(subprocess.run, [sys.executable, "-m", "assistant", "index"], env=env, check=True,
                         capture_output=True)
    report = corpus_dir / REPORT.name
    text = report.read_text(encoding="utf-8")
    report.write_text(text.replace(ANCHOR, NEW_FACT + ANCHOR, 1), encoding="utf-8")
    edited = _step(assistant)
    reader = Assistant(settings, embedder=assistant.embedder)  # another Assistant, as a server beside the indexer
    open_s, _ = timed(reader.retriever)
    ask_s, answer = timed(reader.ask, QUESTION)
    (corpus_dir / "added").mkdir(exist_ok=True)
    (corpus_dir / "added" / "report-redrawn.txt").write_text(vary(text, np.random.default_rng(7)), encoding="utf-8")
    added = _step(assistant)
    return {
        "unchanged": unchanged,
        "unchanged_command_s": round(command_s, 2),
        "edit_one_document": edited,
        "add_one_document": added,
        "open_after_edit_s": round(open_s, 2),  # includes building BM25 for the new generation
        "edit_answered": any("77亿元" in c.quote for c in answer.citations),
        "first_ask_after_edit_ms": round(1000 * ask_s, 1),
        "check_problems_after_updates": len(Assistant(settings, embedder=assistant.embedder).check()),
    }
