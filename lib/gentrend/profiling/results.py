"""The profiling results schema, and the tables the notebooks and the trend report build from it.

Long format, one row per measurement (a metric of a sweep point, or of the model load):

  identity     model_id, model, generation, params_total, weights ("synthetic" | "real"), weights_source,
               mode (synthetic | hub | local), tiny
  setting      backend (compiled | eager: see gentrend.core.vocab.backend_label), dtype (fp32 | bf16 | fp16 | int8 |
               int4: the weights' precision, int8/int4 weight-only), new_tokens, static_cache_len (compiled),
               scope ("model" | "point"), batch_size, prompt_length (empty for scope "model")
  outcome      status ("ok" | "oom" | "error"), error (message; a failed point has one row, metric "status"),
               fallback ("" or what did not run as planned: the decode step ran eagerly, CUDA graphs skipped)
  measurement  metric, value (median over runs), p10, p90 (spread over runs), n_runs, unit, note (how measured)
  runs         per point (gentrend.profiling.sweep): ci_rel (relative half-width of the 90 % CI of the median
               decode speed), stopped_on ("bound" | "cap": gentrend.profiling.stopping), retries (measured
               again for contention), contended (bool: still contended after the retries; never reused from
               the cache), contention (why), cpu_others_share (other processes' share of the CPU during the
               runs), compile_cache ("cold" | "warm" | "none": gentrend.profiling.compile_cache); model rows:
               contended False. Cached rows carry age_days (since measured_at).
  kernel path  what ran, per op: kernel_attention (sdpa | flash | eager), kernel_sdpa (per point: the SDPA
               implementation seen by the profiler: flash | efficient | cudnn | math | not observed), kernel_gated_delta_rule
               (fla | torch | none), kernel_causal_conv1d (causal-conv1d | torch | none); attn_implementation (as configured);
               linear_attention_kernels (none | fast | partial | torch-fallback); kernel_fallback (any op on torch)
  environment  host, gpu_index ("" on the CPU): the node it ran on, in no key and no grouping; device, device_name,
               driver, cuda, cpu_model, cpu_cores, torch_threads, python, torch, transformers, gentrend,
               flash_linear_attention, causal_conv1d (packages installed), device_memory_gib (CUDA), device_busy
               ("" or what else used the device), env_fingerprint, settings_json, cache_key, measured_at (UTC),
               from_cache

Point metrics: ttft_s, prefill_tokens_per_s, tpot_s, decode_tokens_per_s (summed over the batch), e2e_s,
peak_memory_gib, runtime_memory_gib, [CUDA: cuda_max_reserved_gib, nvml_used_peak_gib, energy_j_per_token],
compile_s (0 where the batch's graph was reused), warmup_runs, warmup_s, graphs_compiled, recompiles (during
measured runs), graph_breaks; roofline_decode_tokens_per_s and roofline_fraction (on the MEASURED bandwidth),
roofline_datasheet_decode_tokens_per_s and roofline_fraction_datasheet (on the datasheet's; known GPUs only).
Model metrics: load_s, weights_gib, weights_measured_gib, memory_bandwidth_gb_s (copy test, p10/p90),
[memory_bandwidth_datasheet_gb_s, CUDA: memory_bandwidth_read_gb_s], [CPU: process_baseline_gib,
process_lifetime_peak_rss_gib]. Memory is in GiB (2**30).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gentrend.core import paths
from gentrend.core.environment import EMPTY_ON_CPU, ROW_ENVIRONMENT_COLUMNS
from gentrend.core.files import read_csv, write_csv
from gentrend.core.vocab import backend_label, precision_name
from gentrend.models.catalogue import ROW_IDENTITY, Catalogue, load_catalogue
from gentrend.models.memory_model import GIB, estimate

# A row's columns by part (see above) in the order they are written, each with its type; text columns are read
# back as text (generation "3" stays "3").
IDENTITY = ROW_IDENTITY | {"tiny": bool}
SETTING = {"backend": str, "dtype": str, "new_tokens": int, "scope": str, "batch_size": int, "prompt_length": int}
OUTCOME = {"status": str, "error": str}
MEASUREMENT = {"metric": str, "value": float, "p10": float, "p90": float, "n_runs": int, "unit": str, "note": str}
KERNEL_PATH = {
    "fallback": str,
    "static_cache_len": int,
    "kernel_attention": str,
    "kernel_sdpa": str,
    "kernel_gated_delta_rule": str,
    "kernel_causal_conv1d": str,
    "attn_implementation": str,
    "linear_attention_kernels": str,
    "kernel_fallback": bool,
    "device_busy": str,
}
RUNS = {  # how a point's runs went (gentrend.profiling.sweep), on each of its rows
    "contended": bool,
    "contention": str,
    "ci_rel": float,
    "stopped_on": str,
    "retries": int,
    "cpu_others_share": float,
    "compile_cache": str,
}
SCHEMA = IDENTITY | SETTING | OUTCOME | MEASUREMENT | KERNEL_PATH | RUNS
SCHEMA_COLUMNS = list(SCHEMA)
# after the schema's columns: where, when and how it was measured (all text)
PROVENANCE_COLUMNS = (*ROW_ENVIRONMENT_COLUMNS, "env_fingerprint", "settings_json", "cache_key", "measured_at")
TEXT_COLUMNS = (*(c for c, kind in SCHEMA.items() if kind is str), *PROVENANCE_COLUMNS)
POINT_METRIC_ORDER = [
    "ttft_s",
    "prefill_tokens_per_s",
    "tpot_s",
    "decode_tokens_per_s",
    "e2e_s",
    "peak_memory_gib",
    "runtime_memory_gib",
    "cuda_max_reserved_gib",
    "nvml_used_peak_gib",
    "energy_j_per_token",
    "roofline_decode_tokens_per_s",
    "roofline_fraction",
    "roofline_datasheet_decode_tokens_per_s",
    "roofline_fraction_datasheet",
    "compile_s",
    "warmup_runs",
    "warmup_s",
    "graphs_compiled",
    "recompiles",
    "graph_breaks",
]
POINT_KEYS = [  # what names a point in `wide` and how it went
    *(c for c in IDENTITY if c not in ("weights_source", "mode")),
    "backend",
    "dtype",
    "device",
    "device_name",
    "new_tokens",
    "batch_size",
    "prompt_length",
    *OUTCOME,
    *KERNEL_PATH,
    "measured_at",
    *(c for c in RUNS if c != "cpu_others_share"),
]
_FILLED = (
    "error",
    "note",
    *EMPTY_ON_CPU,
    "fallback",
    "device_busy",
    "kernel_sdpa",
    "contention",
    "stopped_on",
    "compile_cache",
)  # empty text stays "", not NaN


def read_rows(path: str | Path) -> pd.DataFrame:
    """Read a results CSV back with the schema's types (generation "3" stays text, empty errors are "")."""
    df = read_csv(path, "profiling results", dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True)
    for c in _FILLED:
        if c in df:
            df[c] = df[c].fillna("")
    if "contended" in df:
        df["contended"] = df["contended"].astype(str).str.lower().eq("true")
    return df


