"""Profile one catalogue model: load it, sweep the grid, attach the environment, cache the rows.

Reliability. The whole profile holds the device's lock (gentrend.profiling.guard), so two runs never time
each other, and every row says in `device_busy` whether something else was using the device. Rows are
checkpointed point by point, in the run folder (`partial_path`) and in the cache folder under the cache key, so
a run interrupted half-way is resumed by the next run with the same settings: only the missing points are
measured. Cache entries are checksummed (gentrend.profiling.cache); a cache that cannot be written costs one
warning, never the measurement. A cached entry with a contended or expired point is not reused as it is: those
points are measured again, the others kept (gentrend.profiling.cache.stale). The compiled backend keeps its
compiles in the machine's compile cache (gentrend.profiling.compile_cache); `force` re-measures but keeps it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import resource
import sys
import warnings
from pathlib import Path

import pandas as pd
import torch

from gentrend.core.devices import resolve_device
from gentrend.core.environment import environment, fingerprint, git_commit
from gentrend.core.files import write_csv
from gentrend.core.vocab import resolve_precision
from gentrend.models.catalogue import Catalogue, load_catalogue
from gentrend.models.loading import Mode, load_model, stored_bytes, weights_source
from gentrend.models.memory_model import GIB
from gentrend.models.roofline import decode_roofline_tokens_per_s, device_bandwidth
from gentrend.profiling import cache
from gentrend.profiling.compile_cache import use_compile_cache
from gentrend.profiling.guard import busy_note, device_lock
from gentrend.profiling.measure import free_memory, rss_bytes
from gentrend.profiling.results import (
    MEASUREMENT,
    OUTCOME,
    POINT_METRIC_ORDER,
    RUNS,
    SCHEMA_COLUMNS,
    bandwidth_path,
    partial_results_path,
)
from gentrend.profiling.settings import ProfileSettings, defaults_for
from gentrend.profiling.sweep import run_sweep


def profile(
    model_id: str,
    mode: Mode = "synthetic",
    *,
    settings: ProfileSettings | None = None,
    path: str | Path | None = None,
    checkpoint: str = "post_trained",
    tiny: bool = False,
    force: bool = False,
    cache_dir: str | Path | None = None,
    catalogue: Catalogue | None = None,
    partial_path: str | Path | None = None,
    bandwidth_path: str | Path | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Measure `model_id` over `settings` (default: `defaults_for("auto")`) and return tidy long rows (see
    gentrend.profiling.results). Same model, weights, settings and environment as a cached run: the cached
    rows come back without measuring (column from_cache=True) unless force=True. `partial_path`: rows are
    written there after every point. `bandwidth_path`: the run's record of the device's copy test (measured
    once per run and device)."""
    catalogue = catalogue or load_catalogue()
    model = catalogue.get(model_id)
    settings = settings or defaults_for("auto")
    device = resolve_device(settings.device)
    precision = resolve_precision(settings.dtype, device.type)
    env = environment(str(device))
    source = weights_source(model, mode, path=path, checkpoint=checkpoint, tiny=tiny)
    # the code's commit is part of the key: a change to the measuring code re-measures instead of reusing
    key = cache.cache_key(
        model=model.id,
        mode=mode,
        source=source,
        tiny=tiny,
        dtype=precision,
        # resolved, so a notebook run by hand ("auto") finds what the report measured ("cpu", "fp32")
        settings=dataclasses.replace(settings, device=str(device), dtype=precision).as_dict(),
        env=fingerprint(env),
        code=git_commit().removesuffix("+dirty"),
    )
    if not force and (cached := _reusable(model.id, key, cache_dir)) is not None:
        return cached

    with device_lock(device, cache_dir):
        # another run may have measured the same thing while this one waited for the lock
        if not force and (cached := _reusable(model.id, key, cache_dir)) is not None:
            return cached
        frame = _measure(
            model,
            mode,
            settings,
            device,
            precision,
            env,
            key,
            path=path,
            checkpoint=checkpoint,
            tiny=tiny,
            cache_dir=cache_dir,
            partial_path=partial_path,
            bandwidth_path=bandwidth_path,
            progress=progress,
            resume=not force,
        )
    return frame.assign(from_cache=False, age_days=cache.age_days(frame))


def _reusable(model_id: str, key: str, cache_dir) -> pd.DataFrame | None:
    """The cached entry when it can be reused whole (nothing contended or expired), with its age; else None."""
    cached = cache.load_cached(model_id, key, cache_dir)
    if cached is None:
        return None
    if why := cache.stale_reason(cached):
        print(f"cached profile of {model_id} not reused, measuring again: {why}", file=sys.stderr, flush=True)
        return None
    return cached.assign(from_cache=True, age_days=cache.age_days(cached))


