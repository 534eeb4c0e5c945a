"""`assistant index --watch`: a change in corpus/ is indexed after the debounce, and watching stops cleanly."""

import threading

from assistant.service import Assistant
from assistant.serving.watch import watch_corpus
from assistant.settings import Settings

DOC = "# 投资\n\n微软对OpenAI的投资是100亿美元。\n"


def test_a_new_file_is_indexed_while_watching(corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    assistant = Assistant(Settings())
    assistant.index()
    reports, stop = [], threading.Event()

    def on_report(report):
        reports.append(report)
        stop.set()

    watcher = threading.Thread(target=watch_corpus, args=(assistant, on_report), kwargs={"stop_event": stop})
    watcher.start()
    try:
        threading.Timer(1.0, lambda: (corpus / "b.md").write_text("# 附录\n\n示例公司的总部位于杭州。\n", encoding="utf-8")).start()
        stop.wait(timeout=60)
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert len(reports) == 1 and reports[0].added == ("b.md",)
    assert any("杭州" in c.quote for c in assistant.ask("示例公司的总部在哪里？").citations)