def results_path(model_id: str, output_dir: str | Path | None = None) -> Path:
    return paths.run_dir(output_dir) / "results" / f"profile_{model_id}.csv"


def partial_results_path(model_id: str, output_dir: str | Path | None = None) -> Path:
    """Where the rows of an unfinished sweep go, point by point: results/partial/, never read as a profile."""
    return paths.run_dir(output_dir) / "results" / "partial" / f"profile_{model_id}.csv"


def bandwidth_path(device: str, output_dir: str | Path | None = None) -> Path:
    """The run's record of a device's copy test: measured once per run and device, read by every model."""
    return paths.run_dir(output_dir) / "results" / f"bandwidth_{str(device).replace(':', '-')}.json"


def save_results(rows: pd.DataFrame, model_id: str, output_dir: str | Path | None = None) -> Path:
    """Write one model's finished profile to <run>/results/profile_<model>.csv (atomically) and drop its
    partial file."""
    path = write_csv(rows, results_path(model_id, output_dir))
    partial_results_path(model_id, output_dir).unlink(missing_ok=True)
    return path


def load_run_results(
    output_dir: str | Path | None = None, model_ids: list[str] | tuple[str, ...] | None = None
) -> pd.DataFrame:
    """The finished profiles of a run folder, concatenated: of `model_ids` (None: every profile_*.csv); an empty
    frame with the schema if there are none."""
    folder = paths.run_dir(output_dir) / "results"
    if model_ids is None:
        files = sorted(folder.glob("profile_*.csv"))
    else:
        files = [results_path(m, output_dir) for m in model_ids]
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
    filled = [k for k in _FILLED if k in keys]
    base = (
        points[keys]
        .astype({k: str for k in filled})
        .replace({k: {"nan": ""} for k in filled})
        .fillna({k: "" for k in filled})
        .drop_duplicates(subset=["model_id", "backend", "dtype", "device", "tiny", "batch_size", "prompt_length"])
        .reset_index(drop=True)
    )
    ok = points[points["metric"] != "status"]
    out = base
    if not ok.empty:
        idx = [
            k
            for k in ("model_id", "backend", "dtype", "device", "tiny", "batch_size", "prompt_length")
            if k in ok.columns
        ]
        values = ok.pivot_table(index=idx, columns="metric", values="value", aggfunc="first")
        spread = ok[
            ok["metric"].isin(
                ["ttft_s", "tpot_s", "decode_tokens_per_s", "e2e_s", "roofline_fraction", "roofline_fraction_datasheet"]
            )
        ]
        lo = spread.pivot_table(index=idx, columns="metric", values="p10", aggfunc="first").add_suffix("_p10")
        hi = spread.pivot_table(index=idx, columns="metric", values="p90", aggfunc="first").add_suffix("_p90")
        out = base.merge(values.join(lo).join(hi).reset_index(), on=idx, how="left")
    model_idx = [k for k in ("model_id", "backend", "dtype", "device", "tiny") if k in df.columns]
    model_metrics = df[df["scope"] == "model"].pivot_table(
        index=model_idx, columns="metric", values="value", aggfunc="first"
    )
    out = out.merge(model_metrics.reset_index(), on=model_idx, how="left")
    return out.sort_values(["generation", "params_total", "batch_size", "prompt_length"]).reset_index(drop=True)


