"""Sentences that quote a run's numbers, built from its tables (never typed into a notebook).

Each function takes tables with the columns the notebooks publish (so the trend report can call them on the
CSVs read back) and returns Markdown with every value from data escaped. A bound is always printed as a
bound, with the share of bounded votes beside it, and never with an interval.
"""

from __future__ import annotations

import math

import pandas as pd

from gentrend.analysis.comparisons import TIE_POINTS
from gentrend.analysis.density import (
    EXACT,
    LEVEL,
    MEDIAN_RULE,
    MIN_TREND_GENERATIONS,
    MIN_VOTES,
    NOT_ESTIMABLE,
)
from gentrend.core.text import escape


def _ci(low: float, high: float, unit: str = "×", digits: int = 2) -> str:
    """'95% interval 1.60–2.15×', with an open end said in words."""
    level, f = f"{LEVEL:.0%} interval", (lambda v: f"{v:.{digits}f}")
    if not low > 0 and not math.isfinite(high):
        return f"{level} unbounded"
    if not low > 0:
        return f"{level} up to {f(high)}{unit}"
    return f"{level} {f(low)}–{'∞' if not math.isfinite(high) else f(high)}{unit}"


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


def _share(row) -> str:
    return f"{int(row.n_votes)} benchmark families, {row.bounded_share:.0%} bounded"


def outside_sentence(outside: pd.DataFrame) -> str:
    """One bullet on the rows outside the reference range, by win / tie / loss (input: the outside_range table)."""
    if outside.empty:
        return ""
    items = [
        f"{escape(r.model)} ({escape(r.position)} the range) against {escape(r.versus)}: {r.wins} higher, "
        f"{r.ties} within {TIE_POINTS:g} point, {r.losses} lower of {r.n_votes} benchmark families (median "
        f"{r.median_delta:+.1f} points)"
        for r in outside.itertuples()
    ]
    return (
        "- Outside the reference range (a density there is set by the range, so it is not pooled): "
        + "; ".join(items)
        + "."
    )


def density_reading(
    models: pd.DataFrame, multipliers: pd.DataFrame, doubling: pd.DataFrame, outside: pd.DataFrame | None = None
) -> str:
    """Bullets: models with an exact density, models with only a bound, models outside the reference range,
    the generation multipliers and the doubling time (inputs: the per-model, multiplier, doubling-time and
    outside-range tables)."""
    outside = pd.DataFrame() if outside is None else outside
    if models.empty and outside.empty:
        return "- No model of another generation shares a benchmark with the reference curve on this track."
    reference = (models if not models.empty else outside)["reference"].iloc[0]
    track = (models if not models.empty else outside)["track"].iloc[0]
    lines = []
    for row in models[models["bound"] == EXACT].itertuples():
        lines.append(
            f"- {escape(row.model)} performs like a {escape(row.effective_label.lstrip('≈'))} model of generation "
            f"{escape(reference)}: density {row.density:.2f}× ({_ci(row.ci_low, row.ci_high)}; {_share(row)})."
        )
    bounded = models[~models["bound"].isin([EXACT, NOT_ESTIMABLE])]
    if not bounded.empty:
        lines.append(
            "- Only a bound (the bounded benchmarks can move the median; no interval): "
            + "; ".join(f"{escape(r.model)} {escape(r.density_label)} ({_share(r)})" for r in bounded.itertuples())
            + "."
        )
    for row in models[models["bound"] == NOT_ESTIMABLE].itertuples():
        lines.append(
            f"- {escape(row.model)}: not estimable ({_share(row)} inside the reference range, "
            f"{row.n_outside} benchmarks outside it)."
        )
    if not outside.empty:
        lines.append(outside_sentence(outside))
    newer = multipliers[multipliers["method"] != "reference"]
    if not newer.empty:
        items = [
            f"{escape(r.generation)} {escape(r.label)} ("
            + (f"{_ci(r.ci_low, r.ci_high)}; " if r.bound == EXACT else "")
            + f"{int(r.n_votes)} votes of {int(r.n_models)} models, {r.bounded_share:.0%} bounded"
            + ("" if r.method == "direct" else f"; {escape(r.method)}")
            + ")"
            for r in newer.itertuples()
        ]
        lines.append(
            f"- Generation multipliers against {escape(reference)} ({escape(track)} track): " + "; ".join(items) + "."
        )
    if not doubling.empty:
        fit = doubling.iloc[0]
        share = f"{fit['bounded_share']:.0%} of the newer generations' votes bounded"
        if fit["bound"] == EXACT:
            lines.append(
                f"- Density doubling time: {escape(fit['label'])} "
                f"({_ci(fit['ci_low'], fit['ci_high'], ' months', 1)}), "
                f"fitted on the exact multipliers of {escape(fit['generations'])}; {share}."
            )
        else:
            lines.append(
                f"- Density doubling time: {escape(fit['label'])} besides the reference (a trend needs "
                f"{MIN_TREND_GENERATIONS}); per generation: {escape(fit['per_generation'])}; {share}."
            )
    return "\n".join(lines)


