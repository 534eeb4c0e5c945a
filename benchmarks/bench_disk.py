"""Disk benchmark (not a test): the index folder's size through an add-then-remove cycle.

Builds the report's index in a temporary folder, adds one document (the report with every figure
re-drawn: about 43 chunks and 414 sentences of new text, embedded for real), removes it again, and
runs one more ``index``; after each step it records the bytes the index folder takes on disk, the
Chroma segment folders and the SQLite file's free pages. Writes benchmarks/results/disk.json.

    .venv/bin/python benchmarks/bench_disk.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np
from bench_core import REPORT, ROOT
from bench_scale import vary

from assistant.service import Assistant
from assistant.settings import PathSettings, Settings

OUT = ROOT / "benchmarks" / "results" / "disk.json"


def folder_state(index_dir: Path) -> dict[str, object]:
    """Bytes on disk (allocated blocks) of the index folder, its segment folders, and SQLite's free pages."""
    allocated = sum(p.stat().st_blocks * 512 for p in index_dir.rglob("*") if p.is_file())
    chroma = index_dir / "chroma"
    folders = [p for p in chroma.iterdir() if p.is_dir()]
    with closing(sqlite3.connect(f"{(chroma / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True)) as db:
        pages, free = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count"))
        collections = db.execute("SELECT count(*) FROM collections").fetchone()[0]
    return {"bytes": allocated, "mb": round(allocated / 2**20, 2), "segment_folders": len(folders),
            "collections": collections, "sqlite_pages": pages, "sqlite_free_pages": free}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-disk-") as tmp:
        work = Path(tmp)
        (work / "corpus").mkdir()
        shutil.copy(REPORT, work / "corpus" / REPORT.name)
        settings = Settings(paths=PathSettings(corpus_dir=work / "corpus", index_dir=work / "index"))
        assistant = Assistant(settings)
        steps: dict[str, dict[str, object]] = {}

        def step(name: str) -> None:
            started = time.perf_counter()
            report = assistant.index()
            steps[name] = {"index_s": round(time.perf_counter() - started, 2), "embedded": report.embedded,
                           **folder_state(work / "index")}
            print(name, steps[name], flush=True)

        step("build")
        added = work / "corpus" / "report-redrawn.txt"
        added.write_text(vary(REPORT.read_text(encoding="utf-8"), np.random.default_rng(7)), encoding="utf-8")
        step("add")
        added.unlink()
        step("remove")
        step("next run")
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), load average {os.getloadavg()[0]:.1f}",
        "steps": steps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
