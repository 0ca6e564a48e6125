"""Decode roofline: at small batch, each decode step reads every weight once plus the cache, so memory
bandwidth bounds the speed:

    fastest tokens/s = batch / (bytes read per step / bandwidth)
    bytes read per step = weights read (an untied input embedding contributes one row, counted as none)
                        + batch x (context x KV bytes per token + linear-attention state)

Compute, kernel launches and the logits are ignored, so measured speed stays below the roofline; the ratio
measured / roofline says how close an implementation gets.

Two bandwidths, side by side (`device_bandwidth`): the datasheet figure (data/gpus.yaml, known GPUs only) and one
measured on the device by `measure_bandwidth`, a copy test (bytes read + written; median with the p10-p90
spread). A copy reaches less than the datasheet (typically 85-92 % on GPUs), so the measured roofline is the
lower, more reachable one; every percentage says which it uses. The copy test runs once per run and device
(the figure is stored in the run folder and reused by every model of the run).

On the CPU decode is often compute-bound, not bandwidth-bound: then the roofline is only an upper bound.
`decode_regime` reads it from batch scaling: bandwidth-bound decode reads the weights once per step whatever
the batch, so doubling the batch nearly doubles tokens/s; compute-bound decode does not speed up with batch.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.files import OutputError, read_yaml, write_json
from gentrend.core.limits import Name, Text
from gentrend.core.text import escape, shorten
from gentrend.core.vocab import compute_precision, precision_name
from gentrend.models.architecture import describe
from gentrend.models.catalogue import Model
from gentrend.models.memory_model import weights_read_per_token_bytes

if TYPE_CHECKING:
    import torch


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
    name: Name = Field(min_length=1)
    bandwidth_gb_s: float = Field(gt=0, allow_inf_nan=False)
    memory_gib: float = Field(gt=0, allow_inf_nan=False)
    aliases: tuple[Name, ...] = ()
    source: Text = Field(min_length=1)


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
            raise DataError(
                f"{path}: GPU #{i + 1} ({shorten(name)}): {fields}",
                "every GPU needs name, bandwidth_gb_s, memory_gib (datasheet figures) and source",
            ) from None
        keys = {key.lower(): key for key in (entry.name, *entry.aliases)}  # an alias may repeat the name
        for low, key in keys.items():
            if low in owner:
                raise DataError(
                    f"{path}: GPU #{i + 1} ({entry.name!r}): name or alias {key!r} is already used by {owner[low]!r}",
                    "give each GPU its own name and aliases",
                )
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
    raise GentrendError(
        f"unknown GPU {shorten(name)}",
        f"use one of: {', '.join(g.name for g in load_gpus())} (or add it to data/gpus.yaml)",
    )


def gpu_for_device_name(device_name: str) -> GPU | None:
    """The table entry with the longest alias found in a CUDA device name as whole words ("NVIDIA L40S" is
    not an L4, "GH200" not an H200, an "RTX 3060 Ti" not an RTX 3060), or None."""
    best, best_len = None, 0
    for g in load_gpus():
        for alias in (g.name, *g.aliases):
            if (
                re.search(rf"(?<![\w-]){re.escape(alias)}(?!\w| Ti\b| SUPER\b)", device_name, re.IGNORECASE)
                and len(alias) > best_len
            ):
                best, best_len = g, len(alias)
    return best


def bytes_per_decode_step(
    model: Model, batch: int = 1, context: int = 1024, dtype: str = "bf16", tiny: bool = False
) -> float:
    """Bytes one decode step reads: weights + every sequence's KV cache at `context` tokens + its fixed state."""
    precision = precision_name(dtype)
    arch = describe(model, compute_precision(precision), tiny=tiny)
    cache = batch * (context * arch.kv_cache_bytes_per_token + arch.linear_state_bytes)
    return weights_read_per_token_bytes(model, precision, tiny=tiny) + cache


