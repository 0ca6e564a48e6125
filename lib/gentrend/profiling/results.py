"""The profiling results schema, and the tables the notebooks and the trend report build from it.

Long format, one row per measurement (a metric of a sweep point, or of the model load):

  identity     model_id, model, generation, params_total, weights ("synthetic" | "real"), weights_source,
               mode (synthetic | hub | local), tiny
  setting      backend (eager | compiled), dtype, new_tokens, scope ("model" | "point"), batch_size,
               prompt_length (empty for scope "model")
  outcome      status ("ok" | "oom" | "error"), error (message; a failed point has one row, metric "status")
  measurement  metric, value (median over runs), p10, p90 (spread over runs), n_runs, unit, note (how measured)
  kernel path  attn_implementation, linear_attention_kernels (none | fast | torch-fallback), kernel_fallback
  environment  device, device_name, driver, cuda, cpu_model, cpu_cores, torch_threads, python, torch,
               transformers, gentrend, flash_linear_attention, causal_conv1d, device_memory_gib (CUDA),
               env_fingerprint, settings_json, cache_key, measured_at (UTC), from_cache

Point metrics: ttft_s, prefill_tokens_per_s, tpot_s, decode_tokens_per_s (summed over the batch), e2e_s,
peak_memory_gib, runtime_memory_gib, [CUDA: cuda_max_reserved_gib, nvml_used_peak_gib, energy_j_per_token],
roofline_decode_tokens_per_s, roofline_fraction. Model metrics: load_s, weights_gib, weights_measured_gib,
memory_bandwidth_gb_s, [CPU: process_baseline_gib, process_lifetime_peak_rss_gib]. Memory is in GiB (2**30).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..catalogue import Catalogue, load_catalogue
from ..files import read_csv, write_csv
from ..memory_model import GIB, estimate
from ..vocab import precision_name

SCHEMA_COLUMNS = [
    "model_id", "model", "generation", "params_total", "weights", "weights_source", "mode", "tiny",
    "backend", "dtype", "new_tokens", "scope", "batch_size", "prompt_length", "status", "error",
    "metric", "value", "p10", "p90", "n_runs", "unit", "note",
    "attn_implementation", "linear_attention_kernels", "kernel_fallback",
]
POINT_METRIC_ORDER = [
    "ttft_s", "prefill_tokens_per_s", "tpot_s", "decode_tokens_per_s", "e2e_s", "peak_memory_gib",
    "runtime_memory_gib", "cuda_max_reserved_gib", "nvml_used_peak_gib", "energy_j_per_token",
    "roofline_decode_tokens_per_s", "roofline_fraction",
]
POINT_KEYS = ["model_id", "model", "generation", "params_total", "weights", "tiny", "backend", "dtype", "device",
              "device_name", "new_tokens", "batch_size", "prompt_length", "status", "error",
              "attn_implementation", "linear_attention_kernels", "kernel_fallback", "measured_at"]


TEXT_COLUMNS = ("model_id", "model", "generation", "weights", "weights_source", "mode", "backend", "dtype", "scope",
                "status", "error", "metric", "unit", "note", "attn_implementation", "linear_attention_kernels",
                "device", "device_name", "driver", "cuda", "cpu_model", "python", "torch", "transformers", "gentrend",
                "env_fingerprint", "settings_json", "cache_key", "measured_at")


def read_rows(path: str | Path) -> pd.DataFrame:
    """Read a results CSV back with the schema's types (generation "3" stays text, empty errors are "")."""
    df = read_csv(path, "profiling results", dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True)
    for c in ("error", "note", "driver", "cuda"):
        if c in df:
            df[c] = df[c].fillna("")
    return df


def results_path(model_id: str, output_dir: str | Path = "") -> Path:
    return paths.run_dir(output_dir) / "results" / f"profile_{model_id}.csv"


def partial_results_path(model_id: str, output_dir: str | Path = "") -> Path:
    """Where the rows of an unfinished sweep go, point by point: results/partial/, never read as a profile."""
    return paths.run_dir(output_dir) / "results" / "partial" / f"profile_{model_id}.csv"


def save_results(rows: pd.DataFrame, model_id: str, output_dir: str | Path = "") -> Path:
    """Write one model's finished profile to <run>/results/profile_<model>.csv (atomically) and drop its
    partial file."""
    path = write_csv(rows, results_path(model_id, output_dir))
    partial_results_path(model_id, output_dir).unlink(missing_ok=True)
    return path


