"""Charts of capability density: score vs size per benchmark, effective-size arrows, density ratios per model,
and the density multiplier over release date. Inputs are the tables of gentrend.analysis.density. An interval is
drawn for exact medians only; a bound is drawn as a bound; models outside the reference range get no value,
only their win / tie / loss."""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from gentrend.analysis.density import (
    DAYS_PER_MONTH,
    EXACT,
    LOWER,
    MIN_TREND_GENERATIONS,
    NOT_ESTIMABLE,
    RANGE,
    UPPER,
    monotone_curve,
)
from gentrend.analysis.selection import family_of
from gentrend.core.vocab import SIZE_CONVENTIONS, size_column
from gentrend.plots import colors, footnote

MARKERS = {EXACT: "o", LOWER: ">", UPPER: "<"}  # bounds on a horizontal value axis
MARKERS_UP = {EXACT: "o", LOWER: "^", UPPER: "v"}  # bounds on a vertical value axis
SIZE_TICKS = [0.5e9, 1e9, 2e9, 4e9, 8e9, 16e9]


def _size_axis(ax) -> None:
    """Log x axis of parameters with readable ticks (0.5B, 1B, 2B, ...)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(SIZE_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e9:g}B"))
    ax.xaxis.set_minor_locator(NullLocator())


def _times(value: float, _=None) -> str:
    """A tick of a multiplier axis: 0.5×, 1×, 2×."""
    return f"{value:g}×"


PUBLISHED = (
    "published scores, data/published_scores.csv (technical reports and model cards; one row per model and "
    "benchmark by the disagreement rule)"
)


def source_note(track: str, size: str, reference: str | None = None, source: str = PUBLISHED) -> str:
    """The footnote every density / per-size chart carries: data source, track, size convention, reference."""
    ref = f"; reference generation {reference} (isotonic curve, no extrapolation: >/< mark bounds)" if reference else ""
    return f"Source: {source}; track: {track}; size: {SIZE_CONVENTIONS[size]}{ref}; percent-scale benchmarks only."


NOTE_PT = 7.5  # the line of text above each row of a per-model chart
ROW_IN = 0.42  # the height of one row of a per-model chart (a value and the note above it)
PANELS_PER_CHART = 12  # score-vs-size panels per chart (3 x 4 at page width: text readable in print)
PANEL_COLUMNS = 3


def score_vs_params(
    selected: pd.DataFrame,
    track: str,
    size: str = "total",
    benchmarks: list[str] | None = None,
    ncols: int = PANEL_COLUMNS,
    source: str = PUBLISHED,
    part: str = "",
) -> plt.Figure:
    """Small multiples, one per benchmark: score against parameters (log axis) with each generation's monotone
    curve. benchmarks: which panels (default: those scored by at least two generations; see
    `score_vs_params_charts` for charts of at most PANELS_PER_CHART panels); part: e.g. '1 of 3' in the title."""
    column = size_column(size)
    if not benchmarks:
        benchmarks = compared_benchmarks(selected)
    palette = colors(selected["generation"])
    nrows = max(1, math.ceil(len(benchmarks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.0 * nrows + 0.8), squeeze=False, sharex=True)
    for ax, benchmark in zip(axes.flat, benchmarks):
        rows = selected[selected["benchmark"] == benchmark]
        for generation, group in rows.groupby("generation", sort=False):
            curve = monotone_curve(group[column], group["score"])
            label = f"{group['family'].iloc[0]}{generation}"
            ax.plot(10 ** curve["log10_params"], curve["fitted"], "-", color=palette[generation], lw=1.5, label=label)
            ax.plot(group[column], group["score"], "o", color=palette[generation], ms=4)
        _size_axis(ax)
        ax.set_title(benchmark, fontsize=8.5)
        ax.tick_params(labelsize=7.5)
    for ax in list(axes.flat)[len(benchmarks) :]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines() if not h.get_label().startswith("_")}
    fig.supxlabel(f"parameters ({SIZE_CONVENTIONS[size]}, log scale)", fontsize=8)
    fig.supylabel("score (%)", fontsize=8)
    title = f"Score vs size per benchmark, {track} track" + (f" ({part})" if part else "")
    fig.suptitle(title, fontweight="bold", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(  # under the title, never over it
        handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=len(handles), fontsize=8
    )
    alt = (
        f"Small multiples of score against parameters (log scale), {track} track, one panel per benchmark "
        f"({', '.join(benchmarks)}), one monotone curve per generation ({', '.join(handles)})."
    )
    return footnote(
        fig, source_note(track, size, source=source) + " Lines: each generation's isotonic (monotone) curve.", alt
    )


def compared_benchmarks(selected: pd.DataFrame) -> list[str]:
    """Benchmarks scored by at least two generations, grouped by benchmark family (family order, then name)."""
    counts = selected.groupby("benchmark")["generation"].nunique()
    names = pd.Series(sorted(counts[counts >= 2].index))
    return list(names.iloc[np.lexsort((names, family_of(names)))])


def score_vs_params_charts(
    selected: pd.DataFrame, track: str, size: str = "total", source: str = PUBLISHED
) -> list[plt.Figure]:
    """`score_vs_params` over every compared benchmark, as charts of at most PANELS_PER_CHART panels each."""
    benchmarks = compared_benchmarks(selected)
    chunks = [benchmarks[i : i + PANELS_PER_CHART] for i in range(0, len(benchmarks), PANELS_PER_CHART)] or [[]]
    return [
        score_vs_params(selected, track, size, chunk or None, source=source, part=f"{i} of {len(chunks)}")
        for i, chunk in enumerate(chunks, 1)
    ]


def _note(ax, y: float, text: str, **kw) -> None:
    """Text just above row y, from the plot's left edge: between the rows, so it never covers a drawn value."""
    ax.annotate(
        text,
        (0, y),
        xycoords=ax.get_yaxis_transform(),
        xytext=(3, 5),
        textcoords="offset points",
        va="bottom",
        fontsize=NOTE_PT,
        **kw,
    )


