"""How long model work takes on this machine: the one time model behind the profiling and the evaluation plans.

A forward pass of a model with N text parameters costs about 2N FLOPs a token, and a decode step reads the
weights once (gentrend.models.memory_model.weights_read_per_token_bytes) plus the KV cache. On a device of
sustained compute F x compute_share (FLOP/s) and memory bandwidth B(batch) x bandwidth_share (bytes/s):

    prefill_s(tokens)          = 2 N tokens / (F x compute_share) + layers x layer_overhead_s
    step_s(batch, context)     = max(decode bytes / (B(batch) x bandwidth_share), 2 N batch / (F x compute_share),
                                     step_floor_s) + layers x layer_overhead_s
    generate_s(batch, prompt, new) = prefill_s(batch x prompt) + (new - 1) x step_s(batch, prompt + new / 2)

layer_overhead_s is what transformers' eager Python costs per layer and forward (module calls, cache updates);
step_floor_s is the launch floor of a GPU step. A compiled decode step (static cache, one graph: gentrend's
compiled backend) has neither: its floor is COMPILED_STEP_S.

Where F and B come from (`Speed`): on the CPU both are measured on this machine when the plan is made: a
matmul test at the working dtype (`measure_matmul_flops`, median of five), gentrend.models.roofline's copy test,
and, for a decode step, the rate at which a linear layer of `batch` rows streams a weight matrix larger than the
caches (`measure_decode_rates`): a CPU BLAS serves one row (a matrix-vector product) and a few rows (a skinny
matrix product) by different kernels, at rates that differ by about 2x, which the copy test cannot see. So a plan
follows the machine it runs on, its BLAS and its load included. On a GPU: the datasheets (data/gpus.yaml, and the
evaluation's compute peaks), one bandwidth for every batch. The shares and per-layer costs are CPU_SHARES /
GPU_SHARES below: on the CPU, fitted to the profiles of a 2-core machine (docs/measurements.md); on a GPU,
assumed. benchmarks/profile_settings.py and
benchmarks/estimate_accuracy.py print estimate / actual to check them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from gentrend.models.architecture import describe
from gentrend.models.catalogue import Model
from gentrend.models.memory_model import param_counts
from gentrend.models.roofline import bytes_per_decode_step, device_bandwidth, gpu, gpu_for_device_name


@dataclass(frozen=True)
class Speed:
    """What a device sustains, and where each figure comes from."""

    device: str
    flops: float
    flops_source: str
    bandwidth: float
    bandwidth_source: str
    compute_share: float
    bandwidth_share: float
    step_floor_s: float = 0.0
    layer_overhead_s: float = 0.0
    decode_rates: tuple[tuple[int, float], ...] = ()  # (rows, bytes/s) measured for a decode step; () : bandwidth

    def read_rate(self, batch: int) -> float:
        """Bytes/s at which a decode step of `batch` sequences reads the weights: the measured rate of the largest
        measured row count not above `batch`, else the device bandwidth."""
        rates = [rate for rows, rate in self.decode_rates if rows <= batch]
        return rates[-1] if rates else self.bandwidth


# (compute_share, bandwidth_share, step_floor_s, layer_overhead_s) for transformers' eager forward
CPU_SHARES = (0.6, 0.7, 0.0, 0.3e-3)
DECODE_ROWS = (1, 2, 4, 8)  # the batch sizes whose decode rate the CPU plan measures (larger ones use 8's)
GPU_SHARES = (0.35, 0.6, 0.02, 0.0)
COMPILED_STEP_S = 1e-3  # a compiled (CUDA graph) decode step of a small model: 320 tok/s for Qwen2.5-0.5B on an H100
GPU_BF16_FLOPS = 400e12  # a GPU not in the evaluation's compute table: of the order of an H100's dense bf16 peak

_MATMUL: dict[tuple[str, str], float] = {}


def measure_matmul_flops(
    device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = 1024, repeats: int = 5
) -> float:
    """FLOP/s of a square matmul, the median of `repeats` (after one warm-up: the median, not the best, so a plan
    made on a busy machine expects the speed the work will see); measured once per process, device and dtype."""
    key = (device, str(dtype))
    if key not in _MATMUL:
        dev = torch.device(device)
        a = torch.randn(size, size, device=dev).to(dtype)
        b = torch.randn(size, size, device=dev).to(dtype)
        sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
        torch.matmul(a, b)
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            sync()
            times.append(time.perf_counter() - start)
        _MATMUL[key] = 2 * size**3 / float(np.median(times))
    return _MATMUL[key]


_DECODE: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {}


def measure_decode_rates(device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = 4096, repeats: int = 9):
    """((rows, bytes/s), ...) for each of DECODE_ROWS: a linear layer's weight matrix (size x size, larger than a
    CPU's caches) streamed by `rows` input rows, the median of `repeats` after one warm-up; measured once per
    process, device and dtype."""
    key = (device, str(dtype))
    if key not in _DECODE:
        weight = torch.randn(size, size, device=device).to(dtype)
        rates = []
        for rows in DECODE_ROWS:
            x = torch.randn(rows, size, device=device).to(dtype)
            torch.nn.functional.linear(x, weight)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                torch.nn.functional.linear(x, weight)
                times.append(time.perf_counter() - start)
            rates.append((rows, weight.numel() * weight.element_size() / float(np.median(times))))
        _DECODE[key] = tuple(rates)
    return _DECODE[key]


def device_speed(device: str = "cpu", dtype: torch.dtype = torch.float32, flops: float | None = None) -> Speed:
    """This machine's device: on the CPU (or a GPU without a datasheet entry) measured now; a listed GPU by its
    datasheet bandwidth and `flops` (the caller's compute peak, e.g. the evaluation's table); "cuda" on a machine
    without a GPU (a plan for elsewhere): an H100's datasheet."""
    dev = torch.device(device)
    shares = CPU_SHARES if dev.type == "cpu" else GPU_SHARES
    if dev.type == "cuda" and not torch.cuda.is_available():  # a GPU plan made on a machine without one
        known = gpu("H100 SXM")
    else:
        known = gpu_for_device_name(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None
    if known is not None:
        bandwidth, bandwidth_source = known.bandwidth_bytes_per_s, f"datasheet: {known.source}"
    else:
        measured = device_bandwidth(dev)
        bandwidth, bandwidth_source = measured.measured, measured.measured_note
    if flops is None and dev.type == "cuda" and known is not None:
        flops, flops_source = GPU_BF16_FLOPS, "assumed: an H100-class dense bf16 peak"
    elif flops is None:
        flops, flops_source = measure_matmul_flops(str(dev), dtype), f"measured {dtype} matmul on {dev}"
    else:
        flops_source = "datasheet"
    rates = measure_decode_rates(str(dev), dtype) if dev.type == "cpu" else ()
    return Speed(str(dev), flops, flops_source, bandwidth, bandwidth_source, *shares, decode_rates=rates)


def with_flops(speed: Speed, flops: float, source: str) -> Speed:
    return replace(speed, flops=flops, flops_source=source)


def prefill_seconds(model: Model, tokens: int, speed: Speed, tiny: bool = False) -> float:
    """One forward over `tokens` tokens (all sequences of the batch together)."""
    n_params = param_counts(model, tiny)[0]
    layers = describe(model, tiny=tiny).layers
    return 2 * n_params * tokens / (speed.flops * speed.compute_share) + layers * speed.layer_overhead_s


def step_seconds(
    model: Model, batch: int, context: int, precision: str, speed: Speed, tiny: bool = False, compiled: bool = False
) -> float:
    """One decode step of `batch` sequences at `context` tokens (compiled: the compiled backend's step)."""
    n_params = param_counts(model, tiny)[0]
    layers = describe(model, tiny=tiny).layers
    read = bytes_per_decode_step(model, batch, context, precision, tiny) / (
        speed.read_rate(batch) * speed.bandwidth_share
    )
    compute = 2 * n_params * batch / (speed.flops * speed.compute_share)
    if compiled:
        return max(read, compute) + COMPILED_STEP_S
    return max(read, compute, speed.step_floor_s) + layers * speed.layer_overhead_s


def generate_seconds(
    model: Model,
    batch: int,
    prompt: int,
    new_tokens: int,
    precision: str,
    speed: Speed,
    tiny: bool = False,
    compiled: bool = False,
) -> float:
    """One generate() run: the prefill, then new_tokens - 1 decode steps at the average context."""
    step = step_seconds(model, batch, prompt + new_tokens // 2, precision, speed, tiny, compiled)
    return prefill_seconds(model, batch * prompt, speed, tiny) + (new_tokens - 1) * step
