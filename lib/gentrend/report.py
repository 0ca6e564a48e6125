"""Helpers for report notebooks: every table shown is also written as a tidy CSV named after it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import run_dir


def table_slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def _whole_numbers_as_int(column: pd.Series) -> pd.Series:
    """Show parameter counts and sizes as 1,720,574,976, not 1,720,574,976.00 (float columns from joins)."""
    if pd.api.types.is_float_dtype(column) and column.notna().any():
        values = column.dropna()
        if np.isfinite(values).all() and (values == values.round()).all():
            return column.astype("Int64")
    return column


def publish_table(df: pd.DataFrame, title: str, output_dir: str | Path = "", source: str = ""):
    """Write `df` to <run>/tables/<slug>.csv and return a display object captioned with title and source."""
    path = run_dir(output_dir) / "tables" / f"{table_slug(title)}.csv"
    df.to_csv(path, index=False)
    df = df.apply(_whole_numbers_as_int)
    caption = f"{title}" + (f" — source: {source}" if source else "") + f" (CSV: tables/{path.name})"
    return df.style.set_caption(caption).hide(axis="index").format(precision=2, thousands=",", na_rep="")