def _outside_rows(ax, outside: pd.DataFrame, drawn: pd.Series, start: int) -> list[str]:
    """Rows of text for models outside the reference range (win / tie / loss, no value drawn); their labels. One
    row per model (a model above one reference model and below another gets both on its row); a model already
    drawn with a value from its other benchmarks is not listed again (the outside-range table has it)."""
    labels = []
    rest = outside[~outside["model"].isin(drawn)]
    for y, (model, group) in enumerate(rest.groupby("model", sort=False), start=start):
        votes = "\n".join(
            f"vs {r.versus} {r.wins} higher / {r.ties} tied / {r.losses} lower of {r.n_votes} families"
            for r in group.itertuples()
        )
        _note(ax, y, f"outside the reference range: {votes}", color="0.3")
        labels.append(model)
    return labels


def _outside_alt(outside: pd.DataFrame) -> str:
    return "".join(
        f"; {r.model} outside the reference range, against {r.versus}: {r.wins} higher, {r.ties} tied, {r.losses} lower"
        for r in outside.itertuples()
    )


def effective_size_arrows(
    models: pd.DataFrame, outside: pd.DataFrame | None = None, source: str = PUBLISHED
) -> plt.Figure:
    """Per model, an arrow from its own size to its median effective size on the reference curve, labelled
    'Qwen3-1.7B ≈ Qwen2.5-3.4B'; for a bound the arrow stops at the bound and is dashed, for two-sided bounds
    a dashed bar spans them (input: gentrend.analysis.density.model_density). Models outside the reference range
    (gentrend.analysis.density.outside_range) are listed by win / tie / loss, without an arrow."""
    outside = pd.DataFrame(columns=["model", "versus"]) if outside is None else outside
    track, size, reference = models[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(models["generation"])
    fig, ax = plt.subplots(figsize=(7, ROW_IN * (len(models) + len(outside)) + 1.2))
    family = models["model"].str.extract(r"^(\D+)", expand=False).iloc[0]
    low = models["density_low"] * models["params"]
    high = (models["density_high"] * models["params"]).where(np.isfinite(models["density_high"]))
    ends = pd.concat([models["params"], low[low > 0], high.dropna()])
    for y, (row, lo, hi) in enumerate(zip(models.itertuples(), low, high)):
        color = palette[row.generation]
        ax.plot(row.params, y, "o", color=color)
        target = lo if row.bound in (EXACT, LOWER, RANGE) else hi if row.bound == UPPER else None
        if target is not None:
            ax.annotate(
                "",
                xy=(target, y),
                xytext=(row.params, y),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 2, "ls": "-" if row.bound == EXACT else "--"},
            )
        if row.bound == RANGE:
            ax.plot([lo, hi], [y, y], "--", color=color, lw=2)
        _note(ax, y, f"{row.model} {row.effective_label} ({family}{reference} curve, {row.n_votes} families)")
    labels = list(models["model"]) + _outside_rows(ax, outside, models["model"], len(models))
    _size_axis(ax)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.9)  # room above the first row for its note
    ax.set_xlim(ends.min() / 1.5, ends.max() * 1.5)
    ax.set(
        xlabel=f"parameters ({SIZE_CONVENTIONS[size]}, log scale)",
        title=f"Effective size on the {family}{reference} curve, {track} track",
    )
    fig.tight_layout()
    alt = (
        f"Arrows from each model's own size to its effective size on the generation-{reference} curve, {track} track: "
        + "; ".join(f"{r.model} {r.params / 1e9:.2f}B to {r.effective_label}" for r in models.itertuples())
        + _outside_alt(outside)
    )
    return footnote(
        fig,
        source_note(track, size, reference, source) + " Dot: own size; solid arrow: exact median; dashed: a "
        "bound (the arrow stops at it); models outside the reference range: win / tie / loss, no value.",
        alt,
    )


