"""Saved conversations and ratings: a real SQLite file, the real report index behind the API, and real processes
writing at once."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.errors import ConversationFull, MissingClientId, UnknownConversation
from assistant.evaluate import read_golden
from assistant.service import Assistant
from assistant.serving.api.app import create_app
from assistant.serving.cli import main
from assistant.serving.conversations import ConversationStore, client_id
from assistant.settings import LimitSettings, PathSettings

ME = {"X-Client-Id": "browser-me-0123456789"}
OTHER = {"X-Client-Id": "browser-other-0123456789"}
ZH = "微软对OpenAI的投资金额是多少？"


def store_in(folder: Path, max_turns: int = 100, max_bytes: int = 10**8) -> ConversationStore:
    return ConversationStore(folder, max_turns=max_turns, max_bytes=max_bytes)


def test_a_conversation_keeps_its_turns_in_order_and_only_for_its_owner(tmp_path):
    store = store_in(tmp_path)
    made = store.create("me-0123456789abcdef")
    store.append("me-0123456789abcdef", made.id, "  first   question\n", {"answer": "one", "citations": []})
    store.append("me-0123456789abcdef", made.id, "second", {"answer": "two", "citations": []})
    again = store_in(tmp_path).get("me-0123456789abcdef", made.id)  # a new store on the same file: a restart
    assert [t.question for t in again.turns] == ["  first   question\n", "second"] and [t.n for t in again.turns] == [1, 2]
    assert again.title == "first question"  # titled from the first question
    assert [c.id for c in store.list("me-0123456789abcdef")] == [made.id] and store.list("other-0123456789abcd") == []
    with pytest.raises(UnknownConversation):
        store.get("other-0123456789abcd", made.id)
    with pytest.raises(UnknownConversation):
        store.delete("other-0123456789abcd", made.id)
    assert store.rename("me-0123456789abcdef", made.id, "Renamed").title == "Renamed"
    store.delete("me-0123456789abcdef", made.id)
    with pytest.raises(UnknownConversation):
        store.get("me-0123456789abcdef", made.id)


def test_caps_refuse_a_turn_without_writing_it(tmp_path):
    store = store_in(tmp_path, max_turns=2, max_bytes=2000)
    made = store.create("me-0123456789abcdef")
    store.append("me-0123456789abcdef", made.id, "q1", {"answer": "a"})
    store.append("me-0123456789abcdef", made.id, "q2", {"answer": "a"})
    with pytest.raises(ConversationFull, match="max_conversation_turns"):
        store.append("me-0123456789abcdef", made.id, "q3", {"answer": "a"})
    other = store.create("me-0123456789abcdef")
    with pytest.raises(ConversationFull, match="max_state_mb"):
        store.append("me-0123456789abcdef", other.id, "q", {"answer": "x" * 3000})
    assert store.get("me-0123456789abcdef", made.id).size == 2 and store.get("me-0123456789abcdef", other.id).size == 0


def test_a_client_id_must_be_long_and_plain():
    assert client_id("abcdefghijklmnop") == "abcdefghijklmnop"
    for bad in (None, "", "short", "has space in it 012345", "x" * 129):
        with pytest.raises(MissingClientId, match="X-Client-Id"):
            client_id(bad)


def _write_turns(folder: str, conversation_id: str, writer: int) -> None:
    store = store_in(Path(folder))
    for i in range(5):
        store.append("me-0123456789abcdef", conversation_id, f"writer {writer} question {i}", {"answer": str(i)})


def test_ten_processes_writing_one_conversation_lose_nothing(tmp_path):
    store = store_in(tmp_path)
    made = store.create("me-0123456789abcdef")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_turns, args=(str(tmp_path), made.id, w)) for w in range(10)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [p.exitcode for p in writers] == [0] * 10
    turns = store.get("me-0123456789abcdef", made.id).turns
    assert [t.n for t in turns] == list(range(1, 51))  # numbered without gaps or repeats
    assert sorted(t.question for t in turns) == sorted(f"writer {w} question {i}" for w in range(10) for i in range(5))
    for w in range(10):  # each writer's own questions in its order
        mine = [t.question for t in turns if t.question.startswith(f"writer {w} ")]
        assert mine == [f"writer {w} question {i}" for i in range(5)]


@pytest.fixture
def api(report_assistant: Assistant, tmp_path: Path) -> TestClient:
    settings = report_assistant.settings.model_copy(
        update={
            "limits": LimitSettings(rate_per_minute=0, max_conversation_turns=3),
            "paths": PathSettings(
                corpus_dir=report_assistant.settings.paths.corpus_dir,
                index_dir=report_assistant.settings.paths.index_dir,
                state_dir=tmp_path / "state",
            ),
        }
    )
    return TestClient(create_app(Assistant(settings, embedder=report_assistant.embedder, store=report_assistant.store)))


def test_questions_asked_in_a_conversation_are_saved_with_versioned_citations_and_follow_up(api):
    made = api.post("/api/conversations", json={}, headers=ME)
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    first = api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME).json()
    follow = api.post("/api/ask", json={"question": "谷歌呢？", "conversation_id": cid}, headers=ME).json()
    assert "Anthropic" in follow["answer"] and "谷歌" in follow["query"]  # the saved first turn was its history
    saved = api.get(f"/api/conversations/{cid}", headers=ME).json()
    assert saved["title"] == ZH and [m["question"] for m in saved["messages"]] == [ZH, "谷歌呢？"]
    assert saved["messages"][0]["answer"]["answer"] == first["answer"]
    assert all(c["version"] == 1 for m in saved["messages"] for c in m["answer"]["citations"])  # pinned to its version
    listed = api.get("/api/conversations", headers=ME).json()
    assert [(c["id"], c["turns"]) for c in listed] == [(cid, 2)]
    assert api.get("/api/conversations", headers=OTHER).json() == []


def test_a_conversation_outlives_the_server(api, report_assistant, tmp_path):
    cid = api.post("/api/conversations", json={}, headers=ME).json()["id"]
    api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME)
    restarted = TestClient(create_app(Assistant(
        report_assistant.settings.model_copy(update={"paths": PathSettings(
            corpus_dir=report_assistant.settings.paths.corpus_dir, index_dir=report_assistant.settings.paths.index_dir,
            state_dir=tmp_path / "state")}),
        embedder=report_assistant.embedder, store=report_assistant.store,
    )))  # a new app on the same state folder: what a restarted server sees
    again = restarted.get(f"/api/conversations/{cid}", headers=ME).json()
    assert [m["question"] for m in again["messages"]] == [ZH]
    follow = restarted.post("/api/ask", json={"question": "谷歌呢？", "conversation_id": cid}, headers=ME).json()
    assert "谷歌" in follow["query"]  # the history came from the saved conversation


def test_another_client_sees_nothing_of_a_conversation(api):
    cid = api.post("/api/conversations", json={"title": "mine"}, headers=ME).json()["id"]
    api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME)
    for method, path, body in (
        ("GET", f"/api/conversations/{cid}", None),
        ("GET", f"/api/conversations/{cid}/export", None),
        ("PATCH", f"/api/conversations/{cid}", {"title": "stolen"}),
        ("DELETE", f"/api/conversations/{cid}", None),
        ("PUT", f"/api/conversations/{cid}/turns/1/rating", {"up": False}),
        ("POST", "/api/ask", {"question": ZH, "conversation_id": cid}),
    ):
        response = api.request(method, path, json=body, headers=OTHER)
        assert response.status_code == 404, (method, path, response.text)
        assert "100亿" not in response.text and "mine" not in response.text
    assert api.get(f"/api/conversations/{cid}", headers=ME).json()["title"] == "mine"  # untouched
    missing = api.get("/api/conversations")
    assert missing.status_code == 400 and "X-Client-Id" in missing.json()["detail"]


def test_a_full_conversation_is_refused_before_answering(api):
    cid = api.post("/api/conversations", json={}, headers=ME).json()["id"]
    for _ in range(3):
        assert api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME).status_code == 200
    full = api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME, params={"stream": "true"})
    assert full.status_code == 413 and "new conversation" in full.json()["detail"]
    both = api.post("/api/ask", json={"question": ZH, "conversation_id": cid, "history": [{"question": "a", "answer": "b"}]},
                    headers=ME)
    assert both.status_code == 422 and "either history or conversation_id" in both.json()["detail"]


def test_export_holds_every_quote_verbatim_and_json_round_trips(api):
    cid = api.post("/api/conversations", json={}, headers=ME).json()["id"]
    answer = api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME).json()
    markdown = api.get(f"/api/conversations/{cid}/export", headers=ME)
    assert markdown.headers["content-type"].startswith("text/markdown") and "attachment" in markdown.headers["content-disposition"]
    assert markdown.text.startswith(f"# {ZH}") and answer["citations"]
    for citation in answer["citations"]:
        assert f"> {citation['quote']}" in markdown.text and "第 1 版" in markdown.text
    exported = api.get(f"/api/conversations/{cid}/export", params={"format": "json"}, headers=ME).json()
    assert exported["messages"][0]["answer"]["citations"][0]["quote"] == answer["citations"][0]["quote"]


def test_ratings_become_dev_set_rows_that_eval_reads(api, tmp_path, capsys, monkeypatch):
    cid = api.post("/api/conversations", json={}, headers=ME).json()["id"]
    answer = api.post("/api/ask", json={"question": ZH, "conversation_id": cid}, headers=ME).json()
    api.post("/api/ask", json={"question": "谷歌呢？", "conversation_id": cid}, headers=ME)
    assert api.put(f"/api/conversations/{cid}/turns/1/rating", json={"up": True}, headers=ME).status_code == 204
    down = api.put(f"/api/conversations/{cid}/turns/2/rating", json={"up": False, "comment": "wrong company"}, headers=ME)
    assert down.status_code == 204
    assert api.put(f"/api/conversations/{cid}/turns/9/rating", json={"up": True}, headers=ME).status_code == 404
    monkeypatch.setenv("ASSISTANT_PATHS__STATE_DIR", str(tmp_path / "state"))
    out = tmp_path / "feedback.jsonl"
    assert main(["feedback", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["rating"]) for r in rows] == [(ZH, 1), ("谷歌呢？", -1)]
    assert rows[0]["evidence"] == [c["quote"] for c in answer["citations"] if c["verified"]] and rows[0]["review"]
    assert rows[1]["evidence"] == [] and rows[1]["comment"] == "wrong company" and rows[1]["produced_by"]["answerer"]
    golden = read_golden(out)
    assert [q.answerable for q in golden] == [True, False] and golden[0].evidence == tuple(rows[0]["evidence"])


def test_a_saved_answer_reads_back_as_the_answer_it_was(report_assistant):
    from assistant.serving.ui.render import render_answer, render_sources
    from assistant.types import Answer

    answer = report_assistant.ask(ZH)
    again = Answer.from_dict(json.loads(json.dumps(answer.to_dict(), ensure_ascii=False)))
    assert again.to_dict() == answer.to_dict()
    assert render_answer(again) == render_answer(answer) and render_sources(again) == render_sources(answer)


def test_every_browser_gets_one_lasting_id_cookie():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from assistant.serving.clientid import COOKIE, ClientCookie, client_of

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse(str(client_of(request.cookies))))])
    browser = TestClient(ClientCookie(app))
    first = browser.get("/")
    issued = first.cookies[COOKIE]
    assert client_id(issued) == issued and first.text == "None"  # issued with the first response
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Lax" in first.headers["set-cookie"]
    again = browser.get("/")
    assert again.text == issued and "set-cookie" not in again.headers  # kept, not replaced
    forged = TestClient(ClientCookie(app)).get("/", headers={"Cookie": f"{COOKIE}=short"})
    assert forged.cookies[COOKIE] != "short" and client_id(forged.cookies[COOKIE])  # not an id this server issues
