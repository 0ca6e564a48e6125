"""Charts: one theme, one colour per generation; each chart function takes a DataFrame and returns a Figure.

Every chart carries a footnote saying where its numbers come from (use `footnote`).
"""

from __future__ import annotations

import matplotlib

import matplotlib.pyplot as plt
import seaborn as sns

GENERATION_PALETTE = "viridis"


def apply_theme() -> None:
    """The suite's look, for notebooks and the rendered report (PNG, crisp enough for print).

    In a Jupyter kernel it also selects the inline backend, so charts reach the notebook (and the report)
    even where MPLBACKEND is set in the environment, as under cron or CI.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.run_line_magic("matplotlib", "inline")
    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (8, 4.5),
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "legend.frameon": False,
        }
    )


def generation_colors(generations: list[str]) -> dict[str, tuple]:
    """A stable colour per generation, in catalogue order."""
    colors = sns.color_palette(GENERATION_PALETTE, n_colors=max(len(generations), 3))
    return {g: colors[i] for i, g in enumerate(generations)}


def footnote(fig: plt.Figure, text: str) -> plt.Figure:
    """Stamp the data source / conventions under the chart."""
    fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=7.5, color="0.35", wrap=True)
    return fig
