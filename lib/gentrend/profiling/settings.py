"""Profiling settings: one validated, frozen dataclass; defaults per device chosen for information per minute."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Literal

from gentrend.core.devices import check_device_name, resolve_device, unknown_device
from gentrend.core.errors import SettingError
from gentrend.core.vocab import BACKENDS, QUANTIZED_PRECISIONS, precision_name

Backend = Literal["eager", "compiled"]
CACHE_ROUNDING = 64  # static cache length: the sweep's longest prompt + new tokens, rounded up to this


class ProfileSettingsError(SettingError):
    """Profiling settings that cannot be measured (bad sizes, unknown backend or dtype)."""


@dataclass(frozen=True)
class ProfileSettings:
    """What one profile measures: the grid batch_sizes x prompt_lengths, each point generating exactly
    `new_tokens` tokens, after warm-up runs, repeated under the stopping rule (gentrend.profiling.stopping): at
    least `min_runs` runs, then until the relative confidence interval of the median decode speed is within
    `ci_bound` (half-width / median), at most `max_runs`.

    Warm-up: at least `warmup` runs (0: none), then more until a run compiled no graph (dynamo's counters) and
    its end-to-end time is within `stable_tolerance` of the run before; at most `max_warmup`. The run that shows
    stability is the first measured run (it is a run like the ones after it).

    Contention (gentrend.profiling.guard): a point during which other processes used the CPU beyond the guard's
    threshold, or whose spread stayed above the bound at the cap, is measured again, up to `max_retries` times;
    what is still contended is flagged on its rows (column `contended`) and never reused from the cache.

    backend: "compiled" (static cache sized once for the sweep, eager prefill, decode step compiled once per
    batch size: CUDA graphs on a GPU) or "eager" (transformers generate() with its dynamic cache, the
    "transformers eager" reference). dtype: a precision name of gentrend.core.vocab ("auto": bf16 on a GPU, fp32
    on the CPU; int8/int4: weight-only quantized); device as in gentrend.core.devices. Inputs are random token ids
    from `seed` (no tokenizer), attention mask of ones."""

    batch_sizes: tuple[int, ...] = (1, 2)
    prompt_lengths: tuple[int, ...] = (32, 128)
    new_tokens: int = 16
    warmup: int = 1
    max_warmup: int = 10
    stable_tolerance: float = 0.05
    min_runs: int = 3
    ci_bound: float = 0.05
    max_runs: int = 50
    max_retries: int = 2
    backend: Backend = "eager"
    dtype: str = "auto"
    device: str = "auto"
    seed: int = 0
    memory_sample_interval_s: float = 0.01  # NVML / RSS sampling thread (CPU uses the kernel's peak RSS instead)

    def __post_init__(self):
        object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        object.__setattr__(self, "prompt_lengths", tuple(self.prompt_lengths))
        for name in ("batch_sizes", "prompt_lengths"):
            values = getattr(self, name)
            if not values:
                raise ProfileSettingsError(f"{name} is empty", f"give at least one {name[:-1].replace('_', ' ')}")
            bad = [v for v in values if not isinstance(v, int) or isinstance(v, bool) or v < 1]
            if bad:
                raise ProfileSettingsError(f"{name} must be positive integers, got {bad}", f"e.g. {name}=[1, 2]")
        if not isinstance(self.new_tokens, int) or self.new_tokens < 2:
            raise ProfileSettingsError(
                f"new_tokens must be an integer >= 2, got {self.new_tokens!r}",
                "TPOT = (end-to-end - TTFT) / (new_tokens - 1) needs at least two generated tokens",
            )
        if (
            self.warmup < 0
            or self.max_warmup < self.warmup
            or self.min_runs < 1
            or self.max_runs < self.min_runs
            or self.ci_bound <= 0
            or self.max_retries < 0
            or not 0 < self.stable_tolerance < 1
        ):
            raise ProfileSettingsError(
                f"bad repetition settings: warmup={self.warmup}, max_warmup={self.max_warmup}, "
                f"stable_tolerance={self.stable_tolerance}, min_runs={self.min_runs}, max_runs={self.max_runs}, "
                f"ci_bound={self.ci_bound}, max_retries={self.max_retries}",
                "use 0 <= warmup <= max_warmup, 0 < stable_tolerance < 1, 1 <= min_runs <= max_runs, ci_bound > 0, "
                "max_retries >= 0",
            )
        if self.backend not in BACKENDS:
            raise ProfileSettingsError(f"unknown backend {self.backend!r}", f"use one of: {', '.join(BACKENDS)}")
        if self.dtype != "auto":
            object.__setattr__(self, "dtype", precision_name(self.dtype))
        try:
            check_device_name(self.device)
        except SettingError as e:
            raise ProfileSettingsError(e.problem, e.fix) from None

    @property
    def points(self) -> list[tuple[int, int]]:
        """The sweep grid, (batch, prompt length), small to large so cheap points come first; grouped by batch so
        the compiled backend compiles once per batch size."""
        return [(b, p) for b in sorted(self.batch_sizes) for p in sorted(self.prompt_lengths)]

    @property
    def cache_len(self) -> int:
        """Static cache length of the compiled backend: the longest prompt + new tokens, rounded up, so every
        prompt length of the sweep reuses one decode graph (decode attends over all of it: keep prompts close)."""
        return CACHE_ROUNDING * math.ceil((max(self.prompt_lengths) + self.new_tokens) / CACHE_ROUNDING)

    def quantized(self, precision: str) -> ProfileSettings:
        """The point a weight-only precision is measured at: batch 1 (or the smallest batch) and the shortest
        prompt, one compile; the rest of the settings unchanged."""
        if precision_name(precision) not in QUANTIZED_PRECISIONS:
            raise ProfileSettingsError(
                f"{precision!r} is not a weight-only precision", f"use one of: {', '.join(QUANTIZED_PRECISIONS)}"
            )
        return self.replace(
            dtype=precision, batch_sizes=(min(self.batch_sizes),), prompt_lengths=(min(self.prompt_lengths),)
        )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    def replace(self, **changes) -> ProfileSettings:
        return dataclasses.replace(self, **changes)


_DEFAULTS = {
    # 2 CPU cores profile three ~0.5-0.8B fp32 models in about two minutes (the default report in five), for
    # information per minute: batch 1 (single-stream latency, what the speed claims read) and batch 2 (batch
    # scaling) at one short prompt (a 128-token prefill alone costs seconds here and TTFT grows linearly with
    # it: --prompt-lengths 32,128 shows it), 8 new tokens (7 decode steps: TPOT's median needs no more). A run
    # repeats until the median decode speed is known to +-5 % (3 to 8 runs). Eager: on the CPU torch.compile
    # costs more time than it saves.
    "cpu": dict(
        batch_sizes=(1, 2),
        prompt_lengths=(32,),
        new_tokens=8,
        warmup=1,
        max_warmup=3,  # eager on the CPU compiles nothing: past a few runs, unsettled timings are load, not warm-up
        min_runs=3,
        ci_bound=0.05,
        max_runs=8,
        max_retries=1,  # a contended point is measured once more: on a machine busy for good, at most 2x the time
        backend="eager",
    ),
    # a GPU, for information per minute: every batch size costs one compile (about 0.5-2.5 min per model on an
    # H100, docs/measurements.md) while a prompt length costs seconds, so batch 1 (single-stream
    # latency, the bandwidth roofline) at two prompt lengths close enough that one static cache serves both
    # without much padding; batch scaling on request (--batch-sizes 1,16). 64 new tokens: decode dominates.
    "cuda": dict(
        batch_sizes=(1,),
        prompt_lengths=(128, 1024),
        new_tokens=64,
        warmup=2,
        min_runs=5,
        ci_bound=0.02,
        max_runs=50,
        backend="compiled",
    ),
}
# weight-only precisions measured (as well) on each device: torchao's int4 (tinygemm) runs on CUDA only
QUANTIZED_BY_DEVICE = {"cpu": ("int8",), "cuda": ("int8", "int4")}


def device_kind(device: str) -> str:
    """'cpu' or 'cuda' for a device name ("auto" resolves to cuda when available)."""

    kind = resolve_device(device).type if device == "auto" else str(device).split(":")[0]
    if kind not in _DEFAULTS:
        raise unknown_device(device)
    return kind


def quantized_precisions(device: str) -> tuple[str, ...]:
    """The weight-only precisions that can be measured on a device kind."""
    return QUANTIZED_BY_DEVICE[device_kind(device)]


def defaults_for(device: str = "auto", **overrides) -> ProfileSettings:
    """Defaults for a device kind ("auto" resolves to cuda when available; "cuda" plans a GPU grid even on a
    machine without one, the runner checks the device exists). An override that is None keeps the default, so a
    notebook passes its parameters through unchanged (batch_sizes=None -> the device's batch sizes)."""
    kind = device_kind(device)
    given = {k: v for k, v in overrides.items() if v is not None}
    return ProfileSettings(**{**_DEFAULTS[kind], "device": device, **given})
