"""Charts of architecture facts (parameter split, KV-cache cost per token)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from gentrend.plots import footnote


def parameter_split(table: pd.DataFrame, title: str) -> plt.Figure:
    """Stacked bars of embedding vs non-embedding parameters per model (from architecture_table)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    embedding = (table["params_total"] - table["params_non_embedding"]) / 1e9
    ax.bar(table["model"], table["params_non_embedding"] / 1e9, label="non-embedding")
    ax.bar(table["model"], embedding, bottom=table["params_non_embedding"] / 1e9, label="embedding (+ untied head)")
    ax.set(ylabel="parameters (billions)", title=title)
    ax.legend()
    alt = f"Stacked bar chart, {title}: " + "; ".join(
        f"{m} {n / 1e9:.2f}B non-embedding + {t / 1e9 - n / 1e9:.2f}B embedding"
        for m, n, t in zip(table["model"], table["params_non_embedding"], table["params_total"])
    )
    return footnote(
        fig,
        "Source: official configs (data/configs), parameter counts verified by meta-device build; text model only.",
        alt,
    )


def kv_cache_cost(table: pd.DataFrame, title: str) -> plt.Figure:
    """KV-cache KiB per token per model (the column whose name starts with kv_cache_KiB_per_token)."""
    column = next(c for c in table.columns if c.startswith("kv_cache_KiB_per_token"))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(table["model"], table[column], color="#35b779")
    ax.set(ylabel="KiB per token per sequence", title=title)
    alt = f"Bar chart, {title} ({column}): " + "; ".join(
        f"{m} {v:.1f} KiB" for m, v in zip(table["model"], table[column])
    )
    return footnote(
        fig, f"Computed from the configs: 2 (K,V) x full-attention layers x KV heads x head_dim x bytes; {column}.", alt
    )
