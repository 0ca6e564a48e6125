"""Profiling charts: speed vs model size, memory vs context, measured vs roofline, latency vs batch size.

Every function takes a DataFrame (the wide profiling table from gentrend.profiling.wide, or the memory
curves / validation tables) and returns a Figure whose footnote states the device, the weights (synthetic!),
the dtype, the kernel path (and any slow fallback) and the memory unit.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from gentrend.core.vocab import QUANTIZED_PRECISIONS, backend_label, precision_name
from gentrend.models.catalogue import Catalogue
from gentrend.models.memory_model import memory_curve
from gentrend.plots import colors, describe, footnote
from gentrend.profiling.results import kernel_text

MEMORY_UNIT = "memory in GiB (2^30 bytes)"
LEGEND_COLUMNS = 3  # of a legend under a page-wide chart


def _count(value: float, _=None) -> str:
    """A tick of a token count or batch size: 8, 512, 4K, 256K."""
    return f"{value / 1024:g}K" if value >= 1024 else f"{value:g}"


def _log2_x(ax) -> None:
    """A log2 x axis of counts with plain labels (at most six, so they never touch), not powers of two."""
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=2, numticks=6))
    ax.xaxis.set_major_formatter(FuncFormatter(_count))
    ax.xaxis.set_minor_locator(NullLocator())


def provenance(w: pd.DataFrame) -> str:
    """One line: where the measured numbers come from (device, weights, dtype, backend, kernel path per op, any
    fallback, a busy device)."""
    if w.empty:
        return "No measurements."
    parts = []
    for col, label in (("device_name", "device"), ("weights", "weights"), ("dtype", "dtype")):
        if col in w:
            values = sorted({str(v) for v in w[col].dropna()})
            parts.append(f"{label}: {', '.join(values)}")
    if "backend" in w:
        parts.append("backend: " + ", ".join(sorted({backend_label(b) for b in w["backend"].dropna()})))
    if "tiny" in w and w["tiny"].astype(bool).any():
        parts.append("TINY shrunken architectures (smoke test, not the real models)")
    if "weights" in w and (w["weights"] == "synthetic").any():
        parts.append("synthetic = random weights: speed and memory only, no quality")
    if "kernel_attention" in w:
        kernels = sorted({f"{m}: {kernel_text(r)}" for m, (_, r) in zip(w["model"], w.iterrows())})
        parts.append(f"kernel path: {'; '.join(kernels)}")
    if "kernel_fallback" in w and w["kernel_fallback"].astype(bool).any():
        fallback = sorted(w.loc[w["kernel_fallback"].astype(bool), "model"].unique())
        parts.append(
            f"SLOW PYTORCH REFERENCE for some linear-attention ops ({', '.join(fallback)}): not representative of the fast kernels"
        )
    fallbacks = sorted({str(v) for v in w.get("fallback", pd.Series(dtype=str)).dropna() if str(v)})
    if fallbacks:
        parts.append(f"FALLBACK: {'; '.join(fallbacks)}")
    if "device_busy" in w and (busy := w[w["device_busy"].fillna("").astype(str) != ""]).shape[0]:
        parts.append(
            f"DEVICE BUSY with other work while profiling {', '.join(sorted(busy['model'].unique()))}: "
            "timings may be slow and noisy (the tables say how busy)"
        )
    return "; ".join(parts) + f"; {MEMORY_UNIT}; median over runs, bars p10–p90."


def _ok(w: pd.DataFrame) -> pd.DataFrame:
    return w[w["status"] == "ok"] if "status" in w else w


def _float_weights(w: pd.DataFrame) -> pd.DataFrame:
    """The float-weight rows: the int8/int4 rows (one point each) have their own table, not these charts."""
    return w[~w["dtype"].isin(QUANTIZED_PRECISIONS)] if "dtype" in w else w


def _needs_measurements(chart):
    """Charts of measured points show a one-line notice instead when there are none (e.g. a report run
    without profiling, or the notebook opened before any profile was taken)."""

    @functools.wraps(chart)
    def draw(w: pd.DataFrame, title: str, *args, **kwargs) -> plt.Figure:
        if _ok(w).empty:
            fig, ax = plt.subplots(figsize=(7, 0.8))
            ax.axis("off")
            notice = (
                f"{title}: no measurements in this run (profile with notebooks/04_profile.ipynb "
                "or `gentrend report --models ...`)."
            )
            ax.text(0, 0.5, notice, va="center", fontsize=9, wrap=True)
            return describe(fig, notice)
        return chart(w, title, *args, **kwargs)

    return draw


@_needs_measurements
def speed_vs_size(w: pd.DataFrame, title: str, batch_size: int = 1, prompt_length: int | None = None) -> plt.Figure:
    """Decode tokens/s and TTFT vs parameter count, one colour per generation, at one sweep point
    (default: batch 1, the smallest prompt length every model has); float weights only."""
    ok = _float_weights(_ok(w))
    ok = ok[ok["batch_size"] == batch_size]
    if prompt_length is None and not ok.empty:
        prompt_length = int(ok.groupby("model_id")["prompt_length"].min().max())
    ok = ok[ok["prompt_length"] == prompt_length]
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    palette = colors(w["generation"])
    for gen, g in ok.groupby(ok["generation"].astype(str), sort=False):
        g = g.sort_values("params_total")
        x = g["params_total"] / 1e9
        for ax, col, scale in ((axes[0], "decode_tokens_per_s", 1), (axes[1], "ttft_s", 1000)):
            y = g[col] * scale
            err = np.vstack([y - g[f"{col}_p10"] * scale, g[f"{col}_p90"] * scale - y]).clip(min=0)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=palette[gen], label=f"generation {gen}")
            for xi, yi, name in zip(x, y, g["model"]):
                ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7.5)
    axes[0].set(xlabel="text parameters (billions)", ylabel="decode tokens/s (batch total)", title="Decode speed")
    axes[1].set(xlabel="text parameters (billions)", ylabel="time to first token (ms)", title="Time to first token")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title} (batch {batch_size}, prompt {prompt_length} tokens)", fontsize=10.5, fontweight="bold")
    fig.tight_layout()
    alt = (
        f"Two scatter plots against parameter count at batch {batch_size}, prompt {prompt_length}: decode speed and "
        "time to first token. "
        + "; ".join(
            f"{r.model} {r.decode_tokens_per_s:.3g} tok/s, TTFT {1000 * r.ttft_s:.3g} ms"
            for r in ok.sort_values("params_total").itertuples()
        )
    )
    return footnote(fig, provenance(w), alt)


def memory_vs_context(curves: pd.DataFrame, title: str, measured: pd.DataFrame | None = None) -> plt.Figure:
    """Analytical memory vs context length (from memory_model.memory_curve), one line per model coloured by
    generation: the total with measured points on top (from profiling.memory_validation), and beside it the
    KV cache + linear-attention state apart from the prefill activations."""
    entries = curves["model_id"].nunique() + (0 if measured is None else measured["generation"].nunique())
    key_in = 0.17 * -(-entries // LEGEND_COLUMNS) + 0.1  # the legend's rows, under both charts
    fig = plt.figure(figsize=(7, 3.4 + key_in))
    grid = fig.add_gridspec(2, 2, height_ratios=(3.4, key_in))
    ax, parts, key = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])
    palette = colors(curves["generation"])
    styles = ["-", "--", ":", "-."]
    for gen, g in curves.groupby(curves["generation"].astype(str), sort=False):
        for i, (model_id, m) in enumerate(g.sort_values("params_total").groupby("model_id", sort=False)):
            ax.plot(
                m["context"],
                m["total_gib"],
                styles[i % 4],
                color=palette[gen],
                label=f"{model_id} ({m['precision'].iloc[0]})",
            )
            parts.plot(m["context"], m["kv_state_gib"], styles[i % 4], color=palette[gen], lw=1.8)
            parts.plot(m["context"], m["activation_gib"], styles[i % 4], color=palette[gen], lw=0.8, alpha=0.6)
    if measured is not None and not measured.empty:
        for gen, g in measured.groupby(measured["generation"].astype(str)):
            ax.scatter(
                g["context"],
                g["total_measured_gib"],
                marker="x",
                s=50,
                color=palette.get(gen, "k"),
                zorder=5,
                label=f"measured, generation {gen}",
            )
    for a in (ax, parts):
        _log2_x(a)
    ax.set(xlabel="context length (tokens, batch 1)", ylabel="memory (GiB)", title="Total")
    parts.set_yscale("log")
    parts.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    parts.set(
        xlabel="context length (tokens)",
        ylabel="memory (GiB, log scale)",
        title="KV cache + state (thick), activations (thin)",
    )
    for a in (ax, parts):
        a.title.set_fontsize(9.5)
    fig.suptitle(title, fontsize=10.5, fontweight="bold")
    key.axis("off")
    key.legend(*ax.get_legend_handles_labels(), loc="upper center", ncol=LEGEND_COLUMNS, fontsize=7.5)
    chunks = sorted({"unchunked" if pd.isna(c) else f"in chunks of {int(c)} tokens" for c in curves["prefill_chunk"]})
    note = (
        "Analytical model (gentrend.models.memory_model): weights + KV cache (full-attention layers only for Qwen3.5) + "
        f"fixed linear-attention state + prefill activations (prefill {', '.join(chunks)}); " + MEMORY_UNIT + "."
    )
    if measured is not None and not measured.empty:
        note += (
            " Crosses: measured ("
            + ", ".join(sorted(measured["measured_as"].unique()))
            + ", device "
            + ", ".join(sorted(measured["device"].unique()))
            + ")."
        )
    longest = curves.loc[curves.groupby("model_id")["context"].idxmax()]
    alt = (
        f"Line charts, {title}: memory in GiB against context length (log scale) per model, total and, beside it, "
        "KV cache + state apart from prefill activations; at the longest context "
        + "; ".join(
            f"{r.model_id} {r.total_gib:.1f} GiB at {r.context:,} tokens ({r.kv_state_gib:.2f} KV/state, "
            f"{r.activation_gib:.2f} activations)"
            for r in longest.itertuples()
        )
        + ("" if measured is None or measured.empty else f"; {len(measured)} measured points as crosses")
        + "."
    )
    fig.tight_layout()
    return footnote(fig, note, alt)


@_needs_measurements
def memory_against_measurement(
    w: pd.DataFrame, title: str, validation: pd.DataFrame, catalogue: Catalogue
) -> plt.Figure:
    """The analytical memory curves of the profiled models, at the dtype they were measured in (batch 1),
    with the measured batch-1 points on them (from profiling.memory_validation)."""
    runs = _ok(w)[["model_id", "dtype", "tiny"]].drop_duplicates()
    curves = pd.concat(
        [
            memory_curve([catalogue.get(r.model_id)], precision_name(r.dtype), tiny=bool(r.tiny), prefill_chunk=None)
            for r in runs.itertuples()
        ],  # unchunked, as the measured generate() runs the prefill
        ignore_index=True,
    )
    return memory_vs_context(curves, title, validation[validation["batch_size"] == 1])


@_needs_measurements
def measured_vs_roofline(w: pd.DataFrame, title: str) -> plt.Figure:
    """Share of the bandwidth roofline reached by measured decode, per sweep point (p10–p90 as error bars):
    on the bandwidth measured on the device (solid) and, for GPUs in data/gpus.yaml, on the datasheet's (hatched,
    always the lower share). The dashed line is 100 %."""
    ok = _ok(w).dropna(subset=["decode_tokens_per_s", "roofline_decode_tokens_per_s"]).reset_index(drop=True)
    datasheet = "roofline_fraction_datasheet" in ok and ok["roofline_fraction_datasheet"].notna().any()
    fig, ax = plt.subplots(figsize=(7, 0.9 + (0.5 if datasheet else 0.28) * len(ok)))
    palette = colors(w["generation"])
    labels = [f"{r.model} {r.dtype}  batch {r.batch_size}, prompt {r.prompt_length}" for r in ok.itertuples()]
    y = np.arange(len(ok))
    height = 0.4 if datasheet else 0.8
    bars = [("roofline_fraction", "measured bandwidth", None, -height / 2 if datasheet else 0)]
    if datasheet:
        bars.append(("roofline_fraction_datasheet", "datasheet bandwidth", "//", height / 2))
    for col, label, hatch, offset in bars:
        share = 100 * ok[col]
        err = np.vstack([share - 100 * ok[f"{col}_p10"], 100 * ok[f"{col}_p90"] - share]).clip(min=0)
        ax.barh(
            y + offset,
            share,
            height=height,
            xerr=err,
            color=[palette[str(g)] for g in ok["generation"]],
            capsize=2,
            hatch=hatch,
            edgecolor="k" if hatch else None,
            label=f"% of the roofline on the {label}",
        )
        for yi, pct in zip(y + offset, share):
            if not np.isnan(pct):
                ax.text(pct + 2, yi, f"{pct:.0f} %", va="center", fontsize=7.5)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(100, color="k", ls="--", lw=1)
    ax.invert_yaxis()
    top = float(np.nanmax(100 * ok[[b[0] for b in bars]].to_numpy()))
    ax.set_xlim(0, max(110, top * 1.35))
    ax.set(xlabel="decode speed, % of the roofline (bandwidth / bytes read per step)")
    fig.suptitle(title, fontsize=10.5, fontweight="bold")
    if datasheet:
        ax.legend(fontsize=7.5, loc="lower right")
    fig.tight_layout()
    measured = ", ".join(f"{v:.0f}" for v in sorted(ok["memory_bandwidth_gb_s"].unique()))
    sheet = (
        ", ".join(f"{v:.0f}" for v in sorted(ok["memory_bandwidth_datasheet_gb_s"].dropna().unique()))
        if "memory_bandwidth_datasheet_gb_s" in ok
        else ""
    )
    alt = f"Horizontal bars, {title}: share of the bandwidth roofline per point: " + "; ".join(
        f"{label} {pct:.0f} % of the measured-bandwidth roofline"
        for label, pct in zip(labels, 100 * ok["roofline_fraction"])
    )
    note = (
        f"Bandwidth measured on the device (copy test): {measured} GB/s"
        + (f"; datasheet: {sheet} GB/s" if sheet else "; no datasheet figure for this device")
        + ". "
        + provenance(w)
    )
    return footnote(fig, note, alt)


@_needs_measurements
def latency_vs_batch(w: pd.DataFrame, title: str) -> plt.Figure:
    """TPOT and TTFT (ms) vs batch size, one line per (model, prompt length), float weights; OOM points are
    marked."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    w = _float_weights(w)
    ok = _ok(w)
    palette = colors(w["generation"])
    styles = ["-", "--", ":", "-."]
    for (model, gen), g in ok.groupby(["model", ok["generation"].astype(str)], sort=False):
        for i, (prompt, p) in enumerate(g.groupby("prompt_length")):
            p = p.sort_values("batch_size")
            for ax, col in ((axes[0], "tpot_s"), (axes[1], "ttft_s")):
                y = p[col] * 1000
                err = np.vstack([y - p[f"{col}_p10"] * 1000, p[f"{col}_p90"] * 1000 - y]).clip(min=0)
                ax.errorbar(
                    p["batch_size"],
                    y,
                    yerr=err,
                    fmt=styles[i % 4],
                    marker="o",
                    capsize=3,
                    color=palette[gen],
                    label=f"{model}, prompt {int(prompt)}",
                )
    failed = w[w["status"] != "ok"] if "status" in w else w.iloc[0:0]
    for _, r in failed.iterrows():
        for ax in axes:
            ax.axvline(r["batch_size"], color="red", lw=0.8, ls=":")
            ax.annotate(r["status"].upper(), (r["batch_size"], ax.get_ylim()[1]), color="red", fontsize=7.5, va="top")
    axes[0].set(xlabel="batch size", ylabel="time per output token (ms)", title="TPOT")
    axes[1].set(xlabel="batch size", ylabel="time to first token (ms)", title="TTFT")
    for ax in axes:
        _log2_x(ax)
    axes[0].legend(fontsize=7.5)
    fig.suptitle(title, fontsize=10.5, fontweight="bold")
    fig.tight_layout()
    alt = (
        f"Two line charts, {title}: time per output token and time to first token (ms) against batch size, one line "
        f"per model and prompt length ({ok['model'].nunique()} models, {len(ok)} points)"
        + (f"; {len(failed)} failed point(s) marked" if len(failed) else "")
        + "."
    )
    return footnote(fig, provenance(w), alt)
