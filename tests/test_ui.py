"""The web app: rendering escapes untrusted text, chat handlers stream checked answers, admin handlers need the token."""

import json
import logging
import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import gradio as gr
import httpx
import pytest
from conftest import GatedIndexer, finished_job, gradio_event
from fake_openai import Reply, Status
from hypothesis import given
from hypothesis import strategies as st

from assistant.errors import AdminRequired
from assistant.service import Assistant
from assistant.serving.jobs import IndexJobs
from assistant.serving.status import index_size
from assistant.serving.ui import build_app
from assistant.serving.ui.handlers import (
    delete_document,
    documents_view,
    footer_text,
    reindex,
    require_admin,
    SessionQuestions,
    respond,
    respond_in_turn,
    waiting_turn,
    upload_documents,
)
from assistant.serving.ui.render import (
    escape_markdown,
    plain_text,
    render_answer,
    render_sources,
    render_streaming,
    turns_from_messages,
)
from assistant.settings import ServerSettings, Settings
from assistant.types import (
    Answer,
    AnswerMode,
    Chunk,
    Citation,
    Hit,
    Reason,
    SentenceCheck,
)

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(1)">[x](javascript:alert(1))'
OUR_TAGS_RE = re.compile(r'</?(?:em|span|small)(?: class="[a-z]+")?>')
CITE_LINK_RE = re.compile(r"\[\\\[\d+\\\]\]\(#cite-\d+\)")
TOKEN = "ui-admin-token-0123456789"
BASE = "摘要\n\n微软对OpenAI的投资是100亿美元。\n\n谷歌对Anthropic的投资是3亿美元。\n"
APPENDIX = "# 附录\n\n示例公司的总部位于杭州，员工人数为1200人。\n"
EN_QUESTION = "How much did Microsoft invest in OpenAI?"


def assert_inert(markdown: str) -> None:
    """Apart from this module's own tags and citation links, the chat markdown has no HTML and no links."""
    rest = CITE_LINK_RE.sub("", OUR_TAGS_RE.sub("", markdown))
    assert "<" not in rest and "](" not in rest, rest


def _answer(quote: str, **changes: object) -> Answer:
    chunk = Chunk("c1", "r.txt", "前文" + quote + "后文", 10, 14 + len(quote), 0, 2, "摘要")
    citation = Citation(1, "r.txt", "摘要", 2, "c1", quote, 12, 12 + len(quote))
    answer = Answer("q", "zh", f"根据报告原文：\n“{quote}” [1]", True, "extractive", (citation,), (Hit(chunk, 1.0, 1),), "q")
    return replace(answer, **changes)


def _generated(*checks: SentenceCheck) -> Answer:
    """A generated answer whose text is its checked sentences, citing a two-sentence chunk."""
    chunk = Chunk("c1", "r.txt", "微软投资100亿美元。谷歌投资3亿美元。", 0, 20, 0, 1, "摘要")
    citations = (
        Citation(1, "r.txt", "摘要", 1, "c1", "微软投资100亿美元。", 0, 10, verified=False),
        Citation(2, "r.txt", "摘要", 1, "c1", "谷歌投资3亿美元。", 10, 19),
    )
    text = " ".join(check.text for check in checks)
    return Answer("q", "en", text, True, AnswerMode.GENERATED, citations, (Hit(chunk, 1.0, 1),), "q", checks=checks)


WRONG = SentenceCheck("Microsoft invested $100 billion [1].", (1,), False, 0.01, Reason.NUMBER_MISMATCH)
RIGHT = SentenceCheck("Google invested 300 million US dollars [2].", (2,), True, 0.4, Reason.SUPPORTED)
INVENTED = SentenceCheck(f"{HOSTILE} in [2023].", (), False, 0.0, Reason.UNSUPPORTED)


# -- rendering ------------------------------------------------------------------------------


