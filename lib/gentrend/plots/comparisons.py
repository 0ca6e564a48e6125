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
    # printed at page width (about 6.7 in): narrow columns keep the 9 pt cell text at 7 pt or more in print
    fig, ax = plt.subplots(figsize=(0.7 * len(columns) + 2.6, 0.3 * len(matrix) + 1.8))
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
        annot_kws={"fontsize": 9},
        cbar_kws={"label": "score delta (points)"},
    )
    ax.set(
        xlabel="generation / size class",
        ylabel="",
        title=f"Score change against generation {baseline} of the same size class, {track} track",
    )
    ax.tick_params(labelsize=9)
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
