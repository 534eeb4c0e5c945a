"""DOCX reading time per 1,000 paragraphs: one style table per document vs resolving ``Paragraph.style`` each time.

Run: .venv/bin/python benchmarks/bench_docx.py  (results in benchmarks/results/docx.json)
"""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path

import docx

from assistant.ingest.formats.docx import HEADING_STYLE_RE, read_docx

RESULT = Path(__file__).resolve().parent / "results" / "docx.json"


def make(paragraphs: int) -> bytes:
    document = docx.Document()
    for i in range(paragraphs):
        if i % 50 == 0:
            document.add_heading(f"Section {i // 50}", level=1)
        else:
            document.add_paragraph(f"Paragraph {i}: generative AI changes how enterprises work.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def per_paragraph_style(data: bytes) -> int:
    """What the reader did before: resolve each paragraph's style through the styles part."""
    return sum(bool(HEADING_STYLE_RE.match(p.style.name or "")) for p in docx.Document(io.BytesIO(data)).paragraphs)


def timed(function, data: bytes, runs: int = 3) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function(data)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    rows = []
    for paragraphs in (1000, 4000):
        data = make(paragraphs)
        now, before = timed(read_docx, data), timed(per_paragraph_style, data)
        rows.append({"paragraphs": paragraphs, "read_s": round(now, 3), "per_1000_s": round(now / paragraphs * 1000, 3),
                     "before_s": round(before, 3), "ratio": round(before / now, 1)})
        print(rows[-1])
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
