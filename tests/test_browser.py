"""The web app in a real browser: Debian's chromium, driven by Playwright, against real `assistant serve` processes.

Each step is also saved as a screenshot under tests/artifacts/browser/<test>/ (git-ignored), so a person
can see what the browser saw. No browser is downloaded: CI installs chromium with apt (.ci/run).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import finished_job
from test_disconnect import LONG, engine_state, next_question_is_generated, stopped_for_nobody
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
ANSWER_TIMEOUT_MS = 60_000
APPENDIX = "# 附录\n\n示例公司的总部位于杭州，员工人数为1200人。\n"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMAGE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_URL = "https://evil.example/login"
HOSTILE = (
    f"# 安全公告\n\n钓鱼网站在评论区植入了脚本 {HOSTILE_SCRIPT} 和图片标签 {HOSTILE_IMAGE} 来窃取访客的登录凭证，"
    f"并把访客引向 {HOSTILE_URL} [2]。\n"
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests drive Debian's chromium. Install it with "
            "`apt-get install chromium` (.ci/run does this in CI); do not run `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab with its own storage, so every test starts with an empty chat."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def snap(page: Page, request: pytest.FixtureRequest) -> Callable[..., None]:
    """Saves numbered screenshots of this test's steps, replacing the previous run's: the viewport, or the whole page."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    steps = itertools.count(1)

    def save(step: str, *, full_page: bool = False) -> None:
        page.screenshot(path=folder / f"{next(steps):02d}-{step}.png", full_page=full_page)

    return save


def loose(quote: str) -> re.Pattern[str]:
    """The quote with any whitespace between its words, as every quote check compares: a table row's lines render as line breaks."""
    return re.compile(r"\s*".join(map(re.escape, quote.split())))


