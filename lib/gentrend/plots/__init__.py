"""Charts: one theme, one colour per generation; each chart function takes a DataFrame and returns a Figure.

Every chart carries a footnote saying where its numbers come from, and alt text saying what it shows (use
`footnote`). A chart's inches are the PDF's inches (the report prints each chart at its own size, never wider
than the page: `print_scale`), so a chart is drawn at most PAGE_WIDTH_IN wide with text of MIN_TEXT_PT or more.
"""

from __future__ import annotations

import itertools

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.text import Text

from gentrend.core.vocab import generation_colors
from gentrend.models.catalogue import load_catalogue

# The PDF (report/templates/report.css): A4 less 12 mm side margins, charts at most 235 mm tall, each printed at
# its own size (image-resolution at the PNG's dpi) unless that is larger.
PAGE_WIDTH_IN = 186 / 25.4
PAGE_HEIGHT_IN = 235 / 25.4
MIN_TEXT_PT = 7  # the smallest text a printed chart may carry
FOOTNOTE_PT = 7.5
SAVE_PAD_IN = 0.1  # savefig(bbox_inches="tight") pads the drawn area by this much on each side


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
    sns.set_theme(style="whitegrid", context="paper")  # sized for print: a chart's inches are the PDF's
    matplotlib.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (7, 4),
            "axes.titleweight": "bold",
            "axes.titlesize": 10.5,
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
    fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=FOOTNOTE_PT, color="0.35", wrap=True)
    return describe(fig, alt)


def saved_size(fig: plt.Figure) -> tuple[float, float]:
    """Width and height in inches of the chart as saved (bbox_inches="tight": the drawn area, padded)."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    return box.width + 2 * SAVE_PAD_IN, box.height + 2 * SAVE_PAD_IN


def print_scale(fig: plt.Figure) -> float:
    """How much the PDF scales the saved chart: 1, or less where it is wider or taller than the page allows."""
    width, height = saved_size(fig)
    return min(1.0, PAGE_WIDTH_IN / width, PAGE_HEIGHT_IN / height)


def texts(fig: plt.Figure) -> list[Text]:
    """The text artists a chart shows (visible, not empty)."""
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def smallest_text_pt(fig: plt.Figure) -> float:
    """The size in points of the smallest text of the chart, at the chart's own size (0 for a chart without text)."""
    return min((t.get_fontsize() for t in texts(fig)), default=0.0)


def label_problems(fig: plt.Figure) -> list[str]:
    """What makes a chart's labels unreadable: tick labels of one axis that overlap as drawn (dates too close
    for their width), and TeX markup shown as text (a log axis's default labels, with math parsing off)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = [f"TeX shown as text: {t.get_text()}" for t in texts(fig) if "\\mathdefault" in t.get_text()]
    for ax in fig.axes:
        span = ax.get_window_extent(renderer)
        for axis, low, high in ((ax.xaxis, span.x0, span.x1), (ax.yaxis, span.y0, span.y1)):
            drawn = []
            for label in axis.get_ticklabels():
                box = label.get_window_extent(renderer)
                centre = (box.x0 + box.x1) / 2 if axis is ax.xaxis else (box.y0 + box.y1) / 2
                if label.get_visible() and label.get_text().strip() and low - 1 <= centre <= high + 1:
                    drawn.append((label.get_text(), box))
            problems += [
                f"overlapping labels: {a} / {b}"
                for (a, box_a), (b, box_b) in itertools.combinations(drawn, 2)
                if box_a.overlaps(box_b)
            ]
    return problems
