"""Generative backends behind LangChain's chat-model interface, and the one streaming call the app uses.

Three providers: any OpenAI-compatible endpoint (``ChatOpenAI``), an Ollama server (``ChatOllama``),
and a GGUF file run in this process by llama.cpp's server engine (``LocalChatModel`` over xllamacpp).
``stream_text`` is the boundary where every backend failure (refused connection, timeout, HTTP error,
dropped stream, missing model) becomes one ``LlmUnavailable`` whose message says what to try.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import xllamacpp
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_messages,
)
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.errors import LlmUnavailable
from assistant.settings import LlmSettings

NO_API_KEY = "not-needed"
"""Sent when no key is configured: the OpenAI client insists on one, local servers ignore it."""

FETCH_HINT = "Run `assistant model fetch` or set ASSISTANT_LLM__MODEL_PATH to an existing GGUF file."


def make_chat_model(settings: LlmSettings) -> BaseChatModel | None:
    """The configured chat model, or None for the offline extractive answerer."""
    provider = settings.resolved()  # auto: the local model when its file is there, else none
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=settings.endpoint(),
            api_key=settings.api_key.get_secret_value() or NO_API_KEY,
            model=settings.model,
            timeout=settings.timeout_s,
            max_retries=settings.retries,  # the OpenAI client backs off exponentially between attempts
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
        )
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.endpoint(),
            model=settings.model,
            temperature=settings.temperature,
            num_predict=settings.max_tokens,
            num_ctx=settings.n_ctx,
            client_kwargs={"timeout": settings.timeout_s},
            # httpx retries refused connections with exponential backoff; Ollama has no retry setting of its own.
            sync_client_kwargs={"transport": httpx.HTTPTransport(retries=settings.retries)},
        )
    if provider == "local":
        if not settings.model_path.is_file():
            raise LlmUnavailable("local", str(settings.model_path), "the model file does not exist", FETCH_HINT)
        return LocalChatModel(
            model_path=settings.model_path,
            n_ctx=settings.n_ctx,
            threads=settings.threads,
            n_batch=settings.batch,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
        )
    return None


def stream_text(model: BaseChatModel, messages: Sequence[tuple[str, str]]) -> Iterator[str]:
    """Yield the answer's text deltas for ``(role, content)`` pairs (roles: system, user, assistant).

    A stream that ends without the provider's finish marker was cut off (a proxy or server dropped
    it), so it raises instead of passing a truncated answer off as complete.
    """
    finished = False
    try:
        for chunk in model.stream(convert_to_messages(list(messages))):
            if chunk.text:
                yield chunk.text
            metadata = chunk.response_metadata
            finished = finished or bool(metadata.get("finish_reason") or metadata.get("done_reason"))
    except (openai.APIError, ollama.ResponseError, httpx.HTTPError, ConnectionError, TimeoutError) as exc:
        provider, target = _describe(model)
        reason, hint = _explain(exc)
        raise LlmUnavailable(provider, target, reason, hint) from exc
    if not finished:
        provider, target = _describe(model)
        raise LlmUnavailable(provider, target, "the response stream ended before the model finished", _HINTS["broken"])


_HINTS = {
    "connect": "Start the model server or correct ASSISTANT_LLM__BASE_URL.",
    "timeout": "The server may be overloaded: raise ASSISTANT_LLM__TIMEOUT_S or use a smaller model.",
    "auth": "Set ASSISTANT_LLM__API_KEY to a valid key for this endpoint.",
    "model": "Check ASSISTANT_LLM__MODEL against the models the server offers.",
    "server": "The server failed; check its logs, then ask again.",
    "request": "The server rejected the request; a shorter question or a larger context window may help.",
    "broken": "The connection broke mid-answer; ask again, and check the server or proxy logs if it repeats.",
}


def _explain(exc: BaseException) -> tuple[str, str]:
    """(reason, hint) for a provider failure; the order matters because timeouts subclass connection errors."""
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError)):
        return "no response in time", _HINTS["timeout"]
    if isinstance(exc, (openai.APIConnectionError, httpx.ConnectError, ConnectionError)):
        return "cannot connect", _HINTS["connect"]
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        kind = {401: "auth", 403: "auth", 404: "model"}.get(status, "server" if status >= 500 else "request")
        return f"HTTP {status}", _HINTS[kind]
    return f"{type(exc).__name__}: {exc}", _HINTS["broken"]


def _describe(model: BaseChatModel) -> tuple[str, str]:
    """(provider, where) for messages, read from the model object so ``stream_text`` needs no settings."""
    from langchain_ollama import ChatOllama
    from langchain_openai import ChatOpenAI

    if isinstance(model, ChatOpenAI):
        return "openai", f"{model.openai_api_base} (model {model.model_name!r})"
    if isinstance(model, ChatOllama):
        return "ollama", f"{model.base_url} (model {model.model!r})"
    return model._llm_type, type(model).__name__


def load_engine(model_path: Path, *, n_ctx: int, threads: int, batch: int = 512) -> xllamacpp.Server:
    """Start llama.cpp's server engine on a GGUF file; it also listens on a free 127.0.0.1 port.

    ``n_ctx`` is always explicit: the engine's default reserves the model's full training context
    (32k tokens for Qwen2.5), which costs far more memory than answering needs. Two slots share
    that one KV buffer and keep their cache while idle: the engine gives a prompt the slot whose
    cached prefix it shares most, so the Chinese answering prompt and the English translation
    prompt each find their fixed system prompt cached, however the languages alternate (one slot
    read it again at every switch, ~100 tokens, ~1.5 s on 2 cores). Requests still run one at a
    time (``turns.EngineQueue``).
    """
    return start_engine(engine_params(model_path, n_ctx=n_ctx, threads=threads, batch=batch))


def engine_params(model_path: Path, *, n_ctx: int, threads: int, batch: int = 512) -> xllamacpp.CommonParams:
    """The engine's settings for this machine (``benchmarks/bench_engine.py`` varies them)."""
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = n_ctx
    params.n_parallel = 2
    params.kv_unified = True  # both slots share n_ctx instead of halving it
    params.cache_idle_slots = False  # else an idle slot's cache is moved out, and a language switch misses it
    params.n_batch = params.n_ubatch = batch
    params.cache_prompt = True
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads or os.cpu_count() or 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.verbosity = -1
    return params


