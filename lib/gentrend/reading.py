"""Sentences that quote a run's numbers, built from its tables (never typed into a notebook).

Each function takes tables with the columns the notebooks publish (so the trend report can call them on the
CSVs read back) and returns Markdown with every value from data escaped.
"""

from __future__ import annotations

import math

import pandas as pd

from .publish import escape


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def density_reading(models: pd.DataFrame, multipliers: pd.DataFrame, doubling: pd.DataFrame) -> str:
    """Bullets: models with an interpolated density, models that only have a bound, the generation
    multipliers and the doubling time (inputs: the per-model, multiplier and doubling-time tables)."""
    if models.empty:
        return "- No model of another generation shares a benchmark with the reference curve on this track."
    track, reference = models["track"].iloc[0], models["reference"].iloc[0]
    lines = []
    exact = models[models["bound"] == "="]
    for row in exact.itertuples():
        lines.append(f"- {escape(row.model)} performs like a {escape(row.effective_label.lstrip('≈'))} model of generation "
                     f"{escape(reference)}: density {row.density:.2f}× (95% interval {row.ci_low:.2f}–{row.ci_high:.2f}×, "
                     f"{row.n_benchmarks} benchmarks).")
    above = models[models["bound"] == ">"]
    if not above.empty:
        lines.append(f"- {_join([escape(m) for m in above['model']])} score above the largest generation-{escape(reference)} "
                     f"model on most benchmarks: their density is only a lower bound ("
                     + ", ".join(f"{escape(r.model)} {escape(r.density_label)}" for r in above.itertuples()) + ").")
    other = models[models["bound"].isin(["<", "~"])]
    if not other.empty:
        lines.append("- Bounded or mixed medians: " + ", ".join(f"{escape(r.model)} {escape(r.density_label)}"
                                                               for r in other.itertuples()) + ".")
    newer = multipliers[multipliers["method"] != "reference"]
    if not newer.empty:
        lines.append(f"- Generation multipliers against {escape(reference)} ({escape(track)} track): "
                     + ", ".join(f"{escape(r.generation)} {escape(r.label)}" for r in newer.itertuples()) + ".")
    if not doubling.empty:
        fit = doubling.iloc[0]
        high = "∞" if not math.isfinite(fit["ci_high"]) else f"{fit['ci_high']:.1f}"
        caveat = "" if fit["bounded"] == "none" else f" It rests on bound values for generation(s) {escape(fit['bounded'])}."
        lines.append(f"- Fitted density doubling time: {fit['doubling_months']:.1f} months (interval {fit['ci_low']:.1f}–{high}), "
                     f"against the densing law's {fit['published_months']:g} months.{caveat}")
    return "\n".join(lines)


def per_size_reading(summary: pd.DataFrame, match: pd.DataFrame) -> str:
    """Bullets: the largest and smallest median gain per size class, and the smallest newest model that matches
    the oldest generation's largest (inputs: the per-size summary and newest-vs-largest tables)."""
    if summary.empty:
        return "- No size class has two generations scored on shared benchmarks on this track."
    lines = []
    ranked = summary.sort_values("median_delta")
    for label, row in (("Largest", ranked.iloc[-1]), ("Smallest", ranked.iloc[0])):
        lines.append(f"- {label} median change: {escape(row['model'])} against {escape(row['baseline_model'])} "
                     f"({escape(row['size_class'])}), {row['median_delta']:+.1f} points, higher on {int(row['n_improved'])} "
                     f"of {int(row['n_benchmarks'])} benchmarks.")
    if not match.empty:
        hit = match[match["smallest_match"].astype(bool)]
        versus = escape(match["versus"].iloc[0])
        if hit.empty:
            lines.append(f"- No model of the newest generation matches {versus} on the shared benchmarks.")
        else:
            r = hit.iloc[0]
            lines.append(f"- The smallest newest-generation model that matches {versus}: {escape(r['model'])} "
                         f"(median {r['median_delta']:+.1f} points, at least equal on {r['share_at_least_equal']:.0%} of "
                         f"{int(r['n_benchmarks'])} benchmarks).")
    return "\n".join(lines)


def verdict_reading(ledger: pd.DataFrame) -> str:
    """The ledger in one line of counts per verdict, then the refuted claims by id (input: the ledger table)."""
    if ledger.empty:
        return "- No claims were checked."
    counts = ledger["verdict"].value_counts()
    line = f"- Of {len(ledger)} claims: " + ", ".join(f"{n} {escape(v)}" for v, n in counts.items()) + "."
    refuted = ledger[ledger["verdict"] == "refuted"]
    if not refuted.empty:
        line += "\n- Refuted: " + "; ".join(f"{escape(r.id)} ({escape(r.claim)[:120]})" for r in refuted.itertuples()) + "."
    return line
