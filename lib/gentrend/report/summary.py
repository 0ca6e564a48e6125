"""The executive summary: the run's headline findings, one sentence each with its number, computed from the
run's published tables (never typed in), each linking to the report section it comes from.

Findings: capability density per track (the generation multipliers), the largest and smallest per-size
change, what fits on common GPU memory sizes, the speed measured on this run's device (and what those
numbers are: device, weights, backend), and the claims ledger's verdict counts. A finding whose tables the
run did not produce is left out.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from gentrend.core.text import escape
from gentrend.core.vocab import TRACKS
from gentrend.report.publish import producer_name


class Finding(NamedTuple):
    text: str  # one sentence, values escaped (Markdown-safe)
    section: str  # id of the report section it comes from


def _density(run) -> Finding | None:
    parts = []
    for track in TRACKS:
        table = run.frame(producer_name("density", track), "multipliers")
        if table is None:
            continue
        reference = table.loc[table["method"] == "reference", "generation"]
        newer = table[table["method"] != "reference"]
        if newer.empty or reference.empty:
            continue
        parts.append(
            f"{escape(track)}: "
            + ", ".join(f"generation {escape(r.generation)} {escape(r.label)}" for r in newer.itertuples())
            + f" against {escape(reference.iloc[0])}"
        )
    if not parts:
        return None
    return Finding(
        "Capability density (effective parameters per parameter, median over benchmarks) — " + "; ".join(parts) + ".",
        "Capability-density",
    )


def _per_size(run) -> Finding | None:
    frames = []
    for track in TRACKS:
        table = run.frame(producer_name("per-size", track), "summary")
        if table is not None and not table.empty:
            frames.append(table.assign(track=track))
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True).sort_values("median_delta")
    best, worst = rows.iloc[-1], rows.iloc[0]
    describe = lambda r: (
        f"{escape(r['model'])} over {escape(r['baseline_model'])} ({escape(r['track'])}, "
        f"{r['median_delta']:+.1f} points median over {int(r['n_benchmarks'])} benchmarks)"
    )
    return Finding(f"Largest per-size change: {describe(best)}; smallest: {describe(worst)}.", "Per-size-comparisons")


def _fits(run) -> Finding | None:
    table = run.frame("speed-memory", "fits")
    if table is None or table.empty:
        return None
    sizes = [c for c in table.columns if c.endswith(" GB")]
    parts = []
    for size in dict.fromkeys((sizes[0], sizes[len(sizes) // 2])):
        largest = {}
        for precision in dict.fromkeys(table["precision"]):
            fit = table[(table["precision"] == precision) & (table[size] == "yes")]
            if not fit.empty:
                largest.setdefault(fit.loc[fit["weights_gib"].idxmax(), "model_id"], []).append(precision)
        parts.append(
            f"{escape(size)}: "
            + (", ".join(f"{escape(m)} at {'/'.join(map(escape, p))}" for m, p in largest.items()) or "no model")
            + " at most"
        )
    context = int(table["context"].iloc[0])
    return Finding(
        f"What fits (analytical memory model, {context:,}-token context): " + "; ".join(parts) + ".", "Speed-and-memory"
    )


def _speed(run) -> Finding | None:
    table = run.frame("speed-memory", "summary")
    if table is None or table.empty:
        return None
    column = "decode tok/s median [p10–p90]"
    decode = table[column].astype(str).str.extract(r"^([\d.]+)", expand=False).astype(float)
    fastest, slowest = table.loc[decode.idxmax()], table.loc[decode.idxmin()]
    what = ", ".join(
        sorted(
            {
                f"{escape(r.device)} ({escape(r.weights)} weights, {escape(r.dtype)}, {escape(r.backend)} backend)"
                for r in table.itertuples()
            }
        )
    )
    return Finding(
        f"Speed measured here on {what}: decode from {escape(slowest[column])} tok/s ({escape(slowest['model'])}) "
        f"to {escape(fastest[column])} tok/s ({escape(fastest['model'])}) at {escape(fastest['point (batch × prompt)'])}.",
        "Speed-and-memory",
    )


def _claims(run) -> Finding | None:
    ledger = run.frame("claims", "ledger")
    if ledger is None or ledger.empty:
        return None
    counts = ledger["verdict"].value_counts()
    return Finding(
        f"Claims ledger: of {len(ledger)} public claims, "
        + ", ".join(f"{n} {escape(v)}" for v, n in counts.items())
        + ".",
        "Claims-ledger",
    )


def findings(run) -> list[Finding]:
    """The headline findings of a run folder (a gentrend.report.layout.RunArtefacts; see the module docstring)."""
    return [f for f in (_density(run), _per_size(run), _fits(run), _speed(run), _claims(run)) if f is not None]


def markdown(items: list[Finding]) -> str:
    """The findings as a Markdown list, each with a link to its section."""
    if not items:
        return "- This run produced no tables to summarise."
    return "\n".join(f"- {f.text} [→ section](#{f.section})" for f in items)