def _measure(
    model,
    mode,
    settings,
    device,
    precision,
    env,
    key,
    *,
    path,
    checkpoint,
    tiny,
    cache_dir,
    partial_path,
    bandwidth_path,
    progress,
    resume,
) -> pd.DataFrame:
    # resume from the interrupted sweep's checkpoint, else from a full entry with stale points: the fresh,
    # uncontended points are kept, the others measured
    resumed = None
    if resume:
        resumed = cache.load_cached(model.id, key, cache_dir, partial=True)
        resumed = resumed if resumed is not None else cache.load_cached(model.id, key, cache_dir)
    resumed = cache.reusable_points(resumed) if resumed is not None else pd.DataFrame()
    done = {(int(b), int(p)) for b, p in zip(resumed.get("batch_size", []), resumed.get("prompt_length", []))}
    busy = busy_note(device)
    if settings.backend == "compiled":
        use_compile_cache(env["device_name"], cache_dir)

    rss0 = rss_bytes()
    cuda0 = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    loaded = load_model(model, mode, path=path, checkpoint=checkpoint, device=str(device), dtype=precision, tiny=tiny)
    weights_measured = (torch.cuda.memory_allocated(device) - cuda0) if device.type == "cuda" else rss_bytes() - rss0
    weights = sum(stored_bytes(t) for t in loaded.model.parameters()) + sum(
        stored_bytes(b) for b in loaded.model.buffers()
    )
    bandwidth = device_bandwidth(device, env["device_name"], store=bandwidth_path)
    kernel = loaded.kernel_path
    base = {
        "model_id": model.id,
        "model": model.name,
        "generation": model.generation,
        "params_total": model.params.total,
        "weights": "synthetic" if mode == "synthetic" else "real",
        "weights_source": loaded.source,
        "mode": mode,
        "tiny": tiny,
        "backend": settings.backend,
        "dtype": precision,
        "new_tokens": settings.new_tokens,
        "static_cache_len": settings.cache_len if settings.backend == "compiled" else float("nan"),
        **kernel,
        "kernel_fallback": kernel["linear_attention_kernels"] in ("torch-fallback", "partial"),
        **env,
        "env_fingerprint": fingerprint(env),
        "settings_json": settings.to_json(),
        "cache_key": key,
        "device_busy": busy,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "contended": False,
        **{k: "" for k in ("contention", "stopped_on", "compile_cache")},
    }
    gb = lambda v: v / 1e9
    model_rows = [
        ("load_s", loaded.load_seconds, "s", "model build/load (and quantization), to the device"),
        (
            "weights_gib",
            weights / GIB,
            "GiB",
            "bytes stored by parameters + buffers (quantized tensors: data + scales)",
        ),
        (
            "weights_measured_gib",
            weights_measured / GIB,
            "GiB",
            "CUDA allocated after load - before" if device.type == "cuda" else "process RSS after load - before",
        ),
        (
            "memory_bandwidth_gb_s",
            (gb(bandwidth.measured), gb(bandwidth.measured_p10), gb(bandwidth.measured_p90)),
            "GB/s",
            bandwidth.measured_note,
        ),
    ]
    if bandwidth.datasheet:
        model_rows.append(
            ("memory_bandwidth_datasheet_gb_s", gb(bandwidth.datasheet), "GB/s", bandwidth.datasheet_source)
        )
    if bandwidth.measured_read:
        model_rows.append(
            ("memory_bandwidth_read_gb_s", gb(bandwidth.measured_read), "GB/s", "read-only pass (a sum) on the device")
        )
    if device.type == "cpu":
        model_rows.append(
            ("process_baseline_gib", rss0 / GIB, "GiB", "process RSS before loading (Python, torch, libraries)")
        )

    def model_row(name, value, unit, note):
        value, p10, p90 = value if isinstance(value, tuple) else (value, value, value)
        return base | {
            "scope": "model",
            "batch_size": None,
            "prompt_length": None,
            "status": "ok",
            "error": "",
            "fallback": "",
            "kernel_sdpa": "",
            "metric": name,
            "value": value,
            "p10": p10,
            "p90": p90,
            "n_runs": 1,
            "unit": unit,
            "note": note,
        }

    rows: list[dict] = [model_row(*r) for r in model_rows]
    rows += [base | {k: v for k, v in r.items() if k in _POINT_OWN} for r in resumed.to_dict("records")]

    def roofline(record: dict) -> dict:
        # decode reads the cache at an average context of prompt + new_tokens / 2
        context = record["prompt_length"] + settings.new_tokens // 2
        roof = lambda bw: decode_roofline_tokens_per_s(model, bw, record["batch_size"], context, precision, tiny=tiny)
        decode = record["metrics"]["decode_tokens_per_s"]
        out = {}
        for suffix, bw, note in (
            ("", bandwidth.measured, f"measured bandwidth: {bandwidth.measured_note}"),
            ("_datasheet", bandwidth.datasheet, f"datasheet bandwidth: {bandwidth.datasheet_source}"),
        ):
            if not bw:
                continue
            r = roof(bw)
            out[f"roofline{suffix}_decode_tokens_per_s"] = {
                "value": r,
                "p10": r,
                "p90": r,
                "n_runs": 1,
                "unit": "tokens/s",
                "note": note,
            }
            out[f"roofline_fraction{suffix}"] = {
                "value": decode["value"] / r,
                "p10": decode["p10"] / r,
                "p90": decode["p90"] / r,
                "n_runs": decode["n_runs"],
                "unit": "ratio",
                "note": f"measured decode / roofline ({note})",
            }
        return out

    def point_rows(record: dict) -> list[dict]:
        point = base | {
            "scope": "point",
            "batch_size": record["batch_size"],
            "prompt_length": record["prompt_length"],
            "status": record["status"],
            "error": record["error"],
            "fallback": record["fallback"],
            "kernel_sdpa": record.get("sdpa", ""),
            **{k: record[k] for k in RUNS},
        }
        if record["status"] != "ok":
            return [
                point
                | {
                    "metric": "status",
                    "value": None,
                    "p10": None,
                    "p90": None,
                    "n_runs": 0,
                    "unit": "",
                    "note": record["error"],
                }
            ]
        metrics = record["metrics"] | roofline(record)
        order = {m: i for i, m in enumerate(POINT_METRIC_ORDER)}
        return [
            point | {"metric": name, **values}
            for name, values in sorted(metrics.items(), key=lambda kv: order.get(kv[0], 99))
        ]

    writable = True

    def on_point(record: dict) -> None:
        nonlocal writable
        rows.extend(point_rows(record))
        if partial_path:
            write_csv(_frame(rows), partial_path)
        if writable:
            writable = cache.save_cached(_frame(rows), model.id, key, cache_dir, partial=True) is not None

    try:
        run_sweep(loaded, settings, on_point=on_point, progress=progress, done=done)
        if device.type == "cpu":
            lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # Linux: KiB
            rows.append(
                model_row(
                    "process_lifetime_peak_rss_gib",
                    lifetime,
                    "GiB",
                    "getrusage ru_maxrss: peak over the whole process, load included",
                )
            )
    finally:
        del loaded
        free_memory(device)
    after = busy_note(device)
    frame = _frame(rows).assign(device_busy="; ".join(dict.fromkeys(n for n in (busy, after) if n)))
    if writable and cache.save_cached(frame, model.id, key, cache_dir) is not None:
        cache.drop_partial(model.id, key, cache_dir)
    return frame


