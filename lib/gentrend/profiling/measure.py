"""Measure one sweep point: time to first token, decode speed, end-to-end latency, memory, energy, compiles.

Method (after optimum-benchmark): deterministic inputs (fixed-seed random token ids, attention mask of ones);
warm-up runs until the timings are stable (see ProfileSettings: no graph compiled in the last run and its time
within the tolerance of the one before; never a fixed count; the run that shows it is the first measured run);
then runs repeated under the stopping rule (gentrend.profiling.stopping: the median decode speed known to within
the settings' bound, between a floor and a cap of runs); every run generates exactly `new_tokens` tokens, greedy.
A probe (gentrend.profiling.guard.ContentionProbe) given by the sweep watches the measured runs for other work. Each run
of the backend (gentrend.profiling.backends) returns its TTFT and end-to-end time, so

    TTFT = the prefill forward + first token (CUDA synchronised)
    E2E  = until the last token (CUDA synchronised)
    TPOT = (E2E - TTFT) / (new_tokens - 1);  decode tokens/s = batch / TPOT;  prefill tokens/s = batch x prompt / TTFT

Attention kernel: after the first measured point of a runner (a batch size), one extra run under torch.profiler names
the SDPA implementation that ran (gentrend.profiling.backends.attention_kernels); kept on the runner. It runs
after the memory window and its memory is freed: the profiler's records are no memory of the model.

Compiles. Dynamo's counters around the warm-up give the point's compile seconds and graphs compiled (the first
point of a batch size compiles, later ones reuse the graph: 0); around the measured runs, any graph compiled is
a recompile during measurement and any graph break is counted, both recorded. The compile cache's state
(`compile_cache`): "cold" when inductor compiled a graph afresh (an FX graph cache miss), "warm" when every graph
came from the on-disk cache (gentrend.profiling.compile_cache), the runner's earlier state when the point compiled
nothing (the batch size's graph reused in memory), "none" on the eager backend.

Memory. CPU: the process's peak resident set size over the point's runs, from the kernel's high-water mark
(VmHWM in /proc/self/status, reset per point through /proc/self/clear_refs: exact and free); where that is
not available, RSS sampled by a background thread every `memory_sample_interval_s`. Reported: the peak,
and the peak minus the level before the point ("runtime"). CUDA: torch's
max allocated and max reserved (peak stats reset per point), and device-level used memory from NVML, sampled
the same way (it includes the CUDA context and any other process on the GPU). Energy: NVML's total-energy
counter around the measured runs, divided by the tokens generated (prefill energy included), where supported.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import psutil
import torch

from gentrend.models.loading import LoadedModel
from gentrend.models.memory_model import GIB
from gentrend.profiling.backends import attention_kernels, compile_counters, counter_delta, make_runner
from gentrend.profiling.settings import ProfileSettings
from gentrend.profiling.stopping import relative_ci, stop_reason


class PeakSampler:
    """Samples `read()` every `interval` seconds in a daemon thread; `.peak` is the largest value seen."""

    def __init__(self, read: Callable[[], float], interval: float = 0.002):
        self.read, self.interval = read, interval
        self.peak = read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())


class KernelPeakRss:
    """Peak RSS from the Linux high-water mark, reset on entry: no sampling thread, no overhead."""

    def __enter__(self):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5: reset the peak RSS to the current RSS
        return self

    def __exit__(self, *exc):
        pass

    @property
    def peak(self) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
        raise OSError("no VmHWM in /proc/self/status")


def kernel_peak_rss_available() -> bool:
    try:
        with KernelPeakRss() as tracker:
            return tracker.peak > 0
    except OSError:
        return False


def rss_bytes() -> float:
    return float(psutil.Process().memory_info().rss)


def _nvml_handle(device: torch.device):
    """The NVML handle of a torch CUDA device (matched by UUID, so CUDA_VISIBLE_DEVICES is respected)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        index = device.index if device.index is not None else torch.cuda.current_device()
        uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
        if uuid is not None:
            try:
                return pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
            except pynvml.NVMLError:
                pass
        return pynvml.nvmlDeviceGetHandleByIndex(index)
    except Exception:
        return None


def _nvml_used(handle) -> float:
    import pynvml

    return float(pynvml.nvmlDeviceGetMemoryInfo(handle).used)


