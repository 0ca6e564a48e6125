"""Published benchmark scores (data/published_scores.csv) as one tidy DataFrame, joined to the catalogue.

One row per (model, variant, benchmark, setting, source) as printed; the provenance columns source_url and
source_detail are kept on every row. Derived columns:
- track: the comparison track. base; non-thinking (Qwen2.5 instruct counts as non-thinking); thinking.
- unit: percent unless data/benchmarks.yaml says otherwise.
- flag: DISAGREES / DIFFERENT-SETTING where the curated data marks a conflict between sources, else empty.
- model_id, params_total, params_non_embedding, release_date from the catalogue; model_id is empty for
  checkpoints that are not catalogue entries (e.g. Qwen3-4B-Instruct-2507), which analyses leave out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from . import paths
from .catalogue import Catalogue, load_catalogue
from .errors import CatalogueError, DataError

REQUIRED_COLUMNS = ["model", "generation", "size_label", "variant", "benchmark", "setting", "score", "source_url", "source_detail"]
TRACK_OF_VARIANT = {"base": "base", "instruct": "non-thinking", "non-thinking": "non-thinking", "thinking": "thinking"}
TRACKS = ("base", "non-thinking", "thinking")


def benchmark_units(path: Path | None = None) -> dict[str, str]:
    path = Path(path or paths.DATA_DIR / "benchmarks.yaml")
    if not path.exists():
        raise DataError(f"benchmark units file not found: {path}", "restore data/benchmarks.yaml from the repository")
    return (yaml.safe_load(path.read_text()) or {}).get("units", {})


def _unit(benchmark: str, score: float, units: dict[str, str]) -> str:
    unit = units.get(benchmark, "percent")
    if unit == "points_10_or_percent":
        return "points_10" if score <= 10 else "percent"
    return unit


def load_scores(path: Path | str | None = None, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Read, check and enrich the published scores. Bad files fail with a message naming the row and column."""
    path = Path(path or paths.SCORES_FILE)
    if not path.exists():
        raise DataError(f"scores file not found: {path}", "restore data/published_scores.csv from the repository")
    df = pd.read_csv(path, dtype={"generation": str, "score": str}, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path} lacks columns {missing}", f"the file needs the columns {REQUIRED_COLUMNS}")
    score = pd.to_numeric(df["score"], errors="coerce")
    if score.isna().any():
        row = int(score.isna().idxmax())
        raise DataError(f"{path} row {row + 2}: score {df.loc[row, 'score']!r} is not a number", "write the score as printed, digits only")
    unknown = sorted(set(df["variant"]) - set(TRACK_OF_VARIANT))
    if unknown:
        raise DataError(f"{path}: unknown variant(s) {unknown}", f"use one of {sorted(TRACK_OF_VARIANT)}")

    catalogue = catalogue or load_catalogue()
    units = benchmark_units()
    df["score"] = score
    df["track"] = df["variant"].map(TRACK_OF_VARIANT)
    df["unit"] = [_unit(b, s, units) for b, s in zip(df["benchmark"], df["score"])]
    df["flag"] = df["source_detail"].str.extract(r"FLAG-([A-Z-]+)", expand=False).fillna("")

    def model_id(repo: str):
        try:
            return catalogue.get(repo).id
        except CatalogueError:
            return None

    df["model_id"] = df["model"].map(model_id)
    facts = catalogue.to_frame().set_index("model_id")[["params_total", "params_non_embedding", "release_date", "family"]]
    df = df.join(facts, on="model_id")
    return df


def score_table(scores: pd.DataFrame, model_ids: list[str], track: str) -> pd.DataFrame:
    """Benchmarks x models for one track, as printed (several sources for one cell are joined by ' / ')."""
    rows = scores[scores["model_id"].isin(model_ids) & (scores["track"] == track)]
    if rows.empty:
        return pd.DataFrame()
    fmt = rows.assign(value=rows["score"].map("{:g}".format))
    table = fmt.pivot_table(index=["benchmark", "unit"], columns="size_label", values="value", aggfunc=" / ".join)
    order = list(dict.fromkeys(rows.sort_values("params_total")["size_label"]))
    return table.reindex(columns=order).fillna("").reset_index()