def test_document_text_is_escaped_in_chat_and_sources():
    chat = render_answer(_answer(HOSTILE))
    assert_inert(chat)
    assert "[\\[1\\]](#cite-1)" in chat
    sources = render_sources(_answer(HOSTILE, retrieved=(), query="<b>q</b>", question="q"))
    assert "<script>" not in sources and "<img" not in sources and "<b>" not in sources
    assert "<mark>&lt;script&gt;" in sources and "&lt;b&gt;q&lt;/b&gt;" in sources


def test_escape_markdown_neutralises_links_and_emphasis():
    assert escape_markdown("*a* [b](c)") == "\\*a\\* \\[b\\]\\(c\\)"


@pytest.mark.parametrize("text", ["详见 https://evil.example/login?x=1", "Visit WWW.evil.example now", "mail admin@evil.example"])
def test_bare_urls_and_addresses_are_not_auto_linked(text):
    shown = escape_markdown(text)
    assert not re.search(r"://|www\.|@", shown, re.IGNORECASE)
    assert plain_text(shown) == text


def test_only_the_apps_markers_are_marked_as_links_in_the_json():
    answer = _answer("钓鱼网站把访客引向 https://evil.example [1]。")  # the document's own "[1]", quoted
    assert answer.text.count("[1]") == 2
    assert answer.markers == [{"n": 1, "start": answer.text.rindex("[1]"), "end": answer.text.rindex("[1]") + 3}]


def test_generated_answer_links_markers_and_marks_each_unverified_sentence():
    answer = _generated(WRONG, RIGHT, INVENTED)
    chat = render_answer(answer)
    assert_inert(chat)
    assert "[\\[1\\]](#cite-1)" in chat and "[\\[2\\]](#cite-2)" in chat
    assert "\\[2023\\]" in chat  # a bracketed year is not a citation
    order = [chat.index(s) for s in ("Microsoft", "⚠ unverified (a figure is not in the source)", "Google", "script", "⚠ unverified (no source says this)")]
    assert order == sorted(order) and chat.count("⚠ unverified (") == 2
    assert 'class="legend"' in chat
    assert "⚠" not in render_answer(_generated(RIGHT))


def test_sources_mark_citations_verified_only_for_generated_answers():
    generated = render_sources(_generated(WRONG, RIGHT))
    assert generated.index('id="cite-1"') < generated.index("⚠ unverified") < generated.index('id="cite-2"')
    assert generated.index('id="cite-2"') < generated.index("✓ verified")
    assert generated.count("<mark>") == 2
    extractive = render_sources(_answer("微软投资100亿美元。"))
    assert "verified" not in extractive and "<mark>微软投资100亿美元。</mark>" in extractive


def test_condensed_query_is_shown_only_when_it_differs_from_the_question():
    condensed = render_sources(_answer("引文", question="那谷歌呢？", query="那谷歌呢？ (<i>微软</i> 投资)"))
    assert "Searched for" in condensed and "&lt;i&gt;微软&lt;/i&gt; 投资" in condensed
    assert "Searched for" not in render_sources(_answer("引文", question="q", query="q"))


def test_notices_and_refusals_are_shown_escaped():
    chat = render_answer(_answer("引文", notice=HOSTILE, answerable=False, text="报告中未找到相关内容。"))
    assert chat.startswith('<em class="notice">') and chat.endswith("报告中未找到相关内容。")
    assert_inert(chat)
    streaming = render_streaming([HOSTILE], "partial [1] <b>bold</b>")
    assert_inert(streaming)
    assert "partial \\[1\\] &lt;b&gt;" in streaming  # raw model markers stay text until checked


@given(st.text())
def test_plain_text_undoes_escaping(text):
    assert plain_text(escape_markdown(text)) == text.strip()