def start_engine(params: xllamacpp.CommonParams) -> xllamacpp.Server:
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise LlmUnavailable("local", params.model.path, "llama.cpp could not load the file", FETCH_HINT) from exc


class LocalChatModel(BaseChatModel):
    """A GGUF model run in-process on the CPU.

    The engine applies the chat template stored in the GGUF (ChatML for Qwen2.5), is loaded once on
    first use, and queues concurrent requests itself, so one instance can serve every thread.
    """

    model_path: Path
    n_ctx: int = 4096
    threads: int = 0
    n_batch: int = 512
    temperature: float = 0.1
    max_tokens: int = 512

    _engine: xllamacpp.Server | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "xllamacpp"

    def engine(self) -> xllamacpp.Server:
        with self._load_lock:
            if self._engine is None:
                self._engine = load_engine(self.model_path, n_ctx=self.n_ctx, threads=self.threads, batch=self.n_batch)
            return self._engine

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool) -> dict[str, Any]:
        return {
            "messages": convert_to_openai_messages(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": stop or [],
            "stream": stream,
        }

    def _failure(self, response: dict[str, Any]) -> LlmUnavailable:
        error = response["error"]
        hint = (
            "Raise ASSISTANT_LLM__N_CTX or ask a shorter question."
            if error.get("type") == "exceed_context_size_error"
            else "Check the GGUF file, or run `assistant model fetch` again."
        )
        return LlmUnavailable("local", str(self.model_path), error.get("message", "unknown engine error"), hint)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        response = self.engine().handle_chat_completions(self._request(messages, stop, stream=False))
        if "error" in response:
            raise self._failure(response)
        choice = response["choices"][0]
        info = {"finish_reason": choice["finish_reason"], "timings": response.get("timings", {})}
        message = AIMessage(content=choice["message"]["content"] or "")
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Bridge the engine's blocking callback API to a generator through a queue.

        The engine runs in a worker thread (it releases the GIL); when the consumer stops early the
        callback returns True, which tells the engine to stop generating.
        """
        engine = self.engine()
        request = self._request(messages, stop, stream=True)
        chunks: queue.Queue[dict[str, Any] | None] = queue.Queue()
        abandoned = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return abandoned.is_set()

        def run() -> None:
            try:
                engine.handle_chat_completions(request, on_chunk)
            finally:
                chunks.put(None)

        worker = threading.Thread(target=run, name="xllamacpp-stream", daemon=True)
        worker.start()
        try:
            while (response := chunks.get()) is not None:
                if "error" in response:
                    raise self._failure(response)
                choice = response["choices"][0]
                text = choice["delta"].get("content") or ""
                info = {"finish_reason": choice["finish_reason"]} if choice.get("finish_reason") else None
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text), generation_info=info)
                if run_manager and text:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        finally:
            abandoned.set()
            worker.join()
