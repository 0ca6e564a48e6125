"""Charts of per-size comparisons: the score-delta heatmap per size class (input: gentrend.analysis.comparisons)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from gentrend.plots import footnote
from gentrend.plots.density import PUBLISHED, source_note


def delta_heatmap(
    matrix: pd.DataFrame, track: str, size: str = "total", baseline: str = "", source: str = PUBLISHED
) -> plt.Figure:
    """Benchmarks x (generation, size class) score deltas in points against the baseline generation
    (input: gentrend.analysis.comparisons.delta_matrix). Empty cells: the pair was not scored on that benchmark."""
    columns = [f"{g}\n{c}" for g, c in matrix.columns]
    # printed at its own size: narrow columns and rows of 8 pt text keep a page-wide chart of 40 benchmarks on a page
    fig, ax = plt.subplots(figsize=(min(0.6 * len(columns) + 2.6, 6.2), 0.19 * len(matrix) + 1.6))
    limit = max(float(matrix.abs().max().max()), 1.0)
    sns.heatmap(
        matrix.set_axis(columns, axis=1),
        ax=ax,
        cmap="RdBu",
        center=0,
        vmin=-limit,
        vmax=limit,
        annot=True,
        fmt=".1f",
        annot_kws={"fontsize": 8},
        cbar_kws={"label": "score delta (points)"},
    )
    ax.set(
        xlabel="generation / size class",
        ylabel="",
    )
    ax.set_title(f"Score change vs generation {baseline}, same size class, {track} track", fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    cells = matrix.stack(list(range(matrix.columns.nlevels))).dropna()
    alt = (
        (
            f"Heatmap of score changes in points against generation {baseline}, {track} track, {len(matrix)} "
            f"benchmarks x {len(columns)} generation/size-class columns; changes range from {cells.min():+.1f} to "
            f"{cells.max():+.1f} points, median {cells.median():+.1f}."
        )
        if not cells.empty
        else f"Empty heatmap: no score changes on the {track} track."
    )
    return footnote(
        fig,
        source_note(track, size, source=source)
        + " Size classes are bins of parameter count (gentrend.analysis.comparisons.SIZE_CLASSES).",
        alt,
    )