def _fmt_spread(v, lo, hi, digits=1) -> str:
    if pd.isna(v):
        return "—"
    return f"{v:.{digits}f} [{lo:.{digits}f}–{hi:.{digits}f}]"


def kernel_text(row) -> str:
    """The kernel path of a row, per op: "sdpa (efficient)" or "sdpa (efficient); delta rule fla, conv1d torch",
    with FALLBACK when some linear-attention op ran the slow torch reference."""
    text = str(row.get("kernel_attention", row["attn_implementation"]))
    if row.get("kernel_sdpa") and text == "sdpa":
        text += f" ({row['kernel_sdpa']})"
    if row.get("kernel_gated_delta_rule", "none") != "none" or row.get("kernel_causal_conv1d", "none") != "none":
        text += f"; delta rule {row['kernel_gated_delta_rule']}, conv1d {row['kernel_causal_conv1d']}"
    return text + (" ⚠ FALLBACK" if bool(row["kernel_fallback"]) else "")


def summary_table(df: pd.DataFrame, batch_size: int | None = None, prompt_length: int | None = None) -> pd.DataFrame:
    """One row per profiled model, backend and precision at one point (default: the smallest batch and prompt
    measured): decode tokens/s and TTFT as median [p10–p90], peak memory, % of the roofline on the measured
    and on the datasheet bandwidth, compile time (summed over the batch sizes), the kernel path per op, any
    fallback, whether the device was busy, whether a point of the model was contended (gentrend.profiling.guard:
    its numbers are flagged, a chart or headline using them must say so), weights label, points ok / oom / error.
    The numbers behind the display columns are published too (device_type, torch_threads, batch_size,
    prompt_length, decode_tokens_per_s and its _p10 / _p90), for readers that compute (the report's page one), so
    nothing parses a display string."""
    w = wide(df)
    if w.empty:
        return pd.DataFrame()
    threads = df.groupby("model_id")["torch_threads"].first() if "torch_threads" in df else pd.Series(dtype=float)
    rows = []
    for (model_id, backend, dtype), g in w.groupby(["model_id", "backend", "dtype"], sort=False):
        ok = g[g["status"] == "ok"]
        b = batch_size if batch_size is not None else (ok["batch_size"].min() if not ok.empty else None)
        p = prompt_length if prompt_length is not None else (ok["prompt_length"].min() if not ok.empty else None)
        sel = ok[(ok["batch_size"] == b) & (ok["prompt_length"] == p)]
        r = sel.iloc[0] if not sel.empty else None
        first = g.iloc[0]
        value = lambda col, scale=1.0, r=r: r[col] * scale if r is not None and col in r else np.nan
        spread = lambda col, scale=1.0, r=r: _fmt_spread(
            *((r[[f"{col}{s}" for s in ("", "_p10", "_p90")]] * scale) if r is not None else (np.nan,) * 3)
        )
        rows.append(
            {
                "model": first["model"],
                "generation": first["generation"],
                "params_total": first["params_total"],
                "weights": first["weights"] + (" (tiny)" if bool(first["tiny"]) else ""),
                "device": first["device_name"],
                "device_type": first["device"],
                "torch_threads": threads.get(model_id, np.nan),
                "batch_size": b if r is not None else np.nan,
                "prompt_length": p if r is not None else np.nan,
                "decode_tokens_per_s": value("decode_tokens_per_s"),
                "decode_tokens_per_s_p10": value("decode_tokens_per_s_p10"),
                "decode_tokens_per_s_p90": value("decode_tokens_per_s_p90"),
                "dtype": dtype,
                "backend": backend_label(backend),
                "kernel path": kernel_text(first if r is None else r),
                "point (batch × prompt)": f"{b} × {p}" if r is not None else "—",
                "decode tok/s median [p10–p90]": spread("decode_tokens_per_s"),
                "TTFT ms median [p10–p90]": spread("ttft_s", 1000),
                "peak memory GiB": value("peak_memory_gib"),
                "% of roofline (measured bandwidth)": value("roofline_fraction", 100),
                "% of roofline (datasheet bandwidth)": value("roofline_fraction_datasheet", 100),
                "compile s": g["compile_s"].sum() if "compile_s" in g and backend == "compiled" else np.nan,
                "fallback": "; ".join(sorted({f for f in g["fallback"] if f})) or "none",
                "load s": first.get("load_s", np.nan),
                "points ok/oom/error": "/".join(str((g["status"] == s).sum()) for s in ("ok", "oom", "error")),
                "device busy": first["device_busy"] or "no",
                "contended": bool(g["contended"].any()) if "contended" in g else False,
                "measured at (UTC)": first["measured_at"],
            }
        )
    return pd.DataFrame(rows)


