"""Writing the model's section digests ahead of time (``assistant index --digests``).

Each digest is asked for through ``Assistant.ask`` exactly like a user's summary request, so it is
verified the same way and lands in the same cache a user's later request for that section reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answering.generate.summaries import summary_requests
from assistant.errors import NoLanguageModel
from assistant.indexing.build import StageProgress
from assistant.service import Assistant
from assistant.types import AnswerMode

STAGE = "write digests"


def write_digests(assistant: Assistant, languages: Sequence[str] = ("zh", "en"), progress: StageProgress | None = None) -> dict[str, int]:
    """Digest every main section and the whole report in each language; (written, kept, failed) counts.

    A digest whose cache key (section content, language, model) is already cached is kept without a model call,
    and so is the whole report's once every section's digest is: it is composed of them.
    """
    if assistant.chat_model() is None:
        raise NoLanguageModel("Writing section digests")
    requests = [q for language in languages for q in summary_requests(assistant.retriever().main_sections, language)]
    counts = {"written": 0, "kept": 0, "failed": 0}
    for done, question in enumerate(requests):
        if progress:
            progress(STAGE, done, len(requests))
        if assistant.written_digest(question) is not None:  # cached, or (the report's) composed of cached ones
            counts["kept"] += 1
            continue
        answer = assistant.ask(question)
        counts["written" if answer.mode is AnswerMode.GENERATED and not answer.notice else "failed"] += 1
    if progress:
        progress(STAGE, len(requests), len(requests))
    return counts
