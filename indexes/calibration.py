"""Which embedding backend this machine should use: measured once, then remembered.

`embed_backend = "auto"` times every backend on the same passages and compares its vectors with
the stock fp32 model's. A backend is kept only when each passage's five nearest neighbours stay
(nearly) the same, so retrieval is unchanged; the fastest one kept wins. The result is cached per
machine (CPU, threads, library versions) and model in `<cache_dir>/calibration.json`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexes.encoders import BACKENDS, STOCK, Encoder, open_encoder
from shopfloor.errors import ShopfloorError

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.97  # share of the 5 nearest neighbours that must match fp32's
MIN_COSINE = 0.99  # and no single vector may turn away from its fp32 twin
NEIGHBOURS = 5
NEAR_TIE = 0.15  # speeds within 15 % count as equal: calibration timings vary that much run to run
PREFERENCE = ("openvino-bf16", "openvino-fp32", "torch-bf16", "torch-fp32")


@dataclass
class Trial:
    """One backend's figures against stock fp32 on the same passages."""

    backend: str
    chunks_per_s: float = 0.0
    agreement: float = 0.0
    min_cosine: float = 0.0
    error: str | None = None

    @property
    def keeps_vectors(self) -> bool:
        return self.error is None and self.agreement >= MIN_AGREEMENT and self.min_cosine >= MIN_COSINE


@dataclass
class Calibration:
    """Every trial on this machine for one model, and the backend `auto` picks."""

    machine: str
    model: str
    trials: dict[str, Trial] = field(default_factory=dict)

    @property
    def chosen(self) -> str:
        """The fastest backend that keeps the vectors; a preferred one wins a near tie.

        OpenVINO is preferred within NEAR_TIE of the fastest: one inference call releases the GIL for
        the whole forward pass, so it keeps its speed while ingest parses the next PDF in a thread
        (torch re-takes the GIL between layers: measured 24 s in the pipeline against 9 s bare,
        where OpenVINO took 18 s), and it loads without importing torch (1 s against 6 s)."""
        kept = [t for t in self.trials.values() if t.keeps_vectors]
        if not kept:
            return STOCK
        fastest = max(t.chunks_per_s for t in kept)
        near = [t.backend for t in kept if t.chunks_per_s >= fastest * (1 - NEAR_TIE)]
        return min(near, key=PREFERENCE.index)


def neighbour_agreement(reference: np.ndarray, candidate: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Mean share of each row's k nearest rows (itself excluded) that both embeddings agree on."""

    def nearest(rows: np.ndarray) -> np.ndarray:
        similarity = rows @ rows.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argsort(-similarity, axis=1)[:, :k]

    pairs = zip(nearest(reference), nearest(candidate), strict=True)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in pairs]))


def machine_key(threads: int) -> str:
    """What makes a timing valid elsewhere: CPU model and features, threads, library versions."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="ignore").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    cpu = fields.get("model name") or platform.processor() or platform.machine()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "asimd", "sve")
    flags = "+".join(f for f in fields.get("flags", fields.get("Features", "")).split() if f in wanted)
    return f"{cpu}|{flags}|threads={threads}|{_versions()}"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("torch", "sentence-transformers", "openvino"):
        try:
            found.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            continue
    return ",".join(found)


class CalibrationCache:
    """calibration.json: machine|model -> trials, shared by every index on the machine."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / "calibration.json"

    def get(self, machine: str, model: str) -> Calibration:
        entry = self._read().get(f"{machine}|{model}", {})
        trials = {name: Trial(**raw) for name, raw in entry.items() if name in BACKENDS}
        return Calibration(machine, model, trials)

    def put(self, calibration: Calibration) -> None:
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            entries = self._read()
            key = f"{calibration.machine}|{calibration.model}"
            entries[key] = {**entries.get(key, {}), **{n: asdict(t) for n, t in calibration.trials.items()}}
            staging = self.path.with_suffix(".tmp")
            staging.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(staging, self.path)

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); calibrating again", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}


