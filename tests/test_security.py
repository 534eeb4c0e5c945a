"""Attacks on the served app: server files named as uploads, cross-site requests, rebinding hosts."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

SAVE_TRIGGER = "upload"  # the Documents tab's upload event: hidden from the API listing, still reachable


def gradio_event(url: str, targets: str, data: list, headers: dict[str, str] | None = None) -> dict:
    """Run one Gradio event the way the browser does (``/gradio_api/queue/join``, then its result stream)."""
    config = httpx.get(f"{url}/config").json()
    fn_index, trigger = next(
        (i, d["targets"][0][0]) for i, d in enumerate(config["dependencies"]) if d["targets"] and d["targets"][0][1] == targets
    )
    session = uuid.uuid4().hex[:10]
    joined = httpx.post(
        f"{url}/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": trigger, "event_data": None},
        headers=headers,
    )
    if joined.status_code != 200:
        return {"status": joined.status_code, "detail": joined.text}
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and (message := json.loads(line[5:])).get("msg") == "process_completed":
                return message
    raise AssertionError("the event never completed")


def file_data(path: str, name: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": name}


@pytest.mark.slow
def test_gradio_upload_event_cannot_copy_a_server_file_into_the_corpus(private_served, tmp_path):
    secret = tmp_path / "secret.txt"
    marker = uuid.uuid4().hex
    secret.write_text(f"服务器口令是{marker}。", encoding="utf-8")
    before = sorted(p.name for p in private_served.corpus_dir.iterdir())
    for path in (str(secret), "/etc/passwd"):
        result = gradio_event(private_served.url, SAVE_TRIGGER, [[file_data(path, Path(path).name)], private_served.admin_token])
        assert result.get("success") is not True, result
    assert sorted(p.name for p in private_served.corpus_dir.iterdir()) == before
    cache = Path(tempfile.gettempdir()) / "gradio"  # the served app's upload folder: nothing was copied there either
    assert not any(marker in p.read_text(errors="replace") for p in cache.rglob("*.txt") if p.is_file())
    # A file really uploaded through Gradio's upload route is still saved.
    uploaded = httpx.post(
        f"{private_served.url}/gradio_api/upload", files=[("files", ("appendix.md", "# 附录\n\n示例公司的总部在杭州。\n".encode()))]
    ).json()[0]
    result = gradio_event(private_served.url, SAVE_TRIGGER, [[file_data(uploaded, "appendix.md")], private_served.admin_token])
    assert result["success"] and result["output"]["data"][0].startswith("Saved appendix.md"), result
    (private_served.corpus_dir / "appendix.md").unlink()
