"""Re-indexing benchmark (not a test): full rebuild, no-change run, one-paragraph edit.

Run with `make bench`. Writes benchmarks/results/index.json. The no-change run is
timed both in-process and as the `assistant index` command a user types
(which also pays for Python start-up and imports).
"""

from __future__ import annotations

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

from assistant.service import Assistant
from assistant.settings import PathSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "corpus" / "genai-enterprise-report.zh.txt"
ANCHOR = "虽然目前生成式人工智能主要应用于面向消费者的产品"
EDIT = "青松资本于2026年向示例公司投资了77亿元人民币。"


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        shutil.copy(REPORT, corpus / REPORT.name)
        settings = Settings(paths=PathSettings(corpus_dir=corpus, index_dir=work / "index"))
        assistant = Assistant(settings)
        assistant.embedder.query("warm up")  # model load is not indexing time

        rebuild_s, rebuild = timed(lambda: assistant.index(rebuild=True))
        noop = [timed(assistant.index) for _ in range(5)]
        env = {**os.environ, "ASSISTANT_PATHS__CORPUS_DIR": str(corpus), "ASSISTANT_PATHS__INDEX_DIR": str(work / "index")}
        cli = [sys.executable, "-m", "assistant", "index", "--json"]
        cli_noop = [timed(lambda: subprocess.run(cli, env=env, check=True, capture_output=True))[0] for _ in range(3)]

        text = REPORT.read_text(encoding="utf-8")
        (corpus / REPORT.name).write_text(text.replace(ANCHOR, EDIT + ANCHOR, 1), encoding="utf-8")
        edit_s, edit = timed(assistant.index)
        changed = [c.text for c in assistant.retriever().chunks.values() if EDIT in c.text]
        embed_only_s, _ = timed(lambda: assistant.embedder.passages(changed))

        results = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "full_rebuild": {"seconds": round(rebuild_s, 2), "chunks": rebuild.chunks, "embedded": rebuild.embedded},
            "no_change": {
                "in_process_median_s": round(statistics.median(t for t, _ in noop), 3),
                "cli_median_s": round(statistics.median(cli_noop), 2),
                "embedded": noop[-1][1].embedded,
            },
            "one_paragraph_edit": {
                "seconds": round(edit_s, 2),
                "chunks_added": edit.chunks_added,
                "chunks_removed": edit.chunks_removed,
                "embedded_texts": edit.embedded,
                "embedding_of_changed_chunks_s": round(embed_only_s, 2),
            },
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / "index.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
