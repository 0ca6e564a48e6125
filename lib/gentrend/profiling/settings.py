"""Profiling settings: one validated, frozen dataclass; sensible defaults per device."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

from ..errors import SettingError
from ..vocab import BACKENDS, precision_name

Backend = Literal["eager", "compiled"]


class ProfileSettingsError(SettingError):
    """Profiling settings that cannot be measured (bad sizes, unknown backend or dtype)."""


@dataclass(frozen=True)
class ProfileSettings:
    """What one profile measures: the grid batch_sizes x prompt_lengths, each point generating exactly
    `new_tokens` tokens (min_new_tokens = max_new_tokens), after `warmup` unrecorded runs, repeated until
    both `min_runs` runs and `min_seconds` of measured time (capped at `max_runs`).

    backend: "eager" (transformers generate with a dynamic cache) or "compiled" (static cache +
    torch.compile through generate's compile_config). dtype: a precision name of gentrend.vocab ("auto": bf16
    on a GPU, fp32 on the CPU); device as in gentrend.devices. Inputs are random token ids from `seed` (no tokenizer), attention mask of ones."""

    batch_sizes: tuple[int, ...] = (1, 2)
    prompt_lengths: tuple[int, ...] = (32, 128)
    new_tokens: int = 16
    warmup: int = 1
    min_runs: int = 3
    min_seconds: float = 2.0
    max_runs: int = 50
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
        if self.warmup < 0 or self.min_runs < 1 or self.max_runs < self.min_runs or self.min_seconds < 0:
            raise ProfileSettingsError(
                f"bad repetition settings: warmup={self.warmup}, min_runs={self.min_runs}, "
                f"max_runs={self.max_runs}, min_seconds={self.min_seconds}",
                "use warmup >= 0, min_runs >= 1, max_runs >= min_runs, min_seconds >= 0",
            )
        if self.backend not in BACKENDS:
            raise ProfileSettingsError(f"unknown backend {self.backend!r}", f"use one of: {', '.join(BACKENDS)}")
        if self.dtype != "auto":
            object.__setattr__(self, "dtype", precision_name(self.dtype))
        if not isinstance(self.device, str) or not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ProfileSettingsError(f"unknown device {self.device!r}", "use auto, cpu, cuda or cuda:N")

    @property
    def points(self) -> list[tuple[int, int]]:
        """The sweep grid, (batch, prompt length), small to large so cheap points come first."""
        return [(b, p) for b in sorted(self.batch_sizes) for p in sorted(self.prompt_lengths)]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    def replace(self, **changes) -> "ProfileSettings":
        return dataclasses.replace(self, **changes)


_DEFAULTS = {
    # 2 CPU cores must profile three ~0.5-0.8B fp32 models in a few minutes: a 2 x 2 grid, 16 new tokens
    "cpu": dict(batch_sizes=(1, 2), prompt_lengths=(32, 128), new_tokens=16, warmup=1, min_runs=3, min_seconds=2.0),
    # a GPU: decode is bandwidth-bound at small batch and turns compute-bound as the batch grows
    "cuda": dict(batch_sizes=(1, 4, 16), prompt_lengths=(128, 1024, 4096), new_tokens=64, warmup=2, min_runs=5, min_seconds=3.0),
}


_EMPTY_IS_DEFAULT = ("batch_sizes", "prompt_lengths", "new_tokens", "dtype")
COMPILED_WARMUP = 3


def defaults_for(device: str = "auto", **overrides) -> ProfileSettings:
    """Defaults for a device kind ("auto" resolves to cuda when available; "cuda" plans a GPU grid even on a
    machine without one, the runner checks the device exists). Overrides that are None, "", or empty /
    zero for batch_sizes, prompt_lengths, new_tokens keep the default, so a notebook passes its parameters
    through unchanged (batch_sizes=[] -> device default)."""
    from ..devices import resolve_device

    kind = resolve_device(device).type if device == "auto" else device.split(":")[0]
    if kind not in _DEFAULTS:
        raise ProfileSettingsError(f"unknown device {device!r}", "use auto, cpu, cuda or cuda:N")
    given = {k: v for k, v in overrides.items() if not (v is None or v == "" or (k in _EMPTY_IS_DEFAULT and not v))}
    defaults = dict(_DEFAULTS[kind])
    if given.get("backend") == "compiled":
        # torch.compile recompiles during the first few generate calls (prefill, then decode shapes): measured
        # on a tiny Qwen3 on CPU, 1 warm-up run left decode at 49 tok/s against 648 tok/s after 3.
        defaults["warmup"] = max(defaults["warmup"], COMPILED_WARMUP)
    return ProfileSettings(**{**defaults, "device": device, **given})