def decode_roofline_tokens_per_s(
    model: Model,
    bandwidth_bytes_per_s: float,
    batch: int = 1,
    context: int = 1024,
    dtype: str = "bf16",
    tiny: bool = False,
) -> float:
    """The fastest decode possible (tokens/s over the whole batch) when bandwidth is the only limit."""
    if bandwidth_bytes_per_s <= 0:
        raise GentrendError(f"bandwidth must be positive, got {bandwidth_bytes_per_s}", "pass bytes per second")
    return batch * bandwidth_bytes_per_s / bytes_per_decode_step(model, batch, context, dtype, tiny)


def _spread(values: list[float]) -> dict:
    return {
        "median": float(np.median(values)),
        "p10": float(np.percentile(values, 10)),
        "p90": float(np.percentile(values, 90)),
        "samples": len(values),
    }


def measure_bandwidth(
    device: str | torch.device = "cpu", size_mib: int | None = None, samples: int | None = None
) -> dict:
    """A copy test: {median, p10, p90, samples} in bytes/s (bytes read + written) and, on CUDA, `read`: the
    same for a read-only pass (a sum), which is what decode mostly does.

    CUDA: 1 GiB buffers (20x an H100's L2), 5 warm-ups, 30 samples of 10 back-to-back copies timed with CUDA
    events (no host overhead). CPU: 256 MiB, samples of 2 copies timed with perf_counter."""
    import torch  # here, not at the top: `gentrend check` reads the GPU table without torch

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    size = (size_mib or (1024 if cuda else 256)) * 2**20
    samples = samples or (30 if cuda else 7)
    inner = 10 if cuda else 2
    src = torch.ones(size // 4, dtype=torch.float32, device=dev)
    dst = torch.empty_like(src)
    ops = {"copy": (lambda: dst.copy_(src), 2 * size)}
    if cuda:
        ops["read"] = (lambda: src.sum(), size)
    out = {}
    for name, (op, moved) in ops.items():
        for _ in range(5 if cuda else 1):  # first touch, allocator, clocks
            op()
        rates = []
        for _ in range(samples):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    op()
                end.record()
                end.synchronize()
                seconds = start.elapsed_time(end) / 1e3
            else:
                t0 = time.perf_counter()
                for _ in range(inner):
                    op()
                seconds = time.perf_counter() - t0
            rates.append(inner * moved / seconds)
        out[name] = _spread(rates)
    return out["copy"] | ({"read": out["read"]} if "read" in out else {})


@dataclass(frozen=True)
class Bandwidth:
    """A device's memory bandwidth, bytes/s: the datasheet figure (None for the CPU or a GPU not in the table) and
    the copy test's median with its p10-p90 spread."""

    device: str
    device_name: str
    datasheet: float | None
    datasheet_source: str
    measured: float
    measured_p10: float
    measured_p90: float
    measured_read: float | None = None  # CUDA: read-only pass

    @property
    def measured_note(self) -> str:
        return (
            f"copy test on {self.device} ({self.device_name}): {self.measured / 1e9:.0f} GB/s "
            f"[{self.measured_p10 / 1e9:.0f}-{self.measured_p90 / 1e9:.0f}]"
        )


def device_bandwidth(
    device: str | torch.device = "cpu", device_name: str = "", store: Path | str | None = None
) -> Bandwidth:
    """Datasheet and measured bandwidth of a device. The copy test runs once per `store` file (the run folder's
    record for this device): a second model of the same run reads it back instead of measuring again. A store
    that cannot be written only means the next model measures again."""
    import torch

    dev = torch.device(device)
    name = device_name or (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu")
    known = gpu_for_device_name(name) if dev.type == "cuda" else None
    measured = None
    if store and Path(store).is_file():
        try:
            saved = json.loads(Path(store).read_text())
            if saved.get("device") == str(dev) and saved.get("device_name") == name:
                measured = saved
        except (OSError, ValueError):
            measured = None
    if measured is None:
        test = measure_bandwidth(dev)
        measured = {
            "device": str(dev),
            "device_name": name,
            "measured": test["median"],
            "measured_p10": test["p10"],
            "measured_p90": test["p90"],
            "measured_read": test.get("read", {}).get("median"),
        }
        if store:
            with contextlib.suppress(OutputError):
                write_json(store, measured)
    return Bandwidth(
        str(dev),
        name,
        known.bandwidth_bytes_per_s if known else None,
        f"data/gpus.yaml: {known.name} ({known.source})" if known else "",
        measured["measured"],
        measured["measured_p10"],
        measured["measured_p90"],
        measured.get("measured_read"),
    )


SCALING_BANDWIDTH_BOUND = 0.75  # scaling efficiency at or above: bandwidth-bound; at or below 1 - it: compute-bound


OVERHEAD_BOUND = 0.25  # below this share of the roofline, a per-step cost that batching amortises is overhead


def decode_regime(points: pd.DataFrame) -> pd.DataFrame:
    """Per profiled model, backend and precision: decode tokens/s at the smallest and the largest measured batch
    (shortest prompt), the scaling efficiency ((speed-up - 1) / (batch ratio - 1): 1 = tokens/s grow with the
    batch, 0 = no gain) and the regime it shows. A cost paid once per step (tokens/s grow with the batch) is
    "bandwidth-bound" when the smallest batch reaches at least OVERHEAD_BOUND of the roofline, else
    "overhead-bound" (Python, kernel launches: far below the roofline); no gain is "compute-bound"; "between"
    otherwise; "one batch size" when only one was measured. `points`: the wide table of gentrend.profiling.wide."""
    ok = points[(points["status"] == "ok")] if "status" in points else points
    rows = []
    for (model, backend, dtype, device), g in ok.groupby(["model", "backend", "dtype", "device"], sort=False):
        g = g[g["prompt_length"] == g["prompt_length"].min()].sort_values("batch_size")
        lo, hi = g.iloc[0], g.iloc[-1]
        ratio = hi["batch_size"] / lo["batch_size"]
        speedup = hi["decode_tokens_per_s"] / lo["decode_tokens_per_s"]
        efficiency = (speedup - 1) / (ratio - 1) if ratio > 1 else np.nan
        per_step = "bandwidth-bound" if lo.get("roofline_fraction", 1.0) >= OVERHEAD_BOUND else "overhead-bound"
        regime = (
            "one batch size"
            if ratio == 1
            else per_step
            if efficiency >= SCALING_BANDWIDTH_BOUND
            else "compute-bound"
            if efficiency <= 1 - SCALING_BANDWIDTH_BOUND
            else "between"
        )
        rows.append(
            {
                "model": model,
                "backend": backend,
                "dtype": dtype,
                "device": device,
                "batch_low": int(lo["batch_size"]),
                "batch_high": int(hi["batch_size"]),
                "tokens_per_s_low": lo["decode_tokens_per_s"],
                "tokens_per_s_high": hi["decode_tokens_per_s"],
                "speedup": speedup,
                "scaling_efficiency": efficiency,
                "regime": regime,
            }
        )
    return pd.DataFrame(rows)


def regime_text(regime: pd.DataFrame) -> str:
    """Markdown: per model, what batch scaling says about the decode regime, and what that means for the roofline
    (on a compute-bound device it is only an upper bound). Values escaped for HTML."""

    if regime.empty:
        return "No decode measurements: no regime to read."
    lines = []
    for r in regime.itertuples():
        where = f"{escape(r.model)} ({escape(r.backend)}, {escape(r.dtype)}, {escape(r.device)})"
        if r.regime == "one batch size":
            lines.append(f"- {where}: one batch size measured, so batch scaling cannot show the regime.")
            continue
        text = (
            f"- {where}: batch {r.batch_high} decoded {r.speedup:.2f}x the tokens/s of batch {r.batch_low} "
            f"(a bandwidth-bound decoder would gain about {r.batch_high / r.batch_low:.0f}x): **{escape(r.regime)}**."
        )
        if r.regime == "overhead-bound":
            text += (
                " Far below the bandwidth roofline: a fixed cost per step (Python, kernel launches), not memory "
                "traffic, limits decode; the roofline is only an upper bound here."
            )
        elif r.regime != "bandwidth-bound":
            text += " The bandwidth roofline is only an upper bound here: compute, not memory traffic, limits decode."
        lines.append(text)
    return "\n".join(lines)