def precision_table(df: pd.DataFrame, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Speed, peak memory and energy per weight precision, next to the memory model's prediction at that
    precision: one row per model, backend and precision at batch 1 (or the smallest batch) and the shortest
    prompt measured for every precision of the model; only models measured at more than one precision. On CUDA the measured memory is torch's max allocated;
    the memory model counts GPTQ/AWQ-style groups (see gentrend.models.memory_model), torchao's formats differ a little."""
    catalogue = catalogue or load_catalogue()
    w = wide(df)
    w = w[w["status"] == "ok"] if not w.empty else w
    rows = []
    for model_id, g in w.groupby("model_id", sort=False):
        g = g[g["batch_size"] == g["batch_size"].min()]
        shared = set.intersection(*(set(x["prompt_length"]) for _, x in g.groupby("dtype")))
        if g["dtype"].nunique() < 2 or not shared:
            continue
        g = g[g["prompt_length"] == min(shared)]
        base = g[g["dtype"].isin(("bf16", "fp16", "fp32"))]
        reference = base.iloc[0] if not base.empty else None
        for r in g.sort_values("dtype").itertuples():
            e = estimate(
                catalogue.get(model_id),
                precision_name(r.dtype),
                int(r.prompt_length + r.new_tokens),
                int(r.batch_size),
                prefill_tokens=int(r.prompt_length),
                tiny=bool(r.tiny),
            )
            rows.append(
                {
                    "model": r.model,
                    "dtype": r.dtype,
                    "backend": backend_label(r.backend),
                    "device": r.device_name,
                    "point (batch × prompt)": f"{r.batch_size} × {r.prompt_length}",
                    "decode tok/s": r.decode_tokens_per_s,
                    "speed vs float weights": (
                        r.decode_tokens_per_s / reference.decode_tokens_per_s if reference is not None else np.nan
                    ),
                    "peak memory GiB (measured)": r.peak_memory_gib,
                    "memory GiB (memory model)": e.total_bytes / GIB,
                    "weights GiB (measured)": getattr(r, "weights_gib", np.nan),
                    "weights GiB (memory model)": e.weights_bytes / GIB,
                    "energy J/token": getattr(r, "energy_j_per_token", np.nan),
                    "% of roofline (measured bandwidth)": 100 * r.roofline_fraction,
                }
            )
    return pd.DataFrame(rows)


def memory_validation(df: pd.DataFrame, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Analytical memory model vs measurement, one row per ok point. Compared quantity: on CUDA torch's max
    allocated; on the CPU the peak RSS minus the process's RSS before loading (Python + libraries). The model
    is evaluated at the measured dtype, batch, prefill = the prompt, and the cache length that was allocated:
    prompt + new tokens (eager's dynamic cache) or the static cache's length (compiled backend)."""
    catalogue = catalogue or load_catalogue()
    w = wide(df)
    w = w[w["status"] == "ok"] if not w.empty else w
    rows = []
    for _, r in w.iterrows():
        m = catalogue.get(r["model_id"])
        static = r.get("static_cache_len")
        context = int(static) if pd.notna(static) else int(r["prompt_length"] + r["new_tokens"])
        e = estimate(
            m,
            precision_name(r["dtype"]),
            context,
            int(r["batch_size"]),
            prefill_tokens=int(r["prompt_length"]),
            attn_implementation=r["attn_implementation"],
            tiny=bool(r["tiny"]),
        )
        cpu = r["device"] == "cpu"
        measured = r["peak_memory_gib"] - (r.get("process_baseline_gib", 0.0) if cpu else 0.0)
        predicted = e.total_bytes / GIB
        rows.append(
            {
                "model_id": r["model_id"],
                "model": r["model"],
                "generation": r["generation"],
                "device": r["device"],
                "dtype": r["dtype"],
                "batch_size": r["batch_size"],
                "prompt_length": r["prompt_length"],
                "context": e.context,
                "weights_predicted_gib": e.weights_bytes / GIB,
                "weights_measured_gib": r.get("weights_measured_gib", np.nan),
                "kv_state_predicted_gib": e.kv_state_bytes / GIB,
                "activations_predicted_gib": e.activation_bytes / GIB,
                "runtime_predicted_gib": e.runtime_bytes / GIB,
                "runtime_measured_gib": r["runtime_memory_gib"],
                "total_predicted_gib": predicted,
                "total_measured_gib": measured,
                "error_gib": predicted - measured,
                "error_pct": 100 * (predicted - measured) / measured if measured else np.nan,
                "measured_as": "peak RSS - RSS before load" if cpu else "torch max allocated",
            }
        )
    return pd.DataFrame(rows)