def profile_precisions(
    model_id: str,
    mode: Mode = "synthetic",
    *,
    settings: ProfileSettings,
    precisions=(),
    output_dir: str | Path | None = None,
    **kwargs,
) -> pd.DataFrame:
    """`profile` at the settings' precision, then at each weight-only precision of `precisions` at its quantized
    point (ProfileSettings.quantized), concatenated. Partial rows and the bandwidth record go to the run folder
    `output_dir`. A weight-only precision that cannot be profiled (e.g. torchao missing) is a ProfilingWarning,
    not the end of the profile."""

    device = str(resolve_device(settings.device))
    common = dict(bandwidth_path=bandwidth_path(device, output_dir), **kwargs)
    frames = [
        profile(model_id, mode, settings=settings, partial_path=partial_results_path(model_id, output_dir), **common)
    ]
    for precision in precisions:
        partial = partial_results_path(f"{model_id}-{precision}", output_dir)
        try:
            frames.append(
                profile(model_id, mode, settings=settings.quantized(precision), partial_path=partial, **common)
            )
        except Exception as e:
            warnings.warn(
                f"{precision} weights of {model_id} not profiled: {type(e).__name__}: {e}",
                ProfilingWarning,
                stacklevel=2,
            )
        partial.unlink(missing_ok=True)
    return pd.concat(frames, ignore_index=True)


class ProfilingWarning(UserWarning):
    """Part of a profile could not be measured; the rest stands."""


# what a resumed point row keeps from the earlier run; everything else (environment, kernels) is this run's
_POINT_OWN = (
    "scope",
    "batch_size",
    "prompt_length",
    *OUTCOME,
    "fallback",
    "kernel_sdpa",
    *MEASUREMENT,
    "measured_at",
    *RUNS,
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    first = [c for c in SCHEMA_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]