def density_ratios(models: pd.DataFrame, outside: pd.DataFrame | None = None, source: str = PUBLISHED) -> plt.Figure:
    """Median density ratio per model: exact medians with their bootstrap interval; bounds as > / < markers at
    the bound and two-sided bounds as a dotted span, never with an interval; models outside the reference
    range listed by win / tie / loss."""
    outside = pd.DataFrame(columns=["model", "versus"]) if outside is None else outside
    track, size, reference = models[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(models["generation"])
    fig, ax = plt.subplots(figsize=(7, ROW_IN * (len(models) + len(outside)) + 1.2))
    finite = pd.concat(
        [
            models["density_low"][models["density_low"] > 0],
            models["density_high"][np.isfinite(models["density_high"])],
            models["ci_high"].dropna(),
        ]
    )
    for y, row in enumerate(models.itertuples()):
        color = palette[row.generation]
        if row.bound == EXACT:
            ax.plot([row.ci_low, row.ci_high], [y, y], "-", color=color, lw=2, alpha=0.6)
            ax.plot(row.density, y, MARKERS[EXACT], color=color, ms=8)
        elif row.bound == LOWER:
            ax.plot(row.density_low, y, MARKERS[LOWER], color=color, ms=8)
        elif row.bound == UPPER:
            ax.plot(row.density_high, y, MARKERS[UPPER], color=color, ms=8)
        elif row.bound == RANGE:
            ax.plot([row.density_low, row.density_high], [y, y], ":", color=color, lw=2)
            ax.plot(row.density_low, y, MARKERS[LOWER], color=color, ms=8)
            ax.plot(row.density_high, y, MARKERS[UPPER], color=color, ms=8)
        _note(ax, y, f"{row.density_label} ({row.n_votes} families, {row.bounded_share:.0%} bounded)")
    labels = list(models["model"]) + _outside_rows(ax, outside, models["model"], len(models))
    ax.axvline(1, color="0.5", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(_times))
    if not finite.empty:
        ax.set_xlim(min(finite.min(), 1) / 1.3, max(finite.max(), 1) * 1.3)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.9)  # room above the first row for its note
    ax.set(
        xlabel=f"density ratio vs generation {reference} (effective / own size, log scale)",
        title=f"Capability density per model, {track} track",
    )
    fig.tight_layout()
    alt = (
        f"Dot plot of the median density ratio per model against generation {reference}, {track} track: "
        + "; ".join(
            f"{r.model} {r.density_label}" + (f" (interval {r.ci_low:.2f}–{r.ci_high:.2f})" if r.bound == EXACT else "")
            for r in models.itertuples()
        )
        + _outside_alt(outside)
    )
    return footnote(
        fig,
        source_note(track, size, reference, source) + " Median over benchmark families; line: 95% bootstrap "
        "interval (exact medians only); >/< marker: a bound, without an interval.",
        alt,
    )


