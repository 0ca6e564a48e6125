"""Charts of capability density: score vs size per benchmark, effective-size arrows, density ratios per model,
and the density multiplier over release date. Inputs are the tables of gentrend.density."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
import numpy as np
import pandas as pd

from ..density import DAYS_PER_MONTH, DENSING_LAW_DOUBLING_MONTHS, DENSING_LAW_SOURCE, monotone_curve
from ..vocab import SIZE_CONVENTIONS, size_column
from . import colors, footnote

MARKERS = {"=": "o", ">": ">", "<": "<", "~": "D"}  # bounds on a horizontal value axis
MARKERS_UP = {"=": "o", ">": "^", "<": "v", "~": "D"}  # bounds on a vertical value axis
SIZE_TICKS = [0.5e9, 1e9, 2e9, 4e9, 8e9, 16e9]


def _size_axis(ax) -> None:
    """Log x axis of parameters with readable ticks (0.5B, 1B, 2B, ...)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(SIZE_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e9:g}B"))
    ax.xaxis.set_minor_locator(NullLocator())


def source_note(track: str, size: str, reference: str | None = None) -> str:
    """The footnote every density / per-size chart carries: data source, track, size convention, reference."""
    ref = f"; reference generation {reference} (isotonic curve, no extrapolation: >/< mark bounds)" if reference else ""
    return (f"Source: published scores, data/published_scores.csv (technical reports and model cards; one row per "
            f"model and benchmark by the disagreement rule); track: {track}; size: {SIZE_CONVENTIONS[size]}{ref}; "
            f"percent-scale benchmarks only.")


