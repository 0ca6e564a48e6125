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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import paths
from .architecture import describe
from .catalogue import Model
from .errors import DataError, GentrendError
from .files import read_yaml
from .memory_model import weights_read_per_token_bytes
from .vocab import compute_precision, precision_name


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


class _GpuEntry(BaseModel):
    """One entry of data/gpus.yaml, as written there."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    bandwidth_gb_s: float = Field(gt=0, allow_inf_nan=False)
    memory_gib: float = Field(gt=0, allow_inf_nan=False)
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=1)


def load_gpus(path: Path | str | None = None) -> tuple[GPU, ...]:
    """The GPU table (data/gpus.yaml), validated: every entry needs name, bandwidth_gb_s, memory_gib (finite,
    positive) and source; names and aliases identify one GPU each."""
    return _load_gpus(Path(path or paths.data_file("gpus.yaml")).resolve())


@lru_cache(maxsize=4)
def _load_gpus(path: Path) -> tuple[GPU, ...]:
    raw = read_yaml(path, "GPU table")
    entries = raw.get("gpus") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path} has no 'gpus' list", "start the file with 'gpus:' followed by one entry per GPU")
    gpus, owner = [], {}
    for i, g in enumerate(entries):
        try:
            entry = _GpuEntry.model_validate(g)
        except ValidationError as e:
            name = g.get("name", "?") if isinstance(g, dict) else g
            fields = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in e.errors())
            raise DataError(f"{path}: GPU #{i + 1} ({name!r}): {fields}",
                            "every GPU needs name, bandwidth_gb_s, memory_gib (datasheet figures) and source") from None
        keys = {key.lower(): key for key in (entry.name, *entry.aliases)}  # an alias may repeat the name
        for low, key in keys.items():
            if low in owner:
                raise DataError(f"{path}: GPU #{i + 1} ({entry.name!r}): name or alias {key!r} is already used by "
                                f"{owner[low]!r}", "give each GPU its own name and aliases")
            owner[low] = entry.name
        gpus.append(GPU(entry.name, entry.bandwidth_gb_s, entry.memory_gib, entry.aliases, entry.source))
    return tuple(gpus)


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
    arch = describe(model, compute_precision(precision), tiny=tiny)
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