def density_method(rows: pd.DataFrame, families: pd.DataFrame, n_boot: int, seed: int) -> str:
    """The method of the density section, from the code's constants and this run's rows (input: the
    per-benchmark table with position, source_url and reference_sources, and the families table), so a
    reader can reproduce every number."""
    if rows.empty:
        return "- No density rows on this track."
    reference, track, size = rows[["reference", "track", "size_convention"]].iloc[0]
    inside = rows[rows["position"] == "inside"]
    mixed = inside[[s not in refs.split() for s, refs in zip(inside["source_url"], inside["reference_sources"])]]
    collapsed = families[families["n_members"] > 1]
    lines = [
        f"- **Reference curve**, per benchmark: the scores of generation {escape(reference)} against log10(parameters, "
        f"{escape(size)}), made monotone by isotonic regression (pool-adjacent-violators, equal weights) and joined by "
        "straight lines in log10(parameters). A model's effective size is the smallest size at which that curve "
        "reaches its score; density = effective size / own size. Nothing is extrapolated: above the curve's top the "
        "value is a lower bound, below its bottom an upper bound.",
        f"- **Reference range**, per benchmark: from the smallest to the largest reference model scored on it. "
        f"{len(rows) - len(inside)} of {len(rows)} rows of this track have a model outside it; their density would be "
        "set by the range, so they are not pooled and are compared by win / tie / loss "
        f"(tie: within {TIE_POINTS:g} point) "
        "with the nearest end's reference model.",
        "- **Benchmark families** count once: "
        + (
            ", ".join(f"{escape(r.family)} ({r.n_members} benchmarks)" for r in collapsed.itertuples())
            if not collapsed.empty
            else "none has two members on this track"
        )
        + " (data/benchmarks.yaml; a family's vote is the median of its members).",
        f"- **Bounds in the median**: {MEDIAN_RULE}",
        f"- **Interval**: percentile bootstrap over benchmark families, {n_boot} draws (seed {seed}), {LEVEL:.0%}, "
        "families "
        "resampled jointly for all models; low end from the medians of the votes' lower ends, high end from their "
        "upper ends.",
        f"- **Pooling**: a generation's multiplier is the same median over all (model, family) votes of its models "
        f"inside the reference range (at least {MIN_VOTES} votes); a generation without overlap is chained through an "
        "intermediate generation.",
        "- **Doubling time**: least squares of log2(multiplier) against months since the reference release, on the "
        "exact multipliers only (the reference counts as 1×); doubling time = 1 / slope, its interval from the same "
        f"bootstrap draws; printed only where at least {MIN_TREND_GENERATIONS} generations besides the reference "
        "have exact multipliers. It is not set beside the densing law's doubling time "
        "(Xiao et al., arXiv 2412.04315): that is a loss-based trend across many model families, not a like-for-like "
        "figure.",
        "- **Evaluation pipelines are mixed**: scores come from technical reports and model cards "
        "(source_url per row). "
        + (
            f"{len(mixed)} of {len(inside)} pooled rows put a score on a curve from other sources: "
            + "; ".join(
                f"generation {escape(g)} from {escape(s)} on curves from {escape(refs)} ({_rows(n)})"
                for (g, s, refs), n in mixed.groupby(["generation", "source_url", "reference_sources"]).size().items()
            )
            + "."
            if not mixed.empty
            else "On this track every pooled row shares its source with the reference curve."
        ),
    ]
    return "\n".join(lines)


def per_size_reading(summary: pd.DataFrame, match: pd.DataFrame) -> str:
    """Bullets: the largest and smallest median gain per size class, and the smallest newest model that matches
    the oldest generation's largest (inputs: the per-size summary and newest-vs-largest tables; counts are of
    benchmark families)."""
    if summary.empty:
        return "- No size class has two generations scored on shared benchmarks on this track."
    lines = []
    ranked = summary.sort_values("median_delta")
    for label, row in (("Largest", ranked.iloc[-1]), ("Smallest", ranked.iloc[0])):
        lines.append(
            f"- {label} median change: {escape(row['model'])} against {escape(row['baseline_model'])} "
            f"({escape(row['size_class'])}), {row['median_delta']:+.1f} points; {int(row['wins'])} higher, "
            f"{int(row['ties'])} within {TIE_POINTS:g} point, {int(row['losses'])} lower of "
            f"{int(row['n_votes'])} benchmark families."
        )
    if not match.empty:
        hit = match[match["smallest_match"].astype(bool)]
        versus = escape(match["versus"].iloc[0])
        if hit.empty:
            lines.append(f"- No model of the newest generation matches {versus} on the shared benchmarks.")
        else:
            r = hit.iloc[0]
            lines.append(
                f"- The smallest newest-generation model that matches {versus}: {escape(r['model'])} "
                f"(median {r['median_delta']:+.1f} points; {int(r['wins'])} higher, {int(r['ties'])} tied, "
                f"{int(r['losses'])} lower of {int(r['n_votes'])} benchmark families)."
            )
    return "\n".join(lines)


def verdict_reading(ledger: pd.DataFrame) -> str:
    """The ledger in one line of counts per verdict, then the refuted claims by id (input: the ledger table)."""
    if ledger.empty:
        return "- No claims were checked."
    counts = ledger["verdict"].value_counts()
    line = f"- Of {len(ledger)} claims: " + ", ".join(f"{n} {escape(v)}" for v, n in counts.items()) + "."
    refuted = ledger[ledger["verdict"] == "refuted"]
    if not refuted.empty:
        line += (
            "\n- Refuted: " + "; ".join(f"{escape(r.id)} ({escape(r.claim)[:120]})" for r in refuted.itertuples()) + "."
        )
    return line


def robustness_reading(summary: pd.DataFrame) -> str:
    """One bullet per headline multiplier: whether it holds under the robustness variants, and the assumptions
    in the data it rests on (input: gentrend.analysis.robustness.robustness_table's summary)."""
    if summary.empty:
        return "- No generation besides the reference has a multiplier on this track."
    return "\n".join(
        f"- Generation {escape(r.generation)} against {escape(r.reference)} ({escape(r.headline)}): "
        f"{escape(r.verdict)}. Assumptions: {escape(r.assumptions)}."
        for r in summary.itertuples()
    )
