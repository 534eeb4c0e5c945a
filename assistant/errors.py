"""Exceptions whose messages tell the user what to do next. Only the CLI and UI catch them."""


class AssistantError(Exception):
    """Base class: every expected failure the user can act on."""


class IndexMissing(AssistantError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(f"No index found in {index_dir}. Run `assistant index` to build it.")


class IndexMismatch(AssistantError):
    def __init__(self, differences: dict[str, tuple[str, str]]) -> None:
        detail = "; ".join(f"{key}: index has {old!r}, settings want {new!r}" for key, (old, new) in differences.items())
        super().__init__(
            f"The index was built with different settings ({detail}). Run `assistant index --rebuild`."
        )


class IndexCorrupt(AssistantError):
    def __init__(self, index_dir: object, reason: str) -> None:
        super().__init__(f"The index in {index_dir} cannot be read ({reason}). Run `assistant index --rebuild`.")


class EmptyCorpus(AssistantError):
    def __init__(self, corpus_dir: object) -> None:
        super().__init__(f"No .txt or .md documents found in {corpus_dir}. Add documents, then run `assistant index`.")


class BadDocument(AssistantError):
    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"Cannot read {path}: {reason}.")


class BadQuestion(AssistantError):
    """Empty, too long, or otherwise unusable question text."""


class BackendUnavailable(AssistantError):
    """An embedding model or other backend could not be loaded."""