def score_vs_params(selected: pd.DataFrame, track: str, size: str = "total", benchmarks: list[str] | None = None,
                    ncols: int = 4) -> plt.Figure:
    """Small multiples, one per benchmark: score against parameters (log axis) with each generation's monotone
    curve. benchmarks: which panels (default: those scored by at least two generations)."""
    column = size_column(size)
    if not benchmarks:
        counts = selected.groupby("benchmark")["generation"].nunique()
        benchmarks = list(counts[counts >= 2].index)
    palette = colors(selected["generation"])
    nrows = max(1, math.ceil(len(benchmarks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False, sharex=True)
    for ax, benchmark in zip(axes.flat, benchmarks):
        rows = selected[selected["benchmark"] == benchmark]
        for generation, group in rows.groupby("generation", sort=False):
            curve = monotone_curve(group[column], group["score"])
            label = f"{group['family'].iloc[0]}{generation}"
            ax.plot(10 ** curve["log10_params"], curve["fitted"], "-", color=palette[generation], lw=1.5, label=label)
            ax.plot(group[column], group["score"], "o", color=palette[generation], ms=4)
        _size_axis(ax)
        ax.set_title(benchmark, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines() if not h.get_label().startswith("_")}
    fig.legend(handles.values(), handles.keys(), loc="upper right", ncol=len(handles))
    fig.supxlabel(f"parameters ({SIZE_CONVENTIONS[size]}, log scale)", fontsize=9)
    fig.supylabel("score (%)", fontsize=9)
    fig.suptitle(f"Score vs size per benchmark, {track} track", fontweight="bold", y=1.0)
    fig.tight_layout()
    alt = (f"Small multiples of score against parameters (log scale), {track} track, one panel per benchmark "
           f"({', '.join(benchmarks)}), one monotone curve per generation ({', '.join(handles)}).")
    return footnote(fig, source_note(track, size) + " Lines: each generation's isotonic (monotone) curve.", alt)


def effective_size_arrows(models: pd.DataFrame) -> plt.Figure:
    """Per model, an arrow from its own size to its median effective size on the reference curve, labelled
    'Qwen3-1.7B ≈ Qwen2.5-3.4B' (input: gentrend.density.model_density)."""
    track, size, reference = models[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(models["generation"])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(models) + 1.2))
    family = models["model"].str.extract(r"^(\D+)", expand=False).iloc[0]
    for y, row in enumerate(models.itertuples()):
        ax.annotate("", xy=(row.effective_params, y), xytext=(row.params, y),
                    arrowprops={"arrowstyle": "->", "color": palette[row.generation], "lw": 2})
        ax.plot(row.params, y, "o", color=palette[row.generation])
        relation, value = row.effective_label[0], row.effective_label[1:]
        ax.text(max(row.params, row.effective_params) * 1.08, y, f"{row.model} {relation} {family}{reference}-{value}",
                va="center", fontsize=8)
    _size_axis(ax)
    ax.set_yticks(range(len(models)), models["model"])
    ax.invert_yaxis()
    ax.set_xlim(models[["params", "effective_params"]].min().min() / 1.5, models[["params", "effective_params"]].max().max() * 6)
    ax.set(xlabel=f"parameters ({SIZE_CONVENTIONS[size]}, log scale)",
           title=f"Effective size on the {family}{reference} curve (median over benchmarks), {track}")
    fig.tight_layout()
    alt = (f"Arrows from each model's own size to its effective size on the generation-{reference} curve, {track} track: "
           + "; ".join(f"{r.model} {r.params / 1e9:.2f}B to {r.effective_label}" for r in models.itertuples()))
    return footnote(fig, source_note(track, size, reference) + " Dot: own size; arrow head: effective size.", alt)


def density_ratios(models: pd.DataFrame) -> plt.Figure:
    """Median density ratio per model with its bootstrap interval; bounds drawn as > / < markers."""
    track, size, reference = models[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(models["generation"])
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(models) + 1.3))
    for y, row in enumerate(models.itertuples()):
        color = palette[row.generation]
        ax.plot([row.ci_low, row.ci_high], [y, y], "-", color=color, lw=2, alpha=0.6)
        ax.plot(row.density, y, MARKERS[row.bound], color=color, ms=8)
        ax.text(row.ci_high * 1.05, y, f"{row.density_label} (n={row.n_benchmarks})", va="center", fontsize=8)
    ax.axvline(1, color="0.5", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_yticks(range(len(models)), models["model"])
    ax.invert_yaxis()
    ax.set(xlabel=f"density ratio vs generation {reference} (effective / own size, log scale)",
           title=f"Capability density per model, {track} track")
    fig.tight_layout()
    alt = (f"Dot plot of the median density ratio per model against generation {reference}, {track} track: "
           + "; ".join(f"{r.model} {r.density_label} (interval {r.ci_low:.2f}–{r.ci_high:.2f})" for r in models.itertuples()))
    return footnote(fig, source_note(track, size, reference)
                    + " Median over benchmarks; line: 95% bootstrap interval over benchmarks; >/< marker: a bound.", alt)


def density_over_time(generations: pd.DataFrame, doubling: pd.DataFrame) -> plt.Figure:
    """Density multiplier against release date (log2 axis) with the fitted trend and the densing law's slope."""
    track, size, reference = generations[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(generations["generation"])
    ref_date = generations.loc[generations["generation"] == reference, "release_date"].iloc[0]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for row in generations.itertuples():
        err = [[row.multiplier - row.ci_low], [row.ci_high - row.multiplier]]
        ax.errorbar(row.release_date, row.multiplier, yerr=err, fmt=MARKERS_UP[row.bound], color=palette[row.generation],
                    ms=9, capsize=4, label=f"{row.generation}: {row.label} ({row.method})")
    days = np.linspace(0, (generations["release_date"].max() - ref_date) / pd.Timedelta(days=1), 50)
    dates = ref_date + pd.to_timedelta(days, unit="D")
    fit = doubling.iloc[0]
    ax.plot(dates, 2 ** (fit["intercept_log2"] + fit["slope_per_month"] * days / DAYS_PER_MONTH), "-", color="0.3",
            label=f"fit: doubling every {fit['doubling_months']:.1f} months (95% CI {fit['ci_low']:.1f}–{fit['ci_high']:.1f})"
                  + ("" if fit["bounded"] == "none" else f"; rests on bound values for {fit['bounded']}"))
    ax.plot(dates, 2 ** (days / DAYS_PER_MONTH / DENSING_LAW_DOUBLING_MONTHS), ":", color="tab:red",
            label=f"densing law: doubling every {DENSING_LAW_DOUBLING_MONTHS} months ({DENSING_LAW_SOURCE})")
    ax.set_yscale("log", base=2)
    top = max(generations["ci_high"].max(), 1) * 2
    ax.set_ylim(min(generations["ci_low"].min(), 1) / 1.5, top)
    ax.set(xlabel="release date", ylabel=f"density multiplier vs {reference} (log2)",
           title=f"Capability density over time, {track} track")
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    alt = (f"Density multiplier against release date (log scale), {track} track, reference {reference}: "
           + "; ".join(f"generation {r.generation} {r.label}" for r in generations.itertuples())
           + f"; fitted doubling time {fit['doubling_months']:.1f} months against the densing law's {DENSING_LAW_DOUBLING_MONTHS} months.")
    return footnote(fig, source_note(track, size, reference) + " Error bars: 95% bootstrap over benchmarks;"
                    " marker ▲/▼/◆: the multiplier is a lower / upper bound / mixes bounds (fit uses the bound value).", alt)