def test_history_is_the_turns_as_plain_text():
    answer = _generated(WRONG, RIGHT, INVENTED)
    chat = [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}]
    chat += [{"role": "user", "content": f"q{i}"} for i in range(1, 3)]  # unanswered questions pair with nothing
    chat += [{"role": "assistant", "content": [{"type": "text", "text": render_answer(replace(answer, notice="n"))}]}]
    chat += [{"role": "user", "content": "next"}, {"role": "assistant", "content": render_answer(_answer("引[文]"))}]
    turns = turns_from_messages(chat)
    assert turns[0] == ("q0", "a0") and turns[1] == ("q2", answer.text)
    assert turns[2] == ("next", "根据报告原文：\n\n“引[文]” [1]")
    assert len(turns_from_messages(chat * 2)) == 6  # all of them: the service keeps answer.history_turns


# -- chat handler ---------------------------------------------------------------------------


def final_reply(outputs: list[tuple[list[dict], str, str]]) -> tuple[str, str]:
    chat, sources, cleared = outputs[-1]
    assert cleared == "" and chat[-1]["role"] == "assistant"
    return chat[-1]["content"], sources


def test_chat_streams_then_shows_the_cited_answer_and_passes_history(report_assistant):
    first = list(respond(report_assistant, "微软对OpenAI的投资金额是多少？", []))
    reply, sources = final_reply(first)
    assert first[0][1] != sources  # the sources panel waits for the checked answer
    assert "100亿美元" in reply and "[\\[1\\]](#cite-1)" in reply
    assert 'id="cite-1"' in sources and "<mark>" in sources and "Searched for" not in sources
    follow_up = list(respond(report_assistant, "那谷歌呢？", first[-1][0]))
    chat, sources = follow_up[-1][0], follow_up[-1][1]
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    # the first question's predicate was kept with the entity swapped (微软 -> 谷歌)
    assert "Searched for" in sources and "谷歌的投资金额" in sources.split("</div>")[0]


def test_a_lone_surrogate_in_the_question_does_not_break_the_stream(report_assistant):
    updates = list(respond(report_assistant, "微软\ud800对OpenAI的投资金额是多少？", []))
    json.dumps(updates, ensure_ascii=False).encode("utf-8")  # what Gradio sends must be UTF-8
    assert "100亿美元" in final_reply(updates)[0] and "\ufffd" in updates[-1][0][0]["content"]


def test_a_question_asked_while_an_answer_is_written_waits_its_turn_and_is_answered(report_assistant):
    questions = SessionQuestions()
    first = respond_in_turn(report_assistant, questions, "s1", "微软对OpenAI的投资金额是多少？", [])
    chat, _, cleared = next(first)
    assert cleared == ""  # the asked question leaves the box
    queued = list(respond_in_turn(report_assistant, questions, "s1", "那谷歌呢？", chat))
    assert len(queued) == 1 and queued[0][2] == ""  # accepted: the box is cleared, the question is not lost
    elsewhere = list(respond_in_turn(report_assistant, questions, "s2", "谷歌对Anthropic的投资金额是多少？", []))
    assert "3亿美元" in elsewhere[-1][0][-1]["content"]  # another session is not held up
    shown, _, box = next(first)
    assert shown[-2:] == waiting_turn("那谷歌呢？") and box != ""  # shown at once; typing in the box is kept
    *_, (final, _, _) = first
    assert [m["role"] for m in final] == ["user", "assistant", "user", "assistant"]
    assert final[2]["content"] == "那谷歌呢？" and "3亿美元" in final[3]["content"] and "waiting" not in final[3]["content"]
    assert questions.offer("s1", "新问题")  # the session is free again


