"""Which embedding model built an index: its identity and the window its chunks must fit.

Its own module because the encoders (which export the model) and the embedder (which runs it)
both need it, and neither should import the other for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from shopfloor.errors import ShopfloorError

# The identity of a model: its config files and weight sizes, not its folder (paths move).
_IDENTITY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json")


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which model an index was built with, and the window its chunks must fit."""

    name: str
    fingerprint: str
    max_tokens: int

    @classmethod
    def from_model_path(cls, model_path: str | Path) -> EmbeddingSpec:
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise ShopfloorError(f"{path}: not a sentence-transformers model folder (no config.json)")
        digest = hashlib.sha256()
        for name in _IDENTITY_FILES:
            file = path / name
            if file.is_file():
                digest.update(name.encode() + file.read_bytes())
        for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return cls(name=_model_name(path), fingerprint=digest.hexdigest()[:16], max_tokens=_max_tokens(path))


def _model_name(path: Path) -> str:
    readme = path / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="ignore").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return path.name


def _max_tokens(path: Path) -> int:
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256
