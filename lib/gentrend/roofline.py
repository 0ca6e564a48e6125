"""Decode roofline: at small batch, each decode step reads every weight once plus the cache, so memory
bandwidth bounds the speed:

    fastest tokens/s = batch / (bytes read per step / bandwidth)
    bytes read per step = weights read (an untied input embedding contributes one row, counted as none)
                        + batch x (context x KV bytes per token + linear-attention state)

Compute, kernel launches and the logits are ignored, so measured speed stays below the roofline; the ratio
measured / roofline says how close an implementation gets. Bandwidths: data/gpus.yaml (vendor figures) for
known GPUs; otherwise (and for the CPU) `measure_bandwidth`, a copy test, counts bytes read + written.
"""

from __future__ import annotations

import re

import statistics
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import yaml

from . import paths
from .architecture import describe
from .catalogue import Model
from .errors import DataError, GentrendError
from .memory_model import _cache_dtype, precision_name, weights_read_per_token_bytes


@dataclass(frozen=True)
class GPU:
    name: str
    bandwidth_gb_s: float  # 10**9 bytes/s, as vendors state it
    memory_gib: float
    aliases: tuple[str, ...]
    source: str

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_gb_s * 1e9


@lru_cache(maxsize=4)
def load_gpus(path: Path | str | None = None) -> tuple[GPU, ...]:
    path = Path(path or paths.GPUS_FILE)
    if not path.exists():
        raise DataError(f"GPU table not found: {path}", "restore data/gpus.yaml from the repository")
    try:
        raw = yaml.safe_load(path.read_text())["gpus"]
        return tuple(GPU(g["name"], float(g["bandwidth_gb_s"]), float(g["memory_gib"]), tuple(g.get("aliases", [])), g["source"]) for g in raw)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path} is malformed: {e!r}", "every GPU needs name, bandwidth_gb_s, memory_gib, source") from None


def gpu(name: str) -> GPU:
    """A GPU by its name in data/gpus.yaml (case-insensitive; 'NVIDIA GeForce RTX 4080' also works)."""
    key = name.lower().removeprefix("nvidia ").removeprefix("geforce ").strip()
    for g in load_gpus():
        if key == g.name.lower() or key in (a.lower() for a in g.aliases):
            return g
    found = gpu_for_device_name(name)
    if found:
        return found
    raise GentrendError(f"unknown GPU {name!r}", f"use one of: {', '.join(g.name for g in load_gpus())} (or add it to data/gpus.yaml)")


def gpu_for_device_name(device_name: str) -> GPU | None:
    """The table entry with the longest alias found in a CUDA device name as whole words ("NVIDIA L40S" is
    not an L4, "GH200" not an H200, an "RTX 3060 Ti" not an RTX 3060), or None."""
    best, best_len = None, 0
    for g in load_gpus():
        for alias in (g.name, *g.aliases):
            if re.search(rf"(?<![\w-]){re.escape(alias)}(?!\w| Ti\b| SUPER\b)", device_name, re.IGNORECASE) and len(alias) > best_len:
                best, best_len = g, len(alias)
    return best


def bytes_per_decode_step(model: Model, batch: int = 1, context: int = 1024, dtype: str = "bf16", tiny: bool = False) -> float:
    """Bytes one decode step reads: weights + every sequence's KV cache at `context` tokens + its fixed state."""
    precision = precision_name(dtype)
    arch = describe(model, _cache_dtype(precision), tiny=tiny)
    cache = batch * (context * arch.kv_cache_bytes_per_token + arch.linear_state_bytes)
    return weights_read_per_token_bytes(model, precision, tiny=tiny) + cache


def decode_roofline_tokens_per_s(
    model: Model, bandwidth_bytes_per_s: float, batch: int = 1, context: int = 1024, dtype: str = "bf16", tiny: bool = False
) -> float:
    """The fastest decode possible (tokens/s over the whole batch) when bandwidth is the only limit."""
    if bandwidth_bytes_per_s <= 0:
        raise GentrendError(f"bandwidth must be positive, got {bandwidth_bytes_per_s}", "pass bytes per second")
    return batch * bandwidth_bytes_per_s / bytes_per_decode_step(model, batch, context, dtype, tiny)


def measure_bandwidth(device: str | torch.device = "cpu", size_mib: int = 256, repeats: int = 7) -> float:
    """Memory bandwidth in bytes/s from a copy test (median of `repeats`; bytes read + bytes written).

    A copy reaches less than the vendor's peak (typically 80-90 % on GPUs), so a roofline built on it is
    lower than one built on the datasheet figure: a ratio near 1 means decode runs at copy speed."""
    dev = torch.device(device)
    n = size_mib * 2**20 // 4
    src = torch.ones(n, dtype=torch.float32, device=dev)
    dst = torch.empty_like(src)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    dst.copy_(src)  # warm-up: page in both buffers
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        sync()
        times.append(time.perf_counter() - start)
    del src, dst
    return 2 * n * 4 / statistics.median(times)


_MEASURED: dict[str, float] = {}


def device_bandwidth(device: str | torch.device = "cpu", device_name: str = "") -> tuple[float, str]:
    """(bytes/s, where the figure comes from) for a device: the vendor figure for a known GPU, else a copy
    test (measured once per process and device)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        name = device_name or torch.cuda.get_device_name(dev)
        known = gpu_for_device_name(name)
        if known:
            return known.bandwidth_bytes_per_s, f"data/gpus.yaml: {known.name} ({known.source})"
    key = str(dev)
    if key not in _MEASURED:
        _MEASURED[key] = measure_bandwidth(dev)
    return _MEASURED[key], f"measured copy test on {key}"
