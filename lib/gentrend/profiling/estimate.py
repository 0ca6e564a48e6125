"""How long a profiling sweep will take, printed before it starts, and which models get int8/int4 rows within
the time budget.

The cost model (seconds; a rough plan, not a promise) adds, per profiled model: a fresh notebook kernel; for
each precision a load and, on the compiled backend, one compile per batch size; for each point the warm-up
and the measured runs. Decode and prefill speeds come from the roofline at an assumed efficiency.

GPU constants, from the H100 figures of reference/gpu-h100-2026-11.md (bf16, synthetic weights):
- compile (dynamo + inductor + CUDA graph warm-up, cold caches): the hand-written compiled loop warmed up in
  47 s for Qwen2.5-0.5B and 141 s for Qwen3-8B: `COMPILE_BASE_S + COMPILE_PER_BPARAM_S` x billions of parameters
  fits both. A rerun on the same machine compiles from inductor's on-disk cache (gentrend keeps it in its cache
  folder) and is faster; the estimate does not count on it. On an H200 (2026-11-26) the profiler compiled
  Qwen2.5-1.5B in 22-37 s (bf16), 29-32 s (int4, int8) and Qwen3.5-0.8B in 27 s, against the 54 and 44 s these
  constants give: they err on the long side.
- compiled decode: `DECODE_EFFICIENCY` of the datasheet bandwidth roofline plus `STEP_OVERHEAD_S` per step (the
  compiled path reached 104 tok/s for Qwen3-8B, 47 % of the datasheet roofline; 320 tok/s for Qwen2.5-0.5B).
- transformers eager decode: Python-bound, `EAGER_LAYER_S` per layer per step (Qwen3-8B: 36 layers, 20 tok/s).
- prefill: 2 x parameters x tokens FLOPs at `PREFILL_FLOPS`, plus `EAGER_LAYER_S` per layer.
The CPU constants are for a small shared machine (2 cores) and only need to be of the right order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from gentrend.models.architecture import describe
from gentrend.models.catalogue import Catalogue, Model, load_catalogue
from gentrend.models.memory_model import weights_bytes
from gentrend.models.roofline import bytes_per_decode_step, gpu_for_device_name
from gentrend.profiling.settings import ProfileSettings, defaults_for, quantized_precisions

SWEEP_BUDGET_S = 20 * 60  # a GPU sweep of all catalogue models should fit one sitting


@dataclass(frozen=True)
class Costs:
    bandwidth: float  # bytes/s (datasheet)
    decode_efficiency: float
    step_overhead_s: float
    eager_layer_s: float
    prefill_flops: float
    compile_base_s: float
    compile_per_bparam_s: float
    load_base_s: float
    load_bytes_per_s: float
    kernel_start_s: float = 8.0  # a fresh notebook kernel (imports, data) and, once per run, the bandwidth test
    expected_warmup: int = 4  # compiled: compile, CUDA graph record, two stable runs


COSTS = {
    "cuda": Costs(
        bandwidth=3.35e12,
        decode_efficiency=0.55,
        step_overhead_s=1.0e-3,
        eager_layer_s=1.4e-3,
        prefill_flops=300e12,
        compile_base_s=35.0,
        compile_per_bparam_s=12.0,
        load_base_s=4.0,
        load_bytes_per_s=8e9,
    ),
    "cpu": Costs(
        bandwidth=10e9,
        decode_efficiency=0.3,
        step_overhead_s=2e-3,
        eager_layer_s=0.4e-3,
        prefill_flops=50e9,
        compile_base_s=15.0,
        compile_per_bparam_s=60.0,
        load_base_s=2.0,
        load_bytes_per_s=1e9,
        kernel_start_s=25.0,
    ),  # a profiling notebook on 2 cores: ~25 s beyond its points
}


def _costs(device_kind: str, device_name: str = "") -> Costs:
    costs = COSTS[device_kind]
    known = gpu_for_device_name(device_name) if device_kind == "cuda" and device_name else None
    return costs if known is None else Costs(**{**costs.__dict__, "bandwidth": known.bandwidth_bytes_per_s})


def run_seconds(
    model: Model, settings: ProfileSettings, batch: int, prompt: int, costs: Costs, precision: str, tiny: bool = False
) -> float:
    """One run at a point: prefill + (new_tokens - 1) decode steps."""
    arch = describe(model, tiny=tiny)
    params = weights_bytes(model, "fp32", tiny=tiny) / 4
    prefill = 2 * params * batch * prompt / costs.prefill_flops + arch.layers * costs.eager_layer_s
    if settings.backend == "compiled":
        context = prompt + settings.new_tokens // 2
        step = bytes_per_decode_step(model, batch, context, precision, tiny) / (
            costs.decode_efficiency * costs.bandwidth
        )
        step += costs.step_overhead_s
    else:
        step = arch.layers * costs.eager_layer_s
    return prefill + (settings.new_tokens - 1) * step


def compile_seconds(model: Model, costs: Costs, tiny: bool = False) -> float:
    params = weights_bytes(model, "fp32", tiny=tiny) / 4
    return costs.compile_base_s + costs.compile_per_bparam_s * params / 1e9


def model_seconds(
    model: Model, settings: ProfileSettings, precisions: tuple[str, ...] = (), tiny: bool = False, device_name: str = ""
) -> dict:
    """{load, compile, measure, total} seconds to profile one model over `settings` and, at the quantized point
    (ProfileSettings.quantized), each of `precisions`."""
    kind = settings.device.split(":")[0] if settings.device != "auto" else "cuda"
    costs = _costs(kind, device_name)
    main = settings.dtype if settings.dtype != "auto" else ("bf16" if kind == "cuda" else "fp32")
    out = {"load": costs.kernel_start_s, "compile": 0.0, "measure": 0.0, "compiles": 0}
    for s, precision in [(settings, main)] + [(settings.quantized(p), p) for p in precisions]:
        out["load"] += costs.load_base_s + weights_bytes(model, precision, tiny=tiny) / costs.load_bytes_per_s
        if s.backend == "compiled":
            out["compile"] += len(s.batch_sizes) * compile_seconds(model, costs, tiny)
            out["compiles"] += len(s.batch_sizes)
        warmup = max(s.warmup, 2) if s.warmup else 0
        warmup = max(warmup, costs.expected_warmup) if s.backend == "compiled" else warmup
        for batch, prompt in s.points:
            run = run_seconds(model, s, batch, prompt, costs, precision, tiny)
            runs = s.min_runs
            out["measure"] += (warmup + runs) * run
    out["total"] = out["load"] + out["compile"] + out["measure"]
    return out


def sweep_seconds(
    models: list[Model],
    settings: ProfileSettings,
    quantized: dict[str, tuple[str, ...]] | None = None,
    tiny: bool = False,
    device_name: str = "",
) -> pd.DataFrame:
    """One row per model (model_id, precisions, compiles, load, compile, measure, total seconds); `quantized`:
    {model id: weight-only precisions also measured}."""
    quantized = quantized or {}
    rows = []
    for m in models:
        precisions = tuple(quantized.get(m.id, ()))
        rows.append(
            {
                "model_id": m.id,
                "precisions": ", ".join(precisions),
                **model_seconds(m, settings, precisions, tiny, device_name),
            }
        )
    return pd.DataFrame(rows, columns=["model_id", "precisions", "load", "compile", "measure", "compiles", "total"])


def quantized_models(
    models: list[Model],
    settings: ProfileSettings,
    catalogue: Catalogue | None = None,
    budget_s: float = SWEEP_BUDGET_S,
    tiny: bool = False,
) -> list[str]:
    """The profiled models that also get int8/int4 rows by default: on CUDA only, newest generation first
    (the speed and memory claims are about it), largest first, as many as keep the sweep within `budget_s`."""
    if settings.device.split(":")[0] != "cuda" or not models:
        return []
    catalogue = catalogue or load_catalogue()
    newest = catalogue.generations[-1]
    precisions = quantized_precisions(settings.device)
    chosen: list[str] = []
    total = sweep_seconds(models, settings, tiny=tiny)["total"].sum()
    for m in sorted(models, key=lambda m: (m.generation != newest, -m.params.total)):
        extra = model_seconds(m, settings, precisions, tiny)["total"] - model_seconds(m, settings, (), tiny)["total"]
        if total + extra <= budget_s:
            chosen.append(m.id)
            total += extra
    return chosen


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def estimate_text(jobs: list[dict], catalogue: Catalogue | None = None) -> str:
    """What the profiling notebooks of a run will do and how long it should take, from their parameters (one dict
    per profiled model: model, device, backend, batch_sizes, prompt_lengths, new_tokens, dtype, tiny,
    quantized_models)."""
    if not jobs:
        return "profiling: none requested"
    catalogue = catalogue or load_catalogue()
    first = jobs[0]
    device_name = (
        torch.cuda.get_device_name(first["device"])
        if first["device"].startswith("cuda") and torch.cuda.is_available()
        else ""
    )
    settings = defaults_for(
        first["device"],
        backend=first["backend"],
        batch_sizes=first["batch_sizes"],
        prompt_lengths=first["prompt_lengths"],
        new_tokens=first["new_tokens"],
        dtype=first["dtype"],
    )
    precisions = quantized_precisions(first["device"])
    quantized = {m: precisions for m in first.get("quantized_models", [])}
    models = [catalogue.get(j["model"]) for j in jobs]
    table = sweep_seconds(models, settings, quantized, tiny=bool(first.get("tiny")), device_name=device_name)
    total = table["total"].sum()
    lines = [
        f"profiling {len(models)} model(s) on {first['device']}{f' ({device_name})' if device_name else ''}: "
        f"{settings.backend} backend, {settings.dtype}, batch {', '.join(map(str, settings.batch_sizes))} x prompt "
        f"{', '.join(map(str, settings.prompt_lengths))}, {settings.new_tokens} new tokens"
        + (f"; {'/'.join(precisions)} weights for {', '.join(quantized)}" if quantized else ""),
        f"estimated time: {_minutes(total)} ({int(table['compiles'].sum())} compiles {_minutes(table['compile'].sum())}, "
        f"loading {_minutes(table['load'].sum())}, measuring {_minutes(table['measure'].sum())}; a rough plan from "
        "reference timings, cold compile caches)",
    ]
    lines += [
        f"  {r.model_id:<14} {_minutes(r.total):>8}" + (f"  (+ {r.precisions})" if r.precisions else "")
        for r in table.itertuples()
    ]
    return "\n".join(lines)