def run_trials(
    backends: list[str], model_path: Path, max_tokens: int, threads: int, batch_size: int, cache_dir: Path
) -> dict[str, Trial]:
    """Time each backend on the calibration passages and compare its vectors with stock fp32's."""
    texts = calibration_passages()
    stock = open_encoder(STOCK, model_path, max_tokens, threads, batch_size, cache_dir)
    reference, stock_speed = _timed(stock, texts)
    trials = {STOCK: Trial(STOCK, stock_speed, 1.0, 1.0)}
    for backend in backends:
        if backend == STOCK:
            continue
        trial = Trial(backend)
        try:
            encoder = open_encoder(backend, model_path, max_tokens, threads, batch_size, cache_dir)
            vectors, trial.chunks_per_s = _timed(encoder, texts)
        except (ShopfloorError, ImportError, RuntimeError, OSError, ValueError) as exc:
            trial.error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("embedding backend %s cannot run here: %s", backend, trial.error)
        else:
            trial.agreement = neighbour_agreement(reference, vectors)
            trial.min_cosine = float(np.min(np.sum(reference * vectors, axis=1)))
        trials[backend] = trial
        log.info("calibration %s", trial)
    return trials


def _timed(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors and chunks/s of one pass, after a warm-up batch (first calls allocate)."""
    encoder.encode(texts[:8])
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return vectors, len(texts) / (time.perf_counter() - started)


# Manual-like passages, generated: they cluster the way manuals do (the same equipment and parts
# in many passages), which makes neighbour order sensitive, so the check errs on the safe side.
_EQUIPMENT = (
    "hydraulic press", "CNC lathe", "air compressor", "forklift", "welding cell", "conveyor belt",
    "injection moulding machine", "band saw", "paint booth", "packaging line", "boiler", "robot arm",
    "milling centre", "chiller", "overhead crane", "laser cutter",
)  # fmt: skip
_PARTS = (
    "oil filter", "drive belt", "safety guard", "pressure relief valve", "coolant pump", "spindle bearing",
    "emergency stop button", "light curtain", "air intake", "hydraulic hose", "limit switch", "fuse",
    "gearbox", "nozzle", "clamp", "control panel", "battery", "brake pad", "fan", "sensor cable",
)  # fmt: skip
_ACTIONS = ("Inspect", "Replace", "Clean", "Lubricate", "Tighten", "Check", "Calibrate", "Drain", "Test", "Adjust")
_INTERVALS = ("every shift", "daily", "weekly", "every 250 hours", "every 500 hours", "monthly", "at start-up")
_SYMPTOMS = ("does not start", "overheats", "vibrates", "leaks oil", "makes a grinding noise", "loses pressure")
_CAUSES = ("a clogged {p}", "a worn {p}", "a loose {p}", "low oil level", "a blown fuse", "wrong parameter P{n}")
_NOTICES = (
    "WARNING: Lock out and tag out the {e} before opening any guard.",
    "CAUTION: Hot surfaces. Let the {e} cool for {n} minutes.",
    "DANGER: Stored pressure. Bleed the {p} before removing it.",
    "NOTE: Record the reading in the maintenance log.",
)
_KINDS = ("Maintenance", "Troubleshooting", "Procedure", "Safety")


def calibration_passages(count: int = 64, seed: int = 7) -> list[str]:
    """`count` passages of roughly a chunk's length (150-250 tokens), the same every time."""
    rng = random.Random(seed)
    passages = []
    for i in range(count):
        equipment, kind = _EQUIPMENT[i % len(_EQUIPMENT)], i // len(_EQUIPMENT) % len(_KINDS)
        sentences: list[str] = []
        for step in range(rng.randint(6, 10)):
            part, n = rng.choice(_PARTS), rng.randint(2, 90)
            if kind == 0:
                sentence = f"{rng.choice(_ACTIONS)} the {part} {rng.choice(_INTERVALS)}; torque the bolts to {n} Nm."
            elif kind == 1:
                cause = rng.choice(_CAUSES).format(p=part, n=n)
                sentence = f"If it {rng.choice(_SYMPTOMS)}, the likely cause is {cause}. Remedy: check the {part}."
            elif kind == 2:
                sentence = f"Step {step + 1}. {rng.choice(_ACTIONS)} the {part}; the gauge must read {n} bar."
            else:
                sentence = rng.choice(_NOTICES).format(e=equipment, p=part, n=n)
            sentences.append(sentence)
        passages.append(f"{equipment.title()} - {_KINDS[kind]}\n" + " ".join(sentences))
    return passages
