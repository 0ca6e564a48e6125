"""Charts: one theme, one colour per generation; each chart function takes a DataFrame and returns a Figure.

Every chart carries a footnote saying where its numbers come from, and alt text saying what it shows (use
`footnote`).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from gentrend.core.vocab import generation_colors
from gentrend.models.catalogue import load_catalogue


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
            "text.parse_math": False,  # text from data ($...$ in a benchmark name) is shown as written, never as TeX
        }
    )


def colors(present=()) -> dict[str, tuple]:
    """Generation colours in catalogue order, so every chart gives a generation the same colour whatever
    subset it shows; generations in `present` but not in the catalogue (fixtures) come after it."""

    order = list(load_catalogue().generations)
    order += [g for g in dict.fromkeys(map(str, present)) if g not in order]
    return generation_colors(order)


def describe(fig: plt.Figure, alt: str) -> plt.Figure:
    """Attach the alt text a chart is published with (chart functions call this)."""
    fig.set_label(alt)
    return fig


def footnote(fig: plt.Figure, text: str, alt: str) -> plt.Figure:
    """Stamp the data source / conventions under the chart, and give it its alt text (what it shows, in words,
    for readers who cannot see it: the report publishes it with the image)."""
    fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=8.5, color="0.35", wrap=True)
    return describe(fig, alt)
