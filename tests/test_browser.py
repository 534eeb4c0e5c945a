"""The web app in a real browser: Debian's chromium, driven by Playwright, against real `assistant serve` processes.

Each step is also saved as a screenshot under tests/artifacts/browser/<test>/ (git-ignored), so a person
can see what the browser saw. No browser is downloaded: CI installs chromium with apt (.ci/run).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import finished_job
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
    page.get_by_role("tab", name=re.compile("Documents")).click()
    page.locator("#admin-token input").fill(private_served.admin_token)
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(upload)
    expect(page.locator("#document-status textarea")).to_have_value(re.compile("Saved appendix.md"))
    assert [path.read_text(encoding="utf-8") for path in private_served.corpus_dir.rglob("appendix.md")] == [APPENDIX]
    snap("uploaded")

    page.locator("#reindex").click()
    status = page.locator("#index-status textarea")
    expect(status).to_have_value(re.compile('"added"'), timeout=ANSWER_TIMEOUT_MS)
    assert "appendix.md" in json.loads(status.input_value())["documents"]["added"]
    row = page.locator("#documents").get_by_role("row").filter(has_text="appendix.md")
    expect(row.get_by_role("gridcell").nth(1)).to_have_text("indexed")  # the status column
    snap("reindexed", full_page=True)  # the table and the status are a screen apart

    page.get_by_role("tab", name=re.compile("Chat")).click()
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