def density_over_time(generations: pd.DataFrame, doubling: pd.DataFrame, source: str = PUBLISHED) -> plt.Figure:
    """Density multiplier against release date (log2 axis): exact multipliers with their interval, bounds as
    ▲/▼ markers at the bound (two-sided bounds joined by a dotted line), the fitted trend where the doubling
    time was fitted (rule 8 of gentrend.analysis.density)."""
    track, size, reference = generations[["track", "size_convention", "reference"]].iloc[0]
    palette = colors(generations["generation"])
    ref_date = generations.loc[generations["generation"] == reference, "release_date"].iloc[0]
    fig, ax = plt.subplots(figsize=(7, 4))
    for row in generations.itertuples():
        color, label = palette[row.generation], f"{row.generation}: {row.label} ({row.method})"
        if row.bound == EXACT:
            err = [[row.multiplier - row.ci_low], [row.ci_high - row.multiplier]]
            ax.errorbar(
                row.release_date,
                row.multiplier,
                yerr=err,
                fmt=MARKERS_UP[EXACT],
                color=color,
                ms=9,
                capsize=4,
                label=label,
            )
        elif row.bound != NOT_ESTIMABLE:
            ends = [(row.multiplier_low, MARKERS_UP[LOWER])] if row.bound in (LOWER, RANGE) else []
            ends += [(row.multiplier_high, MARKERS_UP[UPPER])] if row.bound in (UPPER, RANGE) else []
            if row.bound == RANGE:
                ax.plot([row.release_date] * 2, [row.multiplier_low, row.multiplier_high], ":", color=color, lw=2)
            for i, (value, marker) in enumerate(ends):
                ax.plot(row.release_date, value, marker, color=color, ms=9, label=label if i == 0 else None)
    fit = doubling.iloc[0]
    if fit["bound"] == EXACT:
        days = np.linspace(0, (generations["release_date"].max() - ref_date) / pd.Timedelta(days=1), 50)
        ax.plot(
            ref_date + pd.to_timedelta(days, unit="D"),
            2 ** (fit["intercept_log2"] + fit["slope_per_month"] * days / DAYS_PER_MONTH),
            "-",
            color="0.3",
            label=f"fit on {fit['generations']}: doubling every {fit['label']} "
            f"(95% CI {fit['ci_low']:.1f}–{fit['ci_high']:.1f})",
        )
    else:
        ax.plot([], [], " ", label=f"doubling time: {fit['label']} (a trend needs {MIN_TREND_GENERATIONS})")
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(_times))
    shown = pd.concat([generations["ci_high"], generations["multiplier_low"], generations["multiplier_high"]])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    ax.set_ylim(min(shown.min(), 1) / 1.5, max(shown.max(), 1) * 2)
    ax.set(
        xlabel="release date",
        ylabel=f"density multiplier vs {reference} (log2)",
        title=f"Capability density over time, {track} track",
    )
    ax.legend(fontsize=8, loc="upper left")
    dates = mdates.AutoDateLocator(minticks=3, maxticks=6)  # at most six dates: their labels never touch
    ax.xaxis.set_major_locator(dates)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(dates))
    fig.tight_layout()
    alt = (
        f"Density multiplier against release date (log scale), {track} track, reference {reference}: "
        + "; ".join(f"generation {r.generation} {r.label}" for r in generations.itertuples())
        + f"; doubling time {fit['label']}."
    )
    return footnote(
        fig,
        source_note(track, size, reference, source) + " Error bars: 95% bootstrap over benchmark families, exact"
        " multipliers only; ▲/▼: a lower / upper bound (dotted: both), without an interval; the trend is"
        " fitted on exact multipliers only.",
        alt,
    )
