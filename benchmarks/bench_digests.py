"""Section-digest benchmark (not a test): what `assistant index --digests` adds to a full index of the report.

Run with `make bench-llm` (needs the local model: `assistant model fetch`). A fresh index of the
repository's corpus is built in a temporary folder, then every digest is written in both languages,
then written again with nothing changed. Reports wall times, what the model wrote (sentences,
verified share before the unverified ones are dropped), what is served (verified share, share of
Latin letters in the English digests) and the load average, because the 2 cores are easily shared.
Writes benchmarks/results/digests.json.
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

import assistant.service as service
from assistant.evaluate import latin_share
from assistant.service import Assistant
from assistant.serving.digests import write_digests
from assistant.settings import PathSettings, Settings
from assistant.types import Answer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


def claims(answers: list[Answer]) -> tuple[int, int]:
    """(claim sentences, verified ones) over ``answers``."""
    checks = [c for a in answers for c in a.checks if c.is_claim]
    return len(checks), sum(c.verified for c in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "digests.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-digests-"))
    written: list[Answer] = []  # the model's digests as verified, before the unverified sentences are dropped
    prune = service.verified_digest

    def recording(answer: Answer) -> Answer | None:
        written.append(answer)
        return prune(answer)

    service.verified_digest = recording
    try:
        shutil.copytree(CORPUS, work / "corpus")
        assistant = Assistant(Settings(paths=PathSettings(corpus_dir=work / "corpus", index_dir=work / "index")))
        if assistant.chat_model() is None:
            raise SystemExit("no local model: run `.venv/bin/assistant model fetch` first")
        load_before = os.getloadavg()
        started = time.perf_counter()
        assistant.index(rebuild=True)
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        counts = write_digests(assistant)
        digests_s = time.perf_counter() - started
        started = time.perf_counter()
        again = write_digests(assistant)
        again_s = time.perf_counter() - started
        served = [a for a in (assistant.written_digest(q) for q in ("请总结这份报告的主要观点", "Summarize the report")) if a]
        sections = [assistant.written_digest(q) for q in service.section_requests(assistant.retriever().main_sections, "en")]
        english = [a for a in sections + served[1:] if a is not None]
        model_claims, model_verified = claims(written)
        served_claims, served_verified = claims([a for a in sections + served if a])
        results = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "model": assistant.settings.llm.describe(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "full_index_s": round(index_s, 1),
            "digests": counts,
            "digests_s": round(digests_s, 1),
            "seconds_per_model_digest": round(digests_s / max(1, len(written)), 1),
            "second_run": {**again, "seconds": round(again_s, 2)},
            "model_sentences": model_claims,
            "model_sentences_verified": round(model_verified / model_claims, 3) if model_claims else None,
            "served_sentences": served_claims,
            "served_sentences_verified": round(served_verified / served_claims, 3) if served_claims else None,
            "english_digests_latin_share_min": round(min((latin_share(a.text) for a in english), default=0.0), 3),
            "report_digests": {a.language: a.text for a in served},
        }
    finally:
        service.verified_digest = prune
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
