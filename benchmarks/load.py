"""Load benchmark (not a test): concurrent clients asking golden dev-set questions over HTTP.

    .venv/bin/python benchmarks/load.py --spawn                      # own server on a free port, stopped after
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:7860  # a server that is already running

Each client sends POST /api/ask, waits for the answer and sends the next question,
for --duration seconds. Only loopback URLs are accepted: this tool generates load and
must not be pointed at someone else's server. Writes benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from assistant.evaluate import read_golden
from assistant.serving.admin import is_loopback

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"
RESULT = ROOT / "benchmarks" / "results" / "load.json"
READY_TIMEOUT_S = 300  # a spawned server first builds a missing or stale index
REQUEST_TIMEOUT_S = 120


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: Counter[str] = field(default_factory=Counter)  # HTTP status or exception name -> count
    answers: Counter[str] = field(default_factory=Counter)  # answer_kind -> count


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's exact high-water mark (VmHWM) of a live process; None where /proc is unavailable.

    psutil (not a dependency) offers only the current RSS on Linux, so sampling it could miss the peak.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kilobytes is None else round(kilobytes / 1024, 1)


def wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"The server exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    sys.exit(f"The server was not ready after {READY_TIMEOUT_S} s; its log is {log}.")


@contextmanager
def spawned_server(log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`assistant serve` from the project root (its corpus/ and index/) on a free loopback port.

    The per-client rate limit is switched off: every simulated client shares the address 127.0.0.1.
    """
    port = free_port()
    command = [str(Path(sys.executable).parent / "assistant"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=os.environ | {"GRADIO_ANALYTICS_ENABLED": "False", "ASSISTANT_LIMITS__RATE_PER_MINUTE": "0"},
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, server, log)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def answer_kind(body: dict[str, object]) -> str:
    """How an answer was made: a local model under load answers some and hands the rest to the extractive path.

    Weak evidence is refused without asking the model, so "refused" is no sign of load.
    """
    mode = str(body.get("mode", "?"))
    if not body.get("answerable"):
        return f"{mode} refusal"
    return f"{mode} with notice" if body.get("notice") else mode


async def client(http: httpx.AsyncClient, questions: Iterator[str], deadline: float, tally: Tally) -> None:
    while time.perf_counter() < deadline:
        question = next(questions)
        started = time.perf_counter()
        try:
            response = await http.post("/api/ask", json={"question": question})
        except httpx.HTTPError as exc:
            tally.errors[type(exc).__name__] += 1
            continue
        if response.status_code == 200:
            tally.latencies.append(time.perf_counter() - started)
            tally.answers[answer_kind(response.json())] += 1
        else:
            tally.errors[str(response.status_code)] += 1


async def run_load(url: str, questions: list[str], clients: int, duration: float) -> tuple[Tally, float]:
    """(tally, seconds from the first request until the last client finished its final request)."""
    tally = Tally()
    shared = itertools.cycle(questions)  # one event loop thread: the clients take turns, no lock needed
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        (await http.post("/api/ask", json={"question": questions[0]})).raise_for_status()  # warm-up, not counted
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(client(http, shared, deadline, tally) for _ in range(clients)))
    return tally, time.perf_counter() - started


def latency_summary(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in seconds; empty when fewer than two requests succeeded."""
    if len(latencies) < 2:
        return {}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    summary = {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "mean": statistics.fmean(latencies), "max": max(latencies)}
    return {name: round(value, 3) for name, value in summary.items()}


def summarise(tally: Tally, seconds: float) -> dict[str, object]:
    errors = sum(tally.errors.values())
    return {
        "requests": len(tally.latencies) + errors,
        "errors": errors,
        "error_kinds": dict(tally.errors),
        "answers": dict(tally.answers),
        "seconds": round(seconds, 2),
        "throughput_rps": round(len(tally.latencies) / seconds, 2),
        "latency_s": latency_summary(tally.latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default="http://127.0.0.1:7860", help="running server (loopback only)")
    target.add_argument("--spawn", action="store_true", help="start `assistant serve` on a free port and stop it after")
    parser.add_argument("--clients", type=bounded(1, 200), default=20, help="concurrent clients (1-200, default 20)")
    parser.add_argument("--duration", type=bounded(1, 600), default=60, help="seconds of load (1-600, default 60)")
    parser.add_argument("--questions", type=Path, default=GOLDEN, help="golden JSONL file to take questions from")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if not args.spawn and not is_loopback(urlsplit(args.url).hostname or ""):
        parser.error(f"{args.url} is not a loopback address; this tool only loads servers on this machine.")
    questions = [q.question for q in read_golden(args.questions)]

    with tempfile.TemporaryDirectory() as tmp:
        if args.spawn:
            with spawned_server(Path(tmp) / "server.log") as (url, server):
                tally, seconds = asyncio.run(run_load(url, questions, args.clients, args.duration))
                peak = peak_rss_mb(server.pid)
        else:
            url = args.url.rstrip("/")
            tally, seconds = asyncio.run(run_load(url, questions, args.clients, args.duration))
            peak = None  # the process id of a server this tool did not start is unknown

    result = {
        "url": url,
        "spawned": args.spawn,
        "clients": args.clients,
        "duration_s": args.duration,
        "questions": len(questions),
        **summarise(tally, seconds),
        "server_peak_rss_mb": peak,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
