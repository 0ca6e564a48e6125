"""Charts of measured evaluation results (input: gentrend.evaluation rows)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from gentrend.plots import footnote


def measured_scores(rows: pd.DataFrame, title: str = "Measured scores") -> plt.Figure:
    """Every percent-scale metric of each requested task as a bar with its standard error, one colour per
    model and checkpoint. Synthetic-weight runs are labelled as such (their scores are chance level)."""
    own = rows[(rows["task"] == rows["requested_task"]) & (rows["unit"] == "percent")]
    label = own["requested_task"] + " · " + own["metric"] + " [" + own["filter"] + "]"
    run = (
        own["model"]
        + " "
        + own["checkpoint"].str.replace("_", "-")
        + own["weights"].map({"synthetic": " (synthetic weights)"}).fillna("")
    )
    table = own.assign(label=label, run=run)
    values = table.pivot_table(index="label", columns="run", values="value", aggfunc="first", sort=False)
    errors = table.pivot_table(index="label", columns="run", values="stderr", aggfunc="first", sort=False).reindex_like(
        values
    )
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(values) * max(1, values.shape[1]) + 1.6))
    values.plot.barh(xerr=errors.fillna(0), ax=ax, capsize=2)
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="score (%)", ylabel="", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    first = own.iloc[0] if not own.empty else None
    note = (
        "Source: measured here with lm-evaluation-harness"
        + (f" {first['lm_eval']} on {first['device_name']} ({first['dtype']})" if first is not None else "")
        + "; bars: mean score, whiskers: lm-eval's standard error; task · metric [filter]."
    )
    alt = (
        f"Horizontal bars, {title}: "
        + "; ".join(f"{run} {label} {v:.1f} %" for (label, run), v in values.stack().items())
        if not values.empty
        else f"{title}: no percent-scale scores"
    )
    return footnote(fig, note, alt)
