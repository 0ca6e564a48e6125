"""Profile one catalogue model: load it, sweep the grid, attach the environment, cache the rows."""

from __future__ import annotations

import datetime as dt
import resource
from pathlib import Path

import pandas as pd
import torch

from ..catalogue import Catalogue, load_catalogue
from ..devices import resolve_device
from ..files import write_csv
from ..loading import Mode, load_model, weights_source
from ..memory_model import GIB
from ..vocab import resolve_precision
from ..environment import environment, fingerprint, git_commit
from ..roofline import decode_roofline_tokens_per_s, device_bandwidth
from . import cache
from .measure import free_memory, rss_bytes
from .results import POINT_METRIC_ORDER, SCHEMA_COLUMNS
from .settings import ProfileSettings, defaults_for
from .sweep import run_sweep


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
    progress: bool = True,
) -> pd.DataFrame:
    """Measure `model_id` over `settings` (default: `defaults_for("auto")`) and return tidy long rows (see
    gentrend.profiling.results). Same model, weights, settings and environment as a cached run: the cached
    rows come back without measuring (column from_cache=True) unless force=True. `partial_path`: rows are
    written there after every point, so a crash keeps what was measured."""
    catalogue = catalogue or load_catalogue()
    model = catalogue.get(model_id)
    settings = settings or defaults_for("auto")
    device = resolve_device(settings.device)
    precision = resolve_precision(settings.dtype, device.type)
    env = environment(str(device))
    source = weights_source(model, mode, path=path, checkpoint=checkpoint, tiny=tiny)
    # the code's commit is part of the key: a change to the measuring code re-measures instead of reusing
    key = cache.cache_key(model=model.id, mode=mode, source=source, tiny=tiny, dtype=precision,
                          settings=settings.as_dict(), env=fingerprint(env), code=git_commit().removesuffix("+dirty"))
    if not force:
        cached = cache.load_cached(model.id, key, cache_dir)
        if cached is not None:
            return cached.assign(from_cache=True)

    rss0 = rss_bytes()
    cuda0 = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    loaded = load_model(model, mode, path=path, checkpoint=checkpoint, device=str(device), dtype=precision, tiny=tiny)
    weights_measured = (torch.cuda.memory_allocated(device) - cuda0) if device.type == "cuda" else rss_bytes() - rss0
    tensor_bytes = sum(t.numel() * t.element_size() for t in loaded.model.parameters()) + sum(
        b.numel() * b.element_size() for b in loaded.model.buffers()
    )
    bandwidth, bandwidth_source = device_bandwidth(device, env["device_name"])
    kernel = loaded.kernel_path
    base = {
        "model_id": model.id, "model": model.name, "generation": model.generation, "params_total": model.params.total,
        "weights": "synthetic" if mode == "synthetic" else "real", "weights_source": loaded.source, "mode": mode,
        "tiny": tiny, "backend": settings.backend, "dtype": precision,
        "new_tokens": settings.new_tokens, "attn_implementation": kernel["attn_implementation"],
        "linear_attention_kernels": kernel["linear_attention_kernels"],
        "kernel_fallback": kernel["linear_attention_kernels"] == "torch-fallback",
        **env, "env_fingerprint": fingerprint(env), "settings_json": settings.to_json(), "cache_key": key,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    model_rows = [
        ("load_s", loaded.load_seconds, "s", "model build/load, to the device"),
        ("weights_gib", tensor_bytes / GIB, "GiB", "bytes of parameters + buffers (tensor sizes)"),
        ("weights_measured_gib", weights_measured / GIB, "GiB",
         "CUDA allocated after load - before" if device.type == "cuda" else "process RSS after load - before"),
        ("memory_bandwidth_gb_s", bandwidth / 1e9, "GB/s", bandwidth_source),
    ]
    if device.type == "cpu":
        model_rows.append(("process_baseline_gib", rss0 / GIB, "GiB", "process RSS before loading (Python, torch, libraries)"))

    rows: list[dict] = [
        base | {"scope": "model", "batch_size": None, "prompt_length": None, "status": "ok", "error": "",
                "metric": name, "value": value, "p10": value, "p90": value, "n_runs": 1, "unit": unit, "note": note}
        for name, value, unit, note in model_rows
    ]

    def point_rows(record: dict) -> list[dict]:
        point = base | {"scope": "point", "batch_size": record["batch_size"], "prompt_length": record["prompt_length"],
                        "status": record["status"], "error": record["error"]}
        if record["status"] != "ok":
            return [point | {"metric": "status", "value": None, "p10": None, "p90": None, "n_runs": 0, "unit": "", "note": record["error"]}]
        metrics = dict(record["metrics"])
        # decode reads the cache at an average context of prompt + new_tokens / 2
        context = record["prompt_length"] + settings.new_tokens // 2
        roof = decode_roofline_tokens_per_s(model, bandwidth, record["batch_size"], context, precision, tiny=tiny)
        decode = metrics["decode_tokens_per_s"]
        metrics["roofline_decode_tokens_per_s"] = {"value": roof, "p10": roof, "p90": roof, "n_runs": 1, "unit": "tokens/s",
                                                   "note": f"bandwidth {bandwidth / 1e9:.1f} GB/s ({bandwidth_source})"}
        metrics["roofline_fraction"] = {"value": decode["value"] / roof, "p10": decode["p10"] / roof, "p90": decode["p90"] / roof,
                                        "n_runs": decode["n_runs"], "unit": "ratio", "note": "measured decode / roofline"}
        order = {m: i for i, m in enumerate(POINT_METRIC_ORDER)}
        return [point | {"metric": name, **values} for name, values in sorted(metrics.items(), key=lambda kv: order.get(kv[0], 99))]

    def on_point(record: dict) -> None:
        rows.extend(point_rows(record))
        if partial_path:
            write_csv(_frame(rows), partial_path)

    try:
        run_sweep(loaded, settings, on_point=on_point, progress=progress)
        if device.type == "cpu":
            lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # Linux: KiB
            rows.append(base | {"scope": "model", "batch_size": None, "prompt_length": None, "status": "ok", "error": "",
                                "metric": "process_lifetime_peak_rss_gib", "value": lifetime, "p10": lifetime, "p90": lifetime,
                                "n_runs": 1, "unit": "GiB", "note": "getrusage ru_maxrss: peak over the whole process, load included"})
    finally:
        del loaded
        free_memory(device)
    frame = _frame(rows)
    cache.save_cached(frame, model.id, key, cache_dir)
    return frame.assign(from_cache=False)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    first = [c for c in SCHEMA_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]