def _nvml_energy_mj(handle) -> float | None:
    try:
        import pynvml

        return float(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
    except Exception:  # not supported on this GPU (pre-Volta) or by the driver
        return None


def make_inputs(vocab_size: int, batch: int, prompt_length: int, seed: int, device: torch.device) -> dict:
    """Deterministic prompt: random ids (fixed seed) from the vocabulary, no padding."""
    generator = torch.Generator().manual_seed(seed + 1000 * batch + prompt_length)
    ids = torch.randint(0, vocab_size, (batch, prompt_length), generator=generator).to(device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


class PointMetrics(dict):
    """{metric: {value, p10, p90, n_runs, unit, note}}, and in `.run` how the runs went: ci_rel (relative
    half-width of the median decode speed's CI), stopped_on ("bound" | "cap"), cpu_others_share (NaN without a
    probe), compile_cache ("cold" | "warm" | "none")."""

    run: dict


def summarize(values: list[float]) -> dict:
    """Median with the p10-p90 spread (linear interpolation), and the count."""
    arr = np.asarray(values, dtype=float)
    return {
        "value": float(np.median(arr)),
        "p10": float(np.percentile(arr, 10)),
        "p90": float(np.percentile(arr, 90)),
        "n_runs": len(arr),
    }


def free_memory(device: torch.device) -> None:
    """Collect garbage and hand freed memory back: CUDA's cached blocks, or on Linux the C heap's free pages."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif sys.platform == "linux":
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def warm_up(run, settings: ProfileSettings) -> dict:
    """Warm-up runs until stable (see ProfileSettings). Returns warmup_runs (not counting the run that showed
    stability), stable, `first` (that run's result, the first measured run; None when the warm-up was not
    stable or off), the compile counters' difference over the warm-up and its wall time."""
    before, started, results = compile_counters(), time.perf_counter(), []
    stable = settings.warmup == 0
    while not stable and len(results) < max(settings.max_warmup, settings.warmup + 1):
        graphs = compile_counters()["graphs"]
        results.append(run())
        compiled = compile_counters()["graphs"] > graphs
        times = [r[1] for r in results]
        stable = (
            len(times) >= settings.warmup + 1
            and len(times) >= 2
            and not compiled
            and abs(times[-1] - times[-2]) <= settings.stable_tolerance * min(times[-2:])
        )
    first = results.pop() if stable and results else None
    return {
        "warmup_runs": len(results),
        "first": first,
        "stable": stable,
        "seconds": time.perf_counter() - started,
        **counter_delta(before, compile_counters()),
    }


def measure_point(
    loaded: LoadedModel, settings: ProfileSettings, batch: int, prompt_length: int, runner=None, probe=None
) -> PointMetrics:
    """Measure one (batch, prompt length) point with `runner` (default: a new one of the settings' backend), the
    measured runs inside `probe` (a context manager with `.others_share` after it, e.g. ContentionProbe; None:
    not watched). Returns PointMetrics. Raises torch.OutOfMemoryError (or the CPU allocator's RuntimeError)
    when the point does not fit."""
    device, n = loaded.device, settings.new_tokens
    runner = runner or make_runner(loaded, settings, batch)
    inputs = make_inputs(loaded.model.config.vocab_size, batch, prompt_length, settings.seed, device)
    run = lambda: runner(inputs)
    cuda = device.type == "cuda"
    handle = _nvml_handle(device) if cuda else None
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        now = float(torch.cuda.memory_allocated(device))
        read = (lambda: _nvml_used(handle)) if handle is not None else (lambda: float("nan"))
    else:
        now = rss_bytes()
        read = rss_bytes
    # the runtime baseline is taken before the runner's first run: a compiled runner's static cache, made at the
    # first point of its batch size, stays allocated for the later points and is counted at every one of them
    if getattr(runner, "baseline", None) is None:
        runner.baseline = now
    before = runner.baseline
    kernel_peak = not cuda and kernel_peak_rss_available()
    tracker = KernelPeakRss() if kernel_peak else PeakSampler(read, settings.memory_sample_interval_s)
    ttft, e2e, tpot = [], [], []
    with tracker as sampler:
        warm = warm_up(run, settings)
        counters0 = compile_counters()
        energy0 = _nvml_energy_mj(handle) if handle is not None else None
        stopped_on, pending = "", [warm["first"]] if warm["first"] is not None else []
        with probe if probe is not None else contextlib.nullcontext():
            while not stopped_on:
                t_first, t_total, generated = pending.pop() if pending else run()
                if generated != n:
                    raise RuntimeError(f"{runner.backend} backend produced {generated} tokens instead of {n}")
                ttft.append(t_first)
                e2e.append(t_total)
                tpot.append((t_total - t_first) / (n - 1))
                stopped_on = stop_reason(
                    [batch / t for t in tpot], settings.min_runs, settings.max_runs, settings.ci_bound
                )
        energy1 = _nvml_energy_mj(handle) if handle is not None else None
        measured = counter_delta(counters0, compile_counters())

    s = lambda values, unit, note="": summarize(values) | {"unit": unit, "note": note}
    single = lambda v, unit, note: {"value": v, "p10": v, "p90": v, "n_runs": len(e2e), "unit": unit, "note": note}
    metrics = {
        "ttft_s": s(ttft, "s", "prefill forward + first token"),
        "prefill_tokens_per_s": s([batch * prompt_length / t for t in ttft], "tokens/s", "batch x prompt / TTFT"),
        "tpot_s": s(tpot, "s", "(E2E - TTFT) / (new_tokens - 1)"),
        "decode_tokens_per_s": s([batch / t for t in tpot], "tokens/s", "batch / TPOT, summed over the batch"),
        "e2e_s": s(e2e, "s", f"{n} new tokens"),
        "compile_s": single(
            warm["compile_s"], "s", "dynamo + inductor compile time during this point's warm-up (0: graph reused)"
        ),
        "warmup_runs": single(
            warm["warmup_runs"],
            "runs",
            "until stable"
            if warm["stable"]
            else f"NOT STABLE after {settings.max_warmup} warm-up runs (timings still moving)",
        ),
        "warmup_s": single(
            warm["seconds"], "s", "wall time of the warm-up runs (compile + CUDA graph recording included)"
        ),
        "graphs_compiled": single(warm["graphs"], "graphs", "graphs compiled during warm-up"),
        "recompiles": single(measured["graphs"], "graphs", "graphs compiled during the measured runs (should be 0)"),
        "graph_breaks": single(
            warm["graph_breaks"] + measured["graph_breaks"], "breaks", "dynamo graph breaks during the point"
        ),
    }
    if warm["cache_misses"]:
        runner.compile_cache = "cold"
    elif warm["cache_hits"]:
        runner.compile_cache = "warm"
    metrics = PointMetrics(metrics)
    metrics.run = {
        "ci_rel": relative_ci([batch / t for t in tpot]),
        "stopped_on": stopped_on,
        "cpu_others_share": probe.others_share if probe is not None else float("nan"),
        "compile_cache": getattr(runner, "compile_cache", None) or "none",
    }
    if warm["cudagraph_skips"] + measured["cudagraph_skips"]:
        runner.fallback = runner.fallback or "CUDA graphs skipped by inductor (decode ran compiled, without graphs)"
    if cuda:
        max_alloc = float(torch.cuda.max_memory_allocated(device))
        metrics["peak_memory_gib"] = single(max_alloc / GIB, "GiB", "torch.cuda.max_memory_allocated")
        metrics["runtime_memory_gib"] = single(
            (max_alloc - before) / GIB,
            "GiB",
            "max allocated - allocated before the batch size's first run (KV cache, state, activations)",
        )
        metrics["cuda_max_reserved_gib"] = single(
            torch.cuda.max_memory_reserved(device) / GIB, "GiB", "torch.cuda.max_memory_reserved"
        )
        if handle is not None:
            metrics["nvml_used_peak_gib"] = single(
                sampler.peak / GIB, "GiB", "NVML device used (all processes, CUDA context), sampled peak"
            )
        if energy0 is not None and energy1 is not None:
            joules = (energy1 - energy0) / 1000
            metrics["energy_j_per_token"] = single(
                joules / (batch * n * len(e2e)), "J/token", "NVML total energy / generated tokens (prefill included)"
            )
    else:
        how = (
            "kernel VmHWM, reset per point"
            if kernel_peak
            else f"psutil, sampled every {settings.memory_sample_interval_s} s"
        )
        metrics["peak_memory_gib"] = single(sampler.peak / GIB, "GiB", f"process peak RSS during the point ({how})")
        metrics["runtime_memory_gib"] = single(
            (sampler.peak - before) / GIB,
            "GiB",
            "peak RSS - RSS before the batch size's first run (KV cache, state, activations; allocator reuse can hide some)",
        )
    if getattr(runner, "sdpa", None) is None:
        # after every memory reading (the peaks are read live), then freed: torch.profiler's event records take
        # host memory of their own, which the process would keep (and later points count) until trimmed
        runner.sdpa = attention_kernels(run)
        free_memory(device)
    return metrics
