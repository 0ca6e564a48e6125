"""Two profiling runs must never time each other: a per-device lock, and a note on the rows when something
else was busy on the device.

- `device_lock(device)`: a file lock per device (filelock) under the cache folder, held for the whole profile
  (load, sweep, bandwidth test). A second run on the same device waits, saying so, and starts when the first
  is done. Where the cache folder cannot be written, the lock lives in the system's temporary folder.
- `busy_note(device)`: "" when the device looked free; otherwise what else was using it. CUDA: NVML's running
  compute processes other than this one, and the GPU utilisation sampled for half a second; CPU: the share of
  the machine's CPU time used in half a second while this process sleeps (so it is other processes' work).
- `ContentionProbe`: during each point's measured runs, other processes' share of the machine's CPU time:
  (busy CPU seconds of the machine, steal included, - this process's CPU seconds) / (wall seconds x cores).
  `contention(...)` calls a point contended when that share is at least BUSY_SHARE, or when the point stopped
  at its cap with a spread above SPREAD_FACTOR x the stopping bound (something disturbed the runs that the
  share did not see). The sweep measures a contended point again, up to ProfileSettings.max_retries times.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch
from filelock import FileLock, Timeout

from gentrend.core.files import lock_file
from gentrend.profiling.cache import cache_folder
from gentrend.profiling.measure import _nvml_handle

BUSY_UTILISATION = 10  # % GPU utilisation, sampled while this process is idle, that counts as busy
BUSY_CPU = 50  # % of the machine's CPU time used by others while this run is idle that counts as busy
BUSY_SHARE = 0.25  # others' share of the machine's CPU time during a point's runs that makes it contended
SPREAD_FACTOR = 2.0  # a point at its cap whose relative CI is above this x the bound is contended


def _lock_file(device: torch.device, cache_dir) -> Path:
    name = re.sub(r"[^A-Za-z0-9_-]", "-", str(device)) + ".lock"
    for folder in (cache_folder(cache_dir) / "locks", Path(tempfile.gettempdir()) / "gentrend-locks"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            lock_file(path)  # never through a symlink
            return path
        except OSError:
            continue
    raise OSError("no writable folder for the profiling lock")


@contextlib.contextmanager
def device_lock(device: torch.device, cache_dir=None, timeout: float = -1):
    """Hold the device's profiling lock; wait for it (saying so once) if another run holds it. timeout: seconds
    (-1: wait as long as it takes); past it, filelock.Timeout."""
    lock = FileLock(_lock_file(device, cache_dir))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"another gentrend run is profiling on {device}: waiting for it to finish ({lock.lock_file})",
            file=sys.stderr,
            flush=True,
        )
        lock.acquire(timeout=timeout)
    try:
        yield
    finally:
        lock.release()


def _nvml_busy(device: torch.device) -> list[str]:
    import pynvml

    handle = _nvml_handle(device)
    if handle is None:
        return []
    notes = []
    others = [p for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle) if p.pid != os.getpid()]
    if others:
        notes.append(
            "other processes on the GPU: "
            + ", ".join(
                f"pid {p.pid}" + (f" ({p.usedGpuMemory / 2**30:.1f} GiB)" if p.usedGpuMemory else "") for p in others
            )
        )
    samples = []
    for _ in range(5):
        samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        time.sleep(0.1)
    if max(samples) >= BUSY_UTILISATION:
        notes.append(f"GPU {max(samples)} % busy while this run was idle")
    return notes


def busy_note(device: torch.device) -> str:
    """What else was busy on the device right now ("" when nothing was seen, or it cannot be read)."""
    try:
        if device.type == "cuda":
            notes = _nvml_busy(device)
        else:
            used = psutil.cpu_percent(interval=0.5)  # this process sleeps meanwhile: the time is other processes'
            notes = (
                [f"CPU {used:.0f} % busy with other processes on {os.cpu_count()} cores"] if used >= BUSY_CPU else []
            )
    except Exception:
        return ""
    return "; ".join(notes) + (": other work competed, timings may be slow and noisy" if notes else "")


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine since boot, steal included; CPU seconds of this process)."""
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    own = psutil.Process().cpu_times()
    return busy, own.user + own.system


class ContentionProbe:
    """Other processes' share of the machine's CPU time over the `with` block (`others_share`, 0-1). `sample`
    (default `cpu_seconds`) and `clock` are injectable, so a test can feed it a load of its choosing."""

    def __init__(self, sample=None, clock=time.perf_counter, cores: int | None = None):
        self.sample, self.clock = sample or cpu_seconds, clock
        self.cores = cores or psutil.cpu_count() or 1
        self.others_share = 0.0

    def __enter__(self):
        self._start = (*self.sample(), self.clock())
        return self

    def __exit__(self, *exc):
        busy, own, now = (*self.sample(), self.clock())
        wall = now - self._start[2]
        others = (busy - self._start[0]) - (own - self._start[1])
        self.others_share = min(1.0, max(0.0, others / (wall * self.cores))) if wall > 0 else 0.0


def contention(others_share: float, ci_rel: float, stopped_on: str, ci_bound: float) -> str:
    """Why a point counts as contended ("" when it does not): see the module docstring. GENTREND_CONTENTION=off
    turns the judgement off (the test suite's notebook runs, whose tiny models are timed on a shared machine)."""
    if os.environ.get("GENTREND_CONTENTION", "").lower() == "off":
        return ""
    reasons = []
    if others_share >= BUSY_SHARE:
        reasons.append(f"other processes used {others_share:.0%} of the CPU (threshold {BUSY_SHARE:.0%})")
    if stopped_on == "cap" and ci_rel > SPREAD_FACTOR * ci_bound:
        reasons.append(f"spread +-{ci_rel:.0%} at the cap (threshold +-{SPREAD_FACTOR * ci_bound:.0%})")
    return "; ".join(reasons)
