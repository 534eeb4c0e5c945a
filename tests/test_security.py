"""Attacks on the served app: server files named as uploads, cross-site requests, rebinding hosts."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import finished_job, gradio_event, read_only

from assistant.serving.guard import refusal
from assistant.settings import LimitSettings, ServerSettings, Settings

SAVE_TRIGGER = "upload"  # the Documents tab's upload event: hidden from the API listing, still reachable


def file_data(path: str, name: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": name}


@pytest.mark.slow
def test_gradio_upload_event_cannot_copy_a_server_file_into_the_corpus(private_served, tmp_path):
    secret = tmp_path / "secret.txt"
    marker = uuid.uuid4().hex
    secret.write_text(f"服务器口令是{marker}。", encoding="utf-8")
    before = sorted(p.name for p in private_served.corpus_dir.iterdir())
    for path in (str(secret), "/etc/passwd"):
        result = gradio_event(private_served.url, SAVE_TRIGGER, [[file_data(path, Path(path).name)], private_served.admin_token, None])
        assert result.get("success") is not True, result
    assert sorted(p.name for p in private_served.corpus_dir.iterdir()) == before
    cache = Path(tempfile.gettempdir()) / "gradio"  # the served app's upload folder: nothing was copied there either
    assert not any(marker in p.read_text(errors="replace") for p in cache.rglob("*.txt") if p.is_file())
    # A file really uploaded through Gradio's upload route is still saved.
    uploaded = httpx.post(
        f"{private_served.url}/gradio_api/upload", files=[("files", ("appendix.md", "# 附录\n\n示例公司的总部在杭州。\n".encode()))]
    ).json()[0]
    result = gradio_event(private_served.url, SAVE_TRIGGER, [[file_data(uploaded, "appendix.md")], private_served.admin_token, None])
    assert result["success"] and result["output"]["data"][0].startswith("Saved appendix.md"), result
    (private_served.corpus_dir / "appendix.md").unlink()


# -- cross-site requests and foreign host names (serving/guard.py) ------------------------------------------


def scope(method: str, **headers: str) -> dict:
    return {"type": "http", "method": method, "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


LOCAL = ServerSettings(host="127.0.0.1", port=7860)


@pytest.mark.parametrize(
    "request_scope",
    [
        scope("POST", host="127.0.0.1:7860", origin="https://evil.example"),
        scope("POST", host="127.0.0.1:7860", origin="null"),
        scope("DELETE", host="127.0.0.1:7860", referer="https://evil.example/page.html"),
        scope("POST", host="127.0.0.1:7860", origin="http://127.0.0.1:9999"),  # another local site is another origin
        scope("GET", host="evil.example"),  # DNS rebinding: a foreign name resolving to this server
        scope("POST", host="rebind.evil.example:7860", origin="http://rebind.evil.example:7860"),
    ],
)
def test_guard_refuses_foreign_origins_and_hosts(request_scope):
    assert refusal(request_scope, LOCAL) is not None


@pytest.mark.parametrize(
    "request_scope",
    [
        scope("POST", host="127.0.0.1:7860", origin="http://127.0.0.1:7860"),
        scope("POST", host="localhost:7860", referer="http://localhost:7860/?__theme=dark"),
        scope("POST", host="[::1]:7860"),  # curl and scripts send neither Origin nor Referer
        scope("GET", host="127.0.0.1:7860", origin="https://evil.example"),  # reading is not a state change
    ],
)
def test_guard_lets_the_apps_own_pages_and_non_browser_clients_through(request_scope):
    assert refusal(request_scope, LOCAL) is None


def test_configured_hosts_are_answered_and_a_wildcard_bind_without_a_list_answers_any():
    proxied = ServerSettings(host="0.0.0.0", allowed_hosts=["assistant.example.com"], admin_token="x" * 16)
    assert refusal(scope("POST", host="assistant.example.com", origin="https://assistant.example.com"), proxied) is None
    assert refusal(scope("GET", host="evil.example"), proxied)[0] == 421
    assert refusal(scope("GET", host="10.0.0.5:7860"), ServerSettings(host="0.0.0.0")) is None


@pytest.mark.slow
def test_served_app_refuses_cross_site_uploads_index_runs_and_rebound_hosts(private_served):
    url, admin = private_served.url, {"Authorization": f"Bearer {private_served.admin_token}"}
    before = sorted(p.name for p in private_served.corpus_dir.iterdir())
    forged = [("files", ("forged.md", "# 说明\n\n微软对OpenAI的投资金额是零美元。\n".encode()))]
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x.html"}):
        response = httpx.post(f"{url}/api/documents", files=forged, headers={**admin, **headers})
        assert response.status_code == 403 and "Cross-site request refused" in response.json()["detail"]
        assert httpx.post(f"{url}/api/index", headers={**admin, **headers}).status_code == 403
        assert gradio_event(url, SAVE_TRIGGER, [[], private_served.admin_token, None], headers=headers)["status"] == 403
    rebound = httpx.get(f"{url}/", headers={"Host": "rebind.evil.example"})
    assert rebound.status_code == 421 and "allowed_hosts" in rebound.json()["detail"]
    assert sorted(p.name for p in private_served.corpus_dir.iterdir()) == before
    plain = httpx.post(f"{url}/api/index", content="{}", headers=admin)  # curl -d sends a form content type
    assert plain.status_code == 415 and "application/json" in plain.json()["detail"]
    own = httpx.post(f"{url}/api/index", json={}, headers={**admin, "Origin": url})
    with httpx.Client(base_url=url) as http:
        assert finished_job(http, own, admin)["state"] == "done"


@pytest.mark.slow
def test_forwarded_for_headers_do_not_give_a_client_fresh_rate_limit_buckets(private_served):
    # An empty body is counted by the limiter and then refused (422) without any retrieval: fast enough that the
    # bucket cannot refill during the loop.
    statuses = [
        httpx.post(f"{private_served.url}/api/retrieve", json={}, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(LimitSettings().rate_burst + 5)
    ]
    assert 429 in statuses and set(statuses) <= {422, 429}


# -- faults: folders that cannot be written --------------------------------------------------------------------


SMALL = "# 附录\n\n示例公司的总部在杭州。\n"


def test_delete_in_a_read_only_corpus_is_a_503_with_advice(report_assistant, corpus):
    from fastapi.testclient import TestClient

    from assistant.service import Assistant
    from assistant.serving.api.app import create_app

    (corpus / "a.md").write_text(SMALL, encoding="utf-8")
    client = TestClient(create_app(Assistant(Settings(), embedder=report_assistant.embedder)))
    with read_only(corpus):
        response = client.delete("/api/documents/a.md")
    assert response.status_code == 503 and "make the folder writable" in response.json()["detail"]
    assert (corpus / "a.md").exists()


@pytest.mark.parametrize("args", [["index"], ["index", "--rebuild"]])
def test_read_only_index_folder_is_one_error_line_not_rebuild_advice(tmp_path, corpus, args):
    assistant = [str(Path(sys.executable).parent / "assistant")]
    (corpus / "a.md").write_text(SMALL, encoding="utf-8")
    assert subprocess.run([*assistant, "index"], cwd=tmp_path, capture_output=True).returncode == 0
    (corpus / "a.md").write_text(SMALL + "\n示例公司成立于2015年。\n", encoding="utf-8")  # stale: the index must be written
    index = tmp_path / "index"
    with read_only(index, index / "chroma"):
        result = subprocess.run([*assistant, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: Cannot write to"), result.stderr
    assert "Traceback" not in result.stderr and "--rebuild" not in result.stderr


@pytest.mark.slow
def test_an_unauthenticated_upload_is_refused_before_its_body_is_sent(private_served):
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(private_served.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong-token-0123456789\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 200000000\r\n\r\n--x\r\n"
        )
        reply = connection.recv(4096)  # before the fix the server waited for all 200 MB; recv timed out
    assert reply.startswith(b"HTTP/1.1 401")