def load_run_results(output_dir: str | Path = "", model_ids: list[str] | tuple = ()) -> pd.DataFrame:
    """The finished profiles of a run folder, concatenated: of `model_ids` (every profile_*.csv when empty);
    an empty frame with the schema if there are none."""
    folder = paths.run_dir(output_dir) / "results"
    files = [results_path(m, output_dir) for m in model_ids] if model_ids else sorted(folder.glob("profile_*.csv"))
    frames = [read_rows(f) for f in files if f.exists()]
    if not frames:
        return pd.DataFrame(columns=SCHEMA_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def wide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep point (failed points included, with empty metrics): the median of every metric as
    a column, plus <metric>_p10 / <metric>_p90 for the timed ones."""
    points = df[df["scope"] == "point"].astype({"batch_size": int, "prompt_length": int, "new_tokens": int})
    if points.empty:
        return pd.DataFrame(columns=POINT_KEYS)
    keys = [k for k in POINT_KEYS if k in points.columns]
    base = points[keys].astype({"error": str}).fillna({"error": ""}).drop_duplicates(
        subset=[k for k in keys if k not in ("error",)]).reset_index(drop=True)
    ok = points[points["metric"] != "status"]
    out = base
    if not ok.empty:
        idx = [k for k in ("model_id", "backend", "dtype", "device", "tiny", "batch_size", "prompt_length") if k in ok.columns]
        values = ok.pivot_table(index=idx, columns="metric", values="value", aggfunc="first")
        spread = ok[ok["metric"].isin(["ttft_s", "tpot_s", "decode_tokens_per_s", "e2e_s", "roofline_fraction"])]
        lo = spread.pivot_table(index=idx, columns="metric", values="p10", aggfunc="first").add_suffix("_p10")
        hi = spread.pivot_table(index=idx, columns="metric", values="p90", aggfunc="first").add_suffix("_p90")
        out = base.merge(values.join(lo).join(hi).reset_index(), on=idx, how="left")
    model_metrics = df[df["scope"] == "model"].pivot_table(index="model_id", columns="metric", values="value", aggfunc="first")
    out = out.merge(model_metrics.reset_index(), on="model_id", how="left")
    return out.sort_values(["generation", "params_total", "batch_size", "prompt_length"]).reset_index(drop=True)


def _fmt_spread(v, lo, hi, digits=1) -> str:
    if pd.isna(v):
        return "—"
    return f"{v:.{digits}f} [{lo:.{digits}f}–{hi:.{digits}f}]"


def summary_table(df: pd.DataFrame, batch_size: int | None = None, prompt_length: int | None = None) -> pd.DataFrame:
    """One row per profiled model (and backend/dtype) at one point (default: the smallest batch and prompt
    measured): decode tokens/s and TTFT as median [p10–p90], peak memory, % of roofline, kernel path,
    weights label, points ok / oom / error."""
    w = wide(df)
    if w.empty:
        return pd.DataFrame()
    rows = []
    for (model_id, backend, dtype), g in w.groupby(["model_id", "backend", "dtype"], sort=False):
        ok = g[g["status"] == "ok"]
        b = batch_size if batch_size is not None else (ok["batch_size"].min() if not ok.empty else None)
        p = prompt_length if prompt_length is not None else (ok["prompt_length"].min() if not ok.empty else None)
        sel = ok[(ok["batch_size"] == b) & (ok["prompt_length"] == p)]
        r = sel.iloc[0] if not sel.empty else None
        first = g.iloc[0]
        kernels = first["attn_implementation"] + ("" if first["linear_attention_kernels"] == "none" else f" + linear: {first['linear_attention_kernels']}")
        rows.append({
            "model": first["model"], "generation": first["generation"], "params_total": first["params_total"],
            "weights": first["weights"] + (" (tiny)" if bool(first["tiny"]) else ""), "device": first["device_name"],
            "dtype": dtype, "backend": backend, "kernel path": kernels + (" ⚠ FALLBACK" if bool(first["kernel_fallback"]) else ""),
            "point (batch × prompt)": f"{b} × {p}" if r is not None else "—",
            "decode tok/s median [p10–p90]": _fmt_spread(*(r[[f"decode_tokens_per_s{s}" for s in ("", "_p10", "_p90")]] if r is not None else (np.nan,) * 3)),
            "TTFT ms median [p10–p90]": _fmt_spread(*((r[[f"ttft_s{s}" for s in ("", "_p10", "_p90")]] * 1000) if r is not None else (np.nan,) * 3)),
            "peak memory GiB": r["peak_memory_gib"] if r is not None else np.nan,
            "% of roofline": 100 * r["roofline_fraction"] if r is not None else np.nan,
            "load s": first.get("load_s", np.nan),
            "points ok/oom/error": "/".join(str((g["status"] == s).sum()) for s in ("ok", "oom", "error")),
            "measured at (UTC)": first["measured_at"],
        })
    return pd.DataFrame(rows)


def memory_validation(df: pd.DataFrame, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Analytical memory model vs measurement, one row per ok point. Compared quantity: on CUDA torch's max
    allocated; on the CPU the peak RSS minus the process's RSS before loading (Python + libraries). The model
    is evaluated at the measured dtype, batch, context = prompt + new tokens, prefill = the prompt."""
    catalogue = catalogue or load_catalogue()
    w = wide(df)
    w = w[w["status"] == "ok"] if not w.empty else w
    rows = []
    for _, r in w.iterrows():
        m = catalogue.get(r["model_id"])
        e = estimate(m, precision_name(r["dtype"]), int(r["prompt_length"] + r["new_tokens"]), int(r["batch_size"]),
                     prefill_tokens=int(r["prompt_length"]), attn_implementation=r["attn_implementation"], tiny=bool(r["tiny"]))
        cpu = r["device"] == "cpu"
        measured = r["peak_memory_gib"] - (r.get("process_baseline_gib", 0.0) if cpu else 0.0)
        predicted = e.total_bytes / GIB
        rows.append({
            "model_id": r["model_id"], "model": r["model"], "generation": r["generation"], "device": r["device"],
            "dtype": r["dtype"], "batch_size": r["batch_size"], "prompt_length": r["prompt_length"],
            "context": e.context, "weights_predicted_gib": e.weights_bytes / GIB, "weights_measured_gib": r.get("weights_measured_gib", np.nan),
            "runtime_predicted_gib": e.runtime_bytes / GIB, "runtime_measured_gib": r["runtime_memory_gib"],
            "total_predicted_gib": predicted, "total_measured_gib": measured,
            "error_gib": predicted - measured, "error_pct": 100 * (predicted - measured) / measured if measured else np.nan,
            "measured_as": "peak RSS - RSS before load" if cpu else "torch max allocated",
        })
    return pd.DataFrame(rows)
