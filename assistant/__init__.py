"""Bilingual, citation-first answers about the documents in ``corpus/``.

The public faces, imported lazily so that ``import assistant`` stays cheap (no Chroma, no models):
``Assistant`` (the core the CLI, UI and API call), ``Settings``, and the LangChain faces ``ReportRetriever``,
``as_runnable``, ``changes_tool``, ``verify_citations`` and ``format_sources``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.service import Assistant
    from assistant.serving.langchain import (
        ReportRetriever,
        as_runnable,
        changes_tool,
        format_sources,
        verify_citations,
    )
    from assistant.settings import Settings

_EXPORTS = {
    "Assistant": "assistant.service",
    "Settings": "assistant.settings",
    "ReportRetriever": "assistant.serving.langchain",
    "as_runnable": "assistant.serving.langchain",
    "changes_tool": "assistant.serving.langchain",
    "format_sources": "assistant.serving.langchain",
    "verify_citations": "assistant.serving.langchain",
}
__all__ = ["Assistant", "ReportRetriever", "Settings", "as_runnable", "changes_tool", "format_sources", "verify_citations"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
