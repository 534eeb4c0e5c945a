"""``assistant index --watch``: re-index when files in the corpus change, after a short debounce."""

from __future__ import annotations

import logging
from collections.abc import Callable

from watchfiles import watch

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.types import IndexReport

log = logging.getLogger(__name__)
DEBOUNCE_MS = 800


def watch_corpus(
    assistant: Assistant, on_report: Callable[[IndexReport], None], *, stop_event: object | None = None
) -> None:
    """Blocks until interrupted (or ``stop_event`` is set); a failed run is logged and watching goes on."""
    corpus_dir = assistant.settings.paths.corpus_dir
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for _changes in watch(corpus_dir, debounce=DEBOUNCE_MS, stop_event=stop_event, raise_interrupt=False):
        try:
            report = assistant.index()
        except AssistantError as exc:
            log.error("re-index failed, the previous index keeps serving: %s", exc)
            continue
        if report.changed:
            on_report(report)