def ask(page: Page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def add_and_index(served: object, name: str, text: str) -> None:
    """Put a document into the served corpus and index it over the API, as an admin script would."""
    (served.corpus_dir / name).write_text(text, encoding="utf-8")
    admin = {"Authorization": f"Bearer {served.admin_token}"}
    with httpx.Client(base_url=served.url, timeout=120) as http:
        job = finished_job(http, http.post("/api/index", headers=admin), admin)
    assert name in job["report"]["documents"]["added"], job


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#question textarea")).to_be_editable()


@pytest.mark.parametrize(
    "question", ["微软对OpenAI的投资金额是多少？", "How much did Microsoft invest in OpenAI?"], ids=["zh", "en"]
)
def test_streamed_answer_links_its_last_citation_to_the_highlighted_passage(served, page, snap, question):
    expected = httpx.post(f"{served.url}/api/ask", json={"question": question}, timeout=60).json()
    citations = expected["citations"]
    assert expected["answerable"] and citations, expected  # the same server's API: what the chat must end up showing
    open_chat(page, served.url)
    snap("chat-open")

    ask(page, question)
    links = page.locator('#chat a[href^="#cite-"]')
    # The answer streams; it is complete once the link after the last quote has arrived.
    expect(links).to_have_count(len(citations), timeout=ANSWER_TIMEOUT_MS)
    chat = page.locator("#chat")
    expect(chat).to_contain_text("100亿美元")
    for citation in citations:
        expect(chat).to_contain_text(loose(citation["quote"]))
    snap("answer")

    last = citations[-1]
    expect(links.last).to_have_attribute("href", f"#cite-{last['n']}")
    links.last.click()
    passage = page.locator(f"#sources #cite-{last['n']}")
    expect(passage).to_be_in_viewport()
    expect(passage.locator("mark")).to_have_text(loose(last["quote"]))
    snap("cited-passage")


def test_uploaded_document_is_indexed_from_the_documents_tab_and_cited_in_the_chat(private_served, page, snap, tmp_path):
    upload = tmp_path / "appendix.md"
    upload.write_text(APPENDIX, encoding="utf-8")
    open_chat(page, private_served.url)
    page.locator("#documents-tab-button").click()
    page.locator("#admin-token input").fill(private_served.admin_token)
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(upload)
    expect(page.locator("#document-status textarea")).to_have_value(re.compile("已保存 appendix.md"))  # a Chinese browser
    assert [path.read_text(encoding="utf-8") for path in private_served.corpus_dir.rglob("appendix.md")] == [APPENDIX]
    snap("uploaded")

    page.locator("#reindex").click()
    status = page.locator("#index-status textarea")
    expect(status).to_have_value(re.compile('"added"'), timeout=ANSWER_TIMEOUT_MS)
    assert "appendix.md" in json.loads(status.input_value())["documents"]["added"]
    row = page.locator("#documents").get_by_role("row").filter(has_text="appendix.md")
    expect(row.get_by_role("gridcell").nth(1)).to_have_text("已索引")  # the status column, in the interface language
    snap("reindexed", full_page=True)  # the table and the status are a screen apart

    page.locator("#chat-tab-button").click()
    ask(page, "示例公司的总部在哪里？")
    passage = page.locator('#sources [id^="cite-"]', has_text="杭州")
    expect(passage).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    page.locator(f'#chat a[href="#{passage.get_attribute("id")}"]').click()
    expect(passage).to_be_in_viewport()
    expect(passage.locator("mark")).to_contain_text("杭州")
    snap("new-document-cited")


def test_markup_in_a_document_is_shown_as_text_and_never_runs(private_served, page, snap):
    add_and_index(private_served, "security-notice.md", HOSTILE)
    open_chat(page, private_served.url)

    ask(page, "钓鱼网站在评论区植入了什么脚本？")
    sources = page.locator("#sources")
    expect(sources).to_contain_text(HOSTILE_SCRIPT, timeout=ANSWER_TIMEOUT_MS)
    expect(sources).to_contain_text(HOSTILE_IMAGE)
    expect(page.locator("#chat")).to_contain_text(HOSTILE_SCRIPT, timeout=ANSWER_TIMEOUT_MS)
    # An injected <img> would have fired onerror by the time every image on the page has finished loading.
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    injected = page.evaluate(
        """() => ({
            pwned: typeof window.__pwned,
            scripts: [...document.scripts].filter(s => s.textContent.includes("__pwned")).length,
            images: document.querySelectorAll('img[onerror]').length,
        })"""
    )
    assert injected == {"pwned": "undefined", "scripts": 0, "images": 0}
    expect(page.locator("#chat")).to_contain_text(HOSTILE_URL)  # shown as text: not a link, and neither is its "[2]"
    expect(page.locator('#chat a[href*="evil"]')).to_have_count(0)
    links = page.locator('#chat a[href^="#cite-"]')
    assert links.count() == page.locator('#sources [id^="cite-"]').count()  # one link per citation, none from the text
    snap("markup-shown-as-text")


WARRANTY = "# Warranty notice\n\nThe gadget firmware is provided without any warranty of fitness for a particular purpose.\n"


def test_the_document_picker_limits_the_answer_to_the_picked_document(private_served, page, snap):
    add_and_index(private_served, "warranty.en.md", WARRANTY)
    open_chat(page, private_served.url)
    expect(page.locator("#header")).to_contain_text("warranty.en.md")  # the title names the indexed documents

    page.locator("#picker input").click()
    page.get_by_role("option", name="warranty.en.md").click()
    page.keyboard.press("Escape")
    snap("picked")
    ask(page, "What is the firmware provided without?")
    sources = page.locator("#sources")
    expect(sources).to_contain_text("without any warranty", timeout=ANSWER_TIMEOUT_MS)
    expect(sources).to_contain_text("warranty.en.md")
    expect(sources).not_to_contain_text("genai-enterprise-report.zh.txt")
    snap("answered-from-the-picked-document")


def test_conversations_are_saved_reopened_exported_and_rated(served, browser, tmp_path):
    """Two questions, a reload: the conversation is listed and reopens with its citations; its Markdown export holds
    every quote verbatim; a thumbs-down reaches `assistant feedback export`; another browser sees none of it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    first, follow = "微软对OpenAI的投资金额是多少？", "谷歌呢？"
    open_chat(page, served.url)
    for n, question in enumerate((first, follow), start=1):
        ask(page, question)
        expect(page.locator('#chat [data-testid="bot"]')).to_have_count(n, timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#chat a[href^='#cite-']").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#chat")).to_contain_text("Anthropic")  # the follow-up meant Google's investment
    listed = page.locator("#conversations")
    expect(listed).to_contain_text(first)

    page.reload()
    expect(page.locator("#question textarea")).to_be_editable()
    expect(listed).to_contain_text(first)
    chat = page.locator("#chat")
    expect(chat).to_contain_text(follow)  # the open conversation came back with the page
    expect(chat).to_contain_text("100亿美元")
    expect(page.locator("#sources mark").first).to_be_visible()

    page.locator("#new-chat").click()
    expect(chat).not_to_contain_text(follow)
    listed.get_by_text(first).click()  # reopened from the sidebar
    expect(chat).to_contain_text(follow)

    page.locator("#export").click()
    link = page.locator("#exported a").first
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    conversation_id = re.search(r"conversation-([\w-]+)\.md", download.value.suggested_filename).group(1)
    saved = httpx.get(f"{served.url}/api/conversations", headers={"X-Client-Id": "someone-else-0123456789"}).json()
    assert saved == []  # another client lists nothing
    assert markdown.startswith(f"# {first}") and follow in markdown
    assert markdown.count("> ") >= 2 and "第 1 版" in markdown

    page.locator('#chat [data-testid="bot"]').last.hover()  # the rating buttons show on the answer under the pointer
    page.locator('#chat button[aria-label="踩"]').last.click()  # "Dislike" in Gradio's Chinese
    expect(page.locator("#rated")).to_contain_text("评价已保存")  # the page follows the browser's language
    state = served.corpus_dir.parent / "state"
    exported = subprocess.run(
        [str(Path(sys.executable).parent / "assistant"), "feedback", "export"],
        env={**os.environ, "ASSISTANT_PATHS__STATE_DIR": str(state)}, capture_output=True, text=True, timeout=120,
    )
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert exported.returncode == 0 and any(
        r["question"] == follow and r["rating"] == -1 and r["id"].startswith(f"feedback-{conversation_id[:8]}") for r in rows
    ), exported
    context.close()


INTERFACE = ", ".join([
    '[data-testid="block-info"]',  # component labels
    "#chat-tab-button", "#documents-tab-button", "#changes-view > button",
    *(f"#{button}" for button in ("new-chat", "rename", "forget", "export", "ask", "delete", "reindex", "refresh", "compare")),
    "#documents thead th", "#sources .meta", ".prose h3",
])
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def interface_words(page: Page) -> list[str]:
    """The visible labels, buttons, headings and citation lines of both tabs, and the question box's placeholder:
    what the interface says, not what documents or answers say."""
    words: list[str] = [page.locator("#question textarea").get_attribute("placeholder") or ""]
    for tab in ("#documents-tab-button", "#chat-tab-button"):
        page.locator(tab).click()
        page.wait_for_timeout(300)  # the tab's contents are drawn
        words += page.evaluate(
            "sel => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null)"
            ".map(e => (e.matches('#sources .meta') ? e.innerText.split('·').pop() : e.innerText).trim())"
            ".filter(Boolean)",  # of a citation's line, its page: the file and section before it are the document's

            INTERFACE,
        )
    return words


def test_the_interface_speaks_the_browsers_language_and_the_switch_changes_every_label(served, page, snap):
    """A Chinese browser gets a Chinese interface; the switch turns every label English (and back), keeps the choice
    over a reload, and leaves the answers in the question's language."""
    open_chat(page, served.url)
    expect(page.locator("#header")).to_contain_text("可用中文或英文提问")
    ask(page, "微软对OpenAI的投资金额是多少？")
    expect(page.locator("#chat a[href^='#cite-']").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    chinese = interface_words(page)
    assert len(chinese) > 20 and not [w for w in chinese if LATIN_WORD.search(w)], chinese
    snap("chinese")

    page.locator("#ui-language").get_by_text("English").click()
    expect(page.locator("#ask")).to_have_text("Ask")
    expect(page.locator("#sources .meta").first).to_contain_text("p. ")
    english = interface_words(page)
    assert len(english) == len(chinese) and not [w for w in english if HAN.search(w)], english
    expect(page.locator("#chat")).to_contain_text("100亿美元")  # the answer stays in the question's language
    snap("english")

    page.reload()
    expect(page.locator("#ask")).to_have_text("Ask")  # the choice outlives the page
    expect(page.locator("#chat")).to_contain_text("100亿美元")
    page.locator("#ui-language").get_by_text("中文").click()
    expect(page.locator("#ask")).to_have_text("提问")
    assert interface_words(page) == chinese


def test_closing_the_tab_while_the_model_writes_stops_it_for_the_next_question(model_served, browser):
    _, stopped = engine_state(model_served.url)
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    page = context.new_page()
    open_chat(page, model_served.url)
    ask(page, LONG)
    expect(page.locator("#chat .draft")).to_have_count(1, timeout=3 * ANSWER_TIMEOUT_MS)  # quotes first, model queued
    expect(page.locator("#chat .draft")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)  # its own words are arriving
    context.close()
    stopped_for_nobody(model_served.url, stopped)  # Gradio closed the handler, which stopped the model (~1-2.5 s here)
    next_question_is_generated(model_served.url)


def test_a_question_asked_while_the_model_writes_is_shown_at_once_and_answered_next(model_served, page, snap):
    open_chat(page, model_served.url)
    ask(page, LONG)
    expect(page.locator('#chat [data-testid="bot"]')).to_have_count(1, timeout=3 * ANSWER_TIMEOUT_MS)
    # The model is writing: its engine says so (the draft can be replaced by the model's first words before the
    # page draws it, when the model has just read the same question for the test before)
    deadline = time.monotonic() + 3 * ANSWER_TIMEOUT_MS / 1000
    while engine_state(model_served.url)[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine_state(model_served.url)[0] >= 1, "the model never started writing"
    page.locator("#question textarea").fill("微软对OpenAI的投资金额是多少？")
    page.locator("#question textarea").press("Enter")
    expect(page.locator("#question textarea")).to_have_value("")
    chat = page.locator("#chat")
    expect(chat).to_contain_text("等待上一个回答完成", timeout=5_000)  # shown at once, queued
    snap("queued")
    expect(chat).not_to_contain_text("等待上一个回答完成", timeout=4 * ANSWER_TIMEOUT_MS)
    expect(chat.locator(".draft")).to_have_count(0, timeout=2 * ANSWER_TIMEOUT_MS)  # both answers finished
    expect(chat).to_contain_text("微软对OpenAI的投资金额是多少？")
    assert page.locator('#chat [data-testid="user"]').count() == 2 and page.locator('#chat [data-testid="bot"]').count() == 2
    snap("both-answered")


def test_the_changes_view_shows_two_versions_side_by_side_with_the_changed_figure_marked(private_served, page, snap):
    report = private_served.corpus_dir / "genai-enterprise-report.zh.txt"
    report.write_text(report.read_text(encoding="utf-8").replace("100亿美元", "130亿美元", 1), encoding="utf-8")
    admin = {"Authorization": f"Bearer {private_served.admin_token}"}
    with httpx.Client(base_url=private_served.url, timeout=120) as http:
        job = finished_job(http, http.post("/api/index", headers=admin), admin)
        assert job["report"]["documents"]["updated"] == ["genai-enterprise-report.zh.txt"], job
        listed = {d["doc_id"]: d for d in http.get("/api/documents").json()}
    assert listed["genai-enterprise-report.zh.txt"]["versions"] == [1, 2]
    open_chat(page, private_served.url)
    page.locator("#documents-tab-button").click()
    page.locator("#changes-view > button").click()
    page.locator("#changes-document input").click()
    page.get_by_role("option", name="genai-enterprise-report.zh.txt").click()
    changes = page.locator("#changes table.changes")
    expect(changes).to_be_visible()
    changed = changes.locator("tr.changed").first
    expect(changed.locator("td").first.locator("mark")).to_have_text("100亿美元")  # the old figure, in version 1
    expect(changed.locator("td").last.locator("mark")).to_have_text("130亿美元")  # the new one, in version 2
    expect(changes.locator("thead")).to_contain_text("第 1 版")  # a Chinese browser's interface
    expect(changes.locator("thead")).to_contain_text("第 2 版")
    snap("changes", full_page=True)


def test_a_pdf_citation_opens_its_page_with_the_quote_highlighted(private_served, page, snap):
    from test_pages import make_pdf

    make_pdf(private_served.corpus_dir / "annual-report.pdf")
    admin = {"Authorization": f"Bearer {private_served.admin_token}"}
    with httpx.Client(base_url=private_served.url, timeout=120) as http:
        job = finished_job(http, http.post("/api/index", headers=admin), admin)
        question = "Which plan did the board approve in March?"
        expected = http.post("/api/ask", json={"question": question, "documents": ["annual-report.pdf"]}).json()
    assert "annual-report.pdf" in job["report"]["documents"]["added"], job
    assert [(c["source"], c["page"]) for c in expected["citations"]][:1] == [("annual-report.pdf", 2)], expected
    open_chat(page, private_served.url)
    page.locator("#picker input").click()
    page.get_by_role("option", name="annual-report.pdf").click()
    page.keyboard.press("Escape")
    ask(page, question)
    cited = page.locator("#sources .source").filter(has_text="annual-report.pdf").first
    expect(cited).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    cited.locator("details.page summary").click()
    image = cited.locator("details.page img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 800", arg=image.element_handle())
    snap("pdf-page", full_page=True)
