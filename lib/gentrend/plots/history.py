"""The headline figures across the runs of a reports folder (reports/index.html): one panel per figure kind,
one line per series, so a step between two runs (e.g. after a library upgrade) shows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from gentrend.plots import footnote

PANELS = {
    "density multiplier": "density multiplier vs the track's reference (×)",
    "decode speed": "decode tokens/s (median)",
}


def headline_history(points: pd.DataFrame) -> plt.Figure:
    """`points`: one row per run and series (columns run, started, figure, series, value; `figure` one of
    PANELS). X: the runs in start order, labelled by run id; a series missing from a run has a gap there."""
    kinds = [k for k in PANELS if k in set(points["figure"])]
    order = points.drop_duplicates("run").sort_values("started")["run"].tolist()
    position = {run: i for i, run in enumerate(order)}
    fig, axes = plt.subplots(len(kinds), 1, figsize=(9, 3.2 * len(kinds)), squeeze=False)
    described = []
    for ax, kind in zip(axes[:, 0], kinds):
        shown = points[points["figure"] == kind]
        for series, line in shown.groupby("series", sort=True):
            full = line.set_index("run")["value"].reindex(order)
            ax.plot([position[r] for r in order], full.to_numpy(), "o-", label=series)
            last = line.sort_values("started").iloc[-1]
            described.append(f"{kind}, {series}: {last['value']:.3g} in run {last['run']}")
        ax.set_xticks(range(len(order)), order, rotation=20, ha="right", fontsize=8)
        ax.set(ylabel=PANELS[kind], title=f"{kind.capitalize()} across runs")
        ax.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    runs = f"{len(order)} run" + ("s" if len(order) > 1 else "")
    alt = f"Headline figures across {runs} ({order[0]} to {order[-1]}); latest values: " + "; ".join(described)
    return footnote(
        fig,
        "Source: each run's published tables (density multipliers, exact values only) and measured profiling "
        "results (batch 1, shortest prompt; synthetic weights where the run used them).",
        alt,
    )