def test_empty_question_is_a_message_not_a_traceback(report_assistant, caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.serving.ui"), pytest.raises(gr.Error, match="Please type") as raised:
        list(respond(report_assistant, "   ", []))
    assert raised.value.print_exception is False  # Gradio would print its traceback to the server log
    (record,) = caplog.records
    assert "Please type a question" in record.getMessage() and record.exc_info is None
    with pytest.raises(gr.Error, match="请输入问题。") as told:  # a Chinese interface says it in Chinese
        list(respond(report_assistant, "   ", [], language="zh"))
    assert told.value.message == "请输入问题。"



@pytest.mark.slow  # verification embeds every answer sentence against the sources
def test_generated_answer_streams_raw_text_then_shows_verdicts(llm_assistant, fake_llm):
    fake_llm.script(
        Reply(  # half the claims verified: shown with verdicts (fewer would get a second look, then the quotes)
            "Microsoft invested $100 billion in OpenAI [1]. Google invested 300 million US dollars in Anthropic [1]."
            f" Microsoft invested 10 billion US dollars in OpenAI [1]. {HOSTILE}"
        )
    )
    outputs = list(respond(llm_assistant, EN_QUESTION, []))
    streamed = [chat[-1]["content"] for chat, _, _ in outputs[:-1]]
    assert len(streamed) > 2 and any("OpenAI \\[1\\]" in partial for partial in streamed)  # markers unlinked until checked
    for partial in streamed:
        assert_inert(partial)
    reply, sources = final_reply(outputs)
    assert_inert(reply)
    assert reply.index("Microsoft") < reply.index("⚠ unverified (a figure is not in the source)") < reply.index("Google")
    assert 'class="legend"' in reply and "(#cite-1)" in reply
    assert "⚠ unverified" in sources and sources.count("verified</span>") == sources.count('class="source"')


def test_the_extractive_draft_comes_first_and_the_generated_answer_replaces_it(llm_assistant, fake_llm):
    fake_llm.script(Reply("微软对OpenAI的投资是100亿美元[1]。"))
    outputs = list(respond(llm_assistant, "微软对OpenAI的投资金额是多少？", []))
    (first_chat, first_sources, _), final = outputs[0], outputs[-1]
    draft = first_chat[-1]["content"]
    assert draft.startswith('<em class="draft">Draft') and "“" in draft and "(#cite-1)" in draft
    assert 'class="source"' in first_sources  # the draft's quotes are already in the Sources panel
    reply, sources = final[0][-1]["content"], final[1]
    assert "Draft" not in reply and "100亿美元" in reply and "✓ verified" in sources
    assert plain_text(draft).startswith("根据原文")  # history never carries the label


def test_a_second_look_discards_the_streamed_text_and_shows_the_draft_again(llm_assistant, fake_llm):
    fake_llm.script(Reply("The company headquarters are located in Paris."), Reply("Microsoft invested 10 billion US dollars in OpenAI [1]."))
    outputs = list(respond(llm_assistant, EN_QUESTION, []))
    replies = [chat[-1]["content"] for chat, _, _ in outputs]
    paris = [i for i, reply in enumerate(replies) if "Paris" in reply]
    assert paris and replies[paris[-1] + 1].startswith('<em class="draft">Draft')  # the rejected text is gone
    assert all("Paris" not in reply for reply in replies[paris[-1] + 1 :]) and "10 billion" in replies[-1]


def test_model_failure_shows_a_notice_above_the_extractive_answer(llm_assistant, fake_llm):
    fake_llm.script(Status(500))
    reply, _ = final_reply(list(respond(llm_assistant, "微软对OpenAI的投资金额是多少？", [])))
    assert reply.startswith('<em class="notice">ⓘ 语言模型不可用') and "100亿美元" in reply


# -- documents tab --------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", TOKEN[:-1]])
def test_admin_needs_the_configured_token(token):
    server = ServerSettings(host="0.0.0.0", admin_token=TOKEN)
    with pytest.raises(AdminRequired, match="Admin token box"):
        require_admin(server, token)
    require_admin(server, TOKEN)


def test_admin_without_a_token_is_loopback_only():
    require_admin(ServerSettings(host="127.0.0.1"), None)
    require_admin(ServerSettings(host="::1"), "anything")
    with pytest.raises(AdminRequired, match="ASSISTANT_SERVER__ADMIN_TOKEN"):
        require_admin(ServerSettings(host="0.0.0.0"), None)


@pytest.fixture
def admin(report_assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """An assistant over the test's own corpus and index (see conftest) with an admin token, sharing the loaded model;
    Gradio's upload folder is the test's ``gradio-upload`` folder."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-upload"))
    return Assistant(Settings(server=ServerSettings(admin_token=TOKEN)), embedder=report_assistant.embedder)


def uploaded(tmp_path: Path, name: str, text: str) -> str:
    """A file where Gradio leaves uploads: a temporary folder, under the name the browser sent."""
    path = tmp_path / "gradio-upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


class Recorder:
    """Stands in for gr.Progress, which only reports inside a Gradio event."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, int]]] = []

    def __call__(self, value: tuple[int, int], desc: str) -> None:
        self.calls.append((desc, value))


def run_reindex(admin: Assistant, token: str | None, progress: Recorder | None = None, jobs: IndexJobs | None = None) -> list[str]:
    """What the Re-index box shows, line after line, until the job it started or joined ends."""
    return list(reindex(jobs or IndexJobs(admin.index), admin.settings.server, token, progress or Recorder()))


def test_upload_then_reindex_makes_the_new_document_answerable(admin, corpus, tmp_path):
    status = upload_documents(admin, [uploaded(tmp_path, "appendix.md", APPENDIX), uploaded(tmp_path, "run.exe", "MZ")], TOKEN)
    assert "Saved appendix.md" in status and "'run.exe' is not a supported document" in status
    assert [p.name for p in corpus.iterdir()] == ["appendix.md"]
    assert (corpus / "appendix.md").read_text(encoding="utf-8") == APPENDIX
    rows, choices, _ = documents_view(admin)
    assert [row[:2] for row in rows] == [["appendix.md", "not indexed"]]
    progress = Recorder()
    *running, last = run_reindex(admin, TOKEN, progress)
    summary = json.loads(last)
    assert summary["documents"]["added"] == ["appendix.md"] and summary["errors"] == []
    assert running[0].startswith("Indexing…") and all(line.startswith("Indexing…") for line in running)
    assert progress.calls and {stage for stage, _ in progress.calls} <= {"read", "embed passages", "embed sentences", "store"}
    assert all(0 <= done <= total for _, (done, total) in progress.calls)
    rows, choices, footer = documents_view(admin)
    assert [[row[0], row[1], row[4]] for row in rows] == [["appendix.md", "indexed", summary["total"]["chunks"]]]
    assert rows[0][2] in ("zh", "en")  # its language, read from the indexed text
    assert choices == ["appendix.md"]
    assert f"1 documents, {summary['total']['chunks']} chunks" in footer
    reply, sources = final_reply(list(respond(admin, "示例公司的总部在哪里？", [])))
    assert "杭州" in reply and "(#cite-1)" in reply and "杭州" in sources


def test_wrong_token_is_refused_and_changes_nothing(admin, corpus, tmp_path):
    (corpus / "a.md").write_text(BASE, encoding="utf-8")
    admin.index()
    (corpus / "b.md").write_text(APPENDIX, encoding="utf-8")  # waiting for a re-index
    version = admin.manifest().version
    for attempt in (
        lambda token: upload_documents(admin, [uploaded(tmp_path, "c.md", APPENDIX)], token),
        lambda token: delete_document(admin, "a.md", token),
        lambda token: run_reindex(admin, token)[-1],
    ):
        for token in (None, "", "not-the-admin-token"):
            assert "Admin token box" in attempt(token)
    assert sorted(p.name for p in corpus.iterdir()) == ["a.md", "b.md"]
    assert admin.manifest().version == version and admin.stale_reason() == "documents changed"


def test_upload_reads_only_files_in_gradios_upload_folder_and_only_after_the_token(admin, corpus, tmp_path):
    secret = tmp_path / "secret.txt"  # any server file an event could name, outside the upload folder
    secret.write_text("服务器口令是hunter2。", encoding="utf-8")
    linked = Path(uploaded(tmp_path, "link.md", "")).with_name("linked.md")
    linked.symlink_to(secret)  # inside the folder by name, outside it once resolved
    assert "Admin token box" in upload_documents(admin, [str(tmp_path / "does-not-exist.txt")], "wrong")
    status = upload_documents(admin, [str(secret), str(linked), uploaded(tmp_path, "ok.md", APPENDIX)], TOKEN)
    assert "secret.txt was not uploaded through this page" in status
    assert "linked.md was not uploaded through this page" in status and "Saved ok.md" in status
    assert [p.name for p in corpus.iterdir()] == ["ok.md"]


def test_delete_then_reindex_drops_the_document_and_errors_are_messages(admin, corpus):
    (corpus / "a.md").write_text(BASE, encoding="utf-8")
    (corpus / "b.md").write_text(APPENDIX, encoding="utf-8")
    admin.index()
    assert delete_document(admin, "b.md", TOKEN).startswith("Deleted b.md") and not (corpus / "b.md").exists()
    rows, choices, _ = documents_view(admin)
    assert [row[:2] for row in rows] == [["a.md", "indexed"], ["b.md", "missing on disk"]]
    assert choices == ["a.md"]
    assert json.loads(run_reindex(admin, TOKEN)[-1])["documents"]["removed"] == ["b.md"]
    assert "no document '../a.md'" in delete_document(admin, "../a.md", TOKEN)
    assert delete_document(admin, None, TOKEN) == "Choose a document to delete."
    delete_document(admin, "a.md", TOKEN)
    shown: list[str] = []
    with pytest.raises(gr.Error, match="No readable documents"):
        shown.extend(reindex(IndexJobs(admin.index), admin.settings.server, TOKEN, Recorder()))
    assert "No readable documents" in shown[-1]  # the box says it too, beside the error notice


def test_chat_answers_while_a_reindex_runs_and_a_second_one_joins_it(admin, corpus, tmp_path):
    (corpus / "a.md").write_text(BASE, encoding="utf-8")
    admin.index()
    upload_documents(admin, [uploaded(tmp_path, "appendix.md", APPENDIX)], TOKEN)
    indexer = GatedIndexer(admin)
    jobs = IndexJobs(indexer)
    results: list[list[str]] = []
    workers = [threading.Thread(target=lambda: results.append(run_reindex(admin, TOKEN, jobs=jobs))) for _ in range(2)]
    workers[0].start()
    try:
        assert indexer.reached.wait(30)
        reply, _ = final_reply(list(respond(admin, "微软对OpenAI的投资金额是多少？", [])))
        assert "100亿美元" in reply
        workers[1].start()
    finally:
        indexer.open()
        for worker in workers:
            worker.join(60)
    first, second = sorted(results, key=lambda lines: lines[0])
    assert first[0].startswith("Following the indexing run already in progress") and second[0].startswith("Indexing…")
    assert first[-1] == second[-1] and json.loads(first[-1])["documents"]["added"] == ["appendix.md"]  # one job, one report


def test_footer_names_the_models_and_the_index(report_assistant, admin):
    footer = plain_text(footer_text(report_assistant))
    documents, chunks = index_size(report_assistant.manifest())
    assert report_assistant.settings.llm.describe() in footer and report_assistant.embedder.identity in footer
    assert f"{documents} documents, {chunks} chunks" in footer
    assert "No index found" in footer_text(admin)


def test_app_exposes_only_the_chat_and_queues_admin_work_apart(report_assistant):
    app = build_app(report_assistant)
    events = {fn.name: fn for fn in app.fns.values()}
    assert {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"} == {"ask"}
    admin_slots = {events[name].concurrency_id for name in ("save", "remove", "run_index")}
    assert len(admin_slots) == 1 and events["run_index"].concurrency_limit == 1
    assert events["ask"].concurrency_id not in admin_slots
    ids = {block.elem_id for block in app.blocks.values()}
    assert {"question", "ask", "chat", "sources", "admin-token", "upload", "delete", "reindex", "index-status", "documents"} <= ids


# -- end to end -----------------------------------------------------------------------------


@pytest.mark.slow
def test_served_chat_answers_with_a_citation_from_the_corpus(served):
    from gradio_client import Client

    client = Client(f"{served.url}/", verbose=False)
    history, sources, cleared = client.predict("微软对OpenAI的投资金额是多少？", [], [], api_name="/ask")
    reply = history[-1]["content"]
    text = reply if isinstance(reply, str) else "".join(part["text"] for part in reply)
    assert "[\\[1\\]](#cite-1)" in text
    assert "100亿美元" in text
    assert 'id="cite-1"' in sources and "<mark>" in sources
    assert cleared == {"__type__": "update"}  # cleared when the question was taken; later updates keep what was typed


@pytest.mark.slow
def test_served_reindex_button_follows_the_job_the_api_started(private_served):
    # Enough new sentences to embed that the job still runs when the button's event arrives.
    branches = "# 分部\n\n" + "\n".join(f"示例公司第{i}号分部设在{i % 37}号园区，有员工{i * 7}人。" for i in range(200))
    (private_served.corpus_dir / "branches.md").write_text(branches, encoding="utf-8")
    admin = {"Authorization": f"Bearer {private_served.admin_token}"}
    with httpx.Client(base_url=private_served.url, timeout=60) as http:
        started = http.post("/api/index", headers=admin)
        assert started.status_code == 202
        shown = gradio_event(private_served.url, "click", [private_served.admin_token, None], elem_id="reindex", timeout=600)
        job = finished_job(http, started, admin)
    assert job["state"] == "done" and job["report"]["documents"]["added"] == ["branches.md"]
    assert json.loads(shown["output"]["data"][0]) == job["report"]  # the button joined the API's job: one report


def logged_since(log: Path, offset: int, expected: str) -> str:
    """What the server wrote to its log after ``offset``, once ``expected`` is in it (or after 10 s)."""
    deadline = time.time() + 10
    while True:
        text = log.read_bytes()[offset:].decode(errors="replace")
        if expected in text or time.time() > deadline:
            return text
        time.sleep(0.1)


@pytest.mark.slow
def test_a_user_error_logs_one_line_and_a_bug_still_logs_its_traceback(served):
    offset = served.log.stat().st_size
    refused = gradio_event(served.url, "submit", ["   ", [], [], None, None], elem_id="question")
    assert refused["success"] is False and "Please type a question" in refused["output"]["error"]
    logged = logged_since(served.log, offset, "Please type a question")
    assert logged.count("Please type a question") == 1 and "Traceback" not in logged, logged
    offset = served.log.stat().st_size
    broken = gradio_event(served.url, "submit", ["微软对OpenAI的投资金额是多少？", {"not": "a chat"}, [], None, None], elem_id="question")
    assert broken["success"] is False
    assert "Traceback" in logged_since(served.log, offset, "Traceback")  # not a user error: the details are kept


@pytest.mark.slow
def test_serve_rebuilds_an_index_built_by_an_older_cleaner(report_assistant, tmp_path):
    """After an upgrade that changes cleaning, `make run` must come up with a fresh index, not stop at advice."""
    from conftest import assistant_server

    paths = report_assistant.settings.paths
    shutil.copytree(paths.corpus_dir, tmp_path / "old" / "corpus")
    shutil.copytree(paths.index_dir, tmp_path / "old" / "index")
    manifest_path = tmp_path / "old" / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["fingerprint"]["cleaner_version"] = "0"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    log = tmp_path / "server.log"
    with assistant_server(tmp_path / "old" / "corpus", tmp_path / "old" / "index", log) as server:
        answer = httpx.post(f"{server.url}/api/ask", json={"question": "微软对OpenAI的投资金额是多少？"}, timeout=120).json()
    assert "Rebuilding the index (settings changed)" in log.read_text(encoding="utf-8")
    assert any("100亿美元" in c["quote"] for c in answer["citations"])
    rebuilt = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert rebuilt["fingerprint"] == report_assistant.store.manifest().fingerprint


def test_a_session_is_busy_while_its_question_is_answered():
    questions = SessionQuestions()
    assert not questions.busy("s1") and questions.offer("s1", "q")
    assert questions.busy("s1") and not questions.busy("s2")
    questions.release("s1")
    assert not questions.busy("s1")
