"""How long a profiling sweep will take, printed before it starts (and recorded per step in the run's manifest),
and which models get int8/int4 rows within the time budget.

Per profiled model (OVERHEADS per device kind): a notebook (a fresh kernel, its imports, tables and figures:
notebook_s), for each precision a load (synthetic weights: a memory pass over them at load_share of the device's
measured bandwidth) and, on the compiled backend, one compile per batch size; for each point the warm-up and the
runs the stopping rule needs when the machine is quiet (the floor, `min_runs`; the warm-up's last run is the
first measured one), and for a batch size's first point the run that names the attention kernel. A run's time
comes from gentrend.models.planner, calibrated on this machine's measured compute and bandwidth. Compiles (GPU:
the H100 warm-ups of the hand-written compiled loop, 47 s for Qwen2.5-0.5B and 141 s for Qwen3-8B:
`base + per_bparam` x billions of parameters fits both) assume cold caches; a warm compile cache
(gentrend.profiling.compile_cache) makes them shorter.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gentrend.core.vocab import resolve_precision
from gentrend.models.catalogue import Catalogue, Model, load_catalogue
from gentrend.models.memory_model import param_counts, weights_bytes
from gentrend.models.planner import Speed, device_speed, generate_seconds
from gentrend.profiling.settings import ProfileSettings, defaults_for, device_kind, quantized_precisions

SWEEP_BUDGET_S = 20 * 60  # a GPU sweep of all catalogue models should fit one sitting


@dataclass(frozen=True)
class Overheads:
    notebook_s: float  # a profiling notebook beyond its load and points (kernel start, imports, tables, figures)
    load_share: float  # synthetic build: weights written at this share of the measured bandwidth (page faults)
    compile_base_s: float
    compile_per_bparam_s: float
    compiled_warmup: int = 4  # compiled: compile, CUDA graph record, two stable runs


OVERHEADS = {
    "cuda": Overheads(notebook_s=8.0, load_share=0.5, compile_base_s=35.0, compile_per_bparam_s=12.0),
    "cpu": Overheads(notebook_s=11.0, load_share=0.1, compile_base_s=15.0, compile_per_bparam_s=60.0),
}


def model_seconds(
    model: Model, settings: ProfileSettings, speed: Speed, precisions: tuple[str, ...] = (), tiny: bool = False
) -> dict:
    """{load, compile, measure, total} seconds to profile one model over `settings` and, at the quantized point
    (ProfileSettings.quantized), each of `precisions`."""
    kind = device_kind(settings.device)
    costs = OVERHEADS[kind]
    main = resolve_precision(settings.dtype, kind)
    out = {"load": costs.notebook_s, "compile": 0.0, "measure": 0.0, "compiles": 0}
    billions = param_counts(model, tiny)[0] / 1e9
    for s, precision in [(settings, main)] + [(settings.quantized(p), p) for p in precisions]:
        out["load"] += weights_bytes(model, precision, tiny=tiny) / (speed.bandwidth * costs.load_share)
        if s.backend == "compiled":
            out["compile"] += len(s.batch_sizes) * (costs.compile_base_s + costs.compile_per_bparam_s * billions)
            out["compiles"] += len(s.batch_sizes)
        warmup = max(s.warmup, costs.compiled_warmup) if s.backend == "compiled" else s.warmup
        for batch, prompt in s.points:
            run = generate_seconds(model, batch, prompt, s.new_tokens, precision, speed, tiny, s.backend == "compiled")
            first = prompt == min(s.prompt_lengths)  # a batch size's first point also names its attention kernel
            out["measure"] += (warmup + s.min_runs + first) * run
    out["total"] = out["load"] + out["compile"] + out["measure"]
    return out


def sweep_seconds(
    models: list[Model],
    settings: ProfileSettings,
    speed: Speed,
    quantized: dict[str, tuple[str, ...]] | None = None,
    tiny: bool = False,
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
                **model_seconds(m, settings, speed, precisions, tiny),
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
    if device_kind(settings.device) != "cuda" or not models:
        return []
    catalogue = catalogue or load_catalogue()
    speed = device_speed(settings.device)
    newest = catalogue.generations[-1]
    precisions = quantized_precisions(settings.device)
    chosen: list[str] = []
    total = sweep_seconds(models, settings, speed, tiny=tiny)["total"].sum()
    for m in sorted(models, key=lambda m: (m.generation != newest, -m.params.total)):
        extra = (
            model_seconds(m, settings, speed, precisions, tiny)["total"]
            - model_seconds(m, settings, speed, (), tiny)["total"]
        )
        if total + extra <= budget_s:
            chosen.append(m.id)
            total += extra
    return chosen


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def profile_plan(jobs: list[dict], catalogue: Catalogue | None = None) -> tuple[str, dict[str, float]]:
    """What the profiling notebooks of a run will do and how long each should take, from their parameters (one
    dict per profiled model: model, device, backend, batch_sizes, prompt_lengths, new_tokens, dtype, tiny,
    quantized_models): (the text printed before the run, {model id: estimated seconds})."""
    if not jobs:
        return "profiling: none requested", {}
    catalogue = catalogue or load_catalogue()
    first = jobs[0]
    settings = defaults_for(
        first["device"],
        backend=first["backend"],
        batch_sizes=first["batch_sizes"],
        prompt_lengths=first["prompt_lengths"],
        new_tokens=first["new_tokens"],
        dtype=first["dtype"],
    )
    speed = device_speed(first["device"])
    precisions = quantized_precisions(first["device"])
    quantized = {m: precisions for m in first.get("quantized_models", [])}
    models = [catalogue.get(j["model"]) for j in jobs]
    table = sweep_seconds(models, settings, speed, quantized, tiny=bool(first.get("tiny")))
    total = table["total"].sum()
    lines = [
        f"profiling {len(models)} model(s) on {first['device']}: "
        f"{settings.backend} backend, {settings.dtype}, batch {', '.join(map(str, settings.batch_sizes))} x prompt "
        f"{', '.join(map(str, settings.prompt_lengths))}, {settings.new_tokens} new tokens"
        + (f"; {'/'.join(precisions)} weights for {', '.join(quantized)}" if quantized else ""),
        f"estimated time: {_minutes(total)} ({int(table['compiles'].sum())} compiles "
        f"{_minutes(table['compile'].sum())}, "
        f"notebooks and loading {_minutes(table['load'].sum())}, measuring {_minutes(table['measure'].sum())}; "
        f"planned on {speed.flops / 1e9:.0f} GFLOP/s ({speed.flops_source}) and {speed.bandwidth / 1e9:.0f} GB/s "
        f"({speed.bandwidth_source}), cold compile caches, a quiet machine)",
    ]
    lines += [
        f"  {r.model_id:<14} {_minutes(r.total):>8}" + (f"  (+ {r.precisions})" if r.precisions else "")
        for r in table.itertuples()
    ]
    return "\n".join(lines), dict(zip(table["model_id"], table["total"]))
