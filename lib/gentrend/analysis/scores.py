"""Published benchmark scores (data/published_scores.csv) as one tidy DataFrame, joined to the catalogue.

One row per (model, variant, benchmark, setting, source) as printed (a repeated one is an error; a catalogue
model's rows must give its generation and size label); the provenance columns source_url and source_detail are
kept on every row. Derived columns:
- track: the comparison track (gentrend.core.vocab.TRACK_OF_VARIANT): base; non-thinking (Qwen2.5 instruct counts
  as non-thinking); thinking.
- unit: percent unless data/benchmarks.yaml says otherwise; every score must lie in its unit's range.
- flag: DISAGREES / DIFFERENT-SETTING where the curated data marks a conflict between sources, else empty.
- model_id, params_total, params_non_embedding, release_date from the catalogue; model_id is empty for
  checkpoints that are not catalogue entries (e.g. Qwen3-4B-Instruct-2507), which analyses leave out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from gentrend.core import paths
from gentrend.core.errors import CatalogueError, DataError
from gentrend.core.files import read_csv, read_yaml
from gentrend.core.limits import MAX_SCORE_ROWS, Name, Text
from gentrend.core.text import shorten
from gentrend.core.vocab import TRACK_OF_VARIANT
from gentrend.evaluation import as_scores, load_evaluation_results
from gentrend.models.catalogue import Catalogue, load_catalogue

REQUIRED_COLUMNS = [
    "model",
    "generation",
    "size_label",
    "variant",
    "benchmark",
    "setting",
    "score",
    "source_url",
    "source_detail",
]
# The range a score of each unit must lie in (inclusive); anything else is a typo in the data.
UNIT_RANGES = {"percent": (0, 100), "points_10": (0, 10), "percentile": (0, 100), "elo": (0, 5000)}


UNIT_NAMES = tuple(UNIT_RANGES) + ("points_10_or_percent",)


class Family(BaseModel):
    """Benchmarks that share test items and count as one vote (see gentrend.analysis.selection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    members: list[Name] = Field(min_length=1)
    why: Text = Field(min_length=1)


class BenchmarkData(BaseModel):
    """data/benchmarks.yaml: the unit of each benchmark that is not a percentage, and the benchmark families."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    units: dict[Name, Literal[UNIT_NAMES]] | None = None
    families: dict[Name, Family] = Field(default_factory=dict)
    # chance level in percent (multiple choice with k options: 100 / k); percentage benchmarks only
    chance: dict[Name, Annotated[float, Field(gt=0, lt=100, strict=True)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _chance_on_percentages(self) -> BenchmarkData:
        other = sorted(set(self.chance) & set(self.units or {}))
        if other:
            raise ValueError(f"chance levels given to benchmarks whose unit is not percent: {', '.join(other)}")
        return self


class ScoreRow(BaseModel):
    """One row of data/published_scores.csv, as written there (the score is checked as a number apart)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    model: Name = Field(min_length=1)
    generation: Name
    size_label: Name
    variant: Name
    benchmark: Name = Field(min_length=1)
    setting: Text
    score: Name
    source_url: Text = Field(min_length=1)
    source_detail: Text


_ROWS = TypeAdapter(list[ScoreRow])


def _errors(err: ValidationError, where) -> str:
    return "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in err.errors()[:3])


def benchmark_data(path: Path | str | None = None) -> BenchmarkData:
    """data/benchmarks.yaml, validated; an error names the field and the entry."""
    path = Path(path or paths.data_file("benchmarks.yaml"))
    raw = read_yaml(path, "benchmark units")
    if not isinstance(raw, dict):
        raise DataError(f"{path} is not a mapping", "start the file with 'units:' followed by benchmark: unit lines")
    try:
        return BenchmarkData.model_validate(raw)
    except ValidationError as e:
        raise DataError(
            f"{path}: {_errors(e, lambda loc: ' '.join(shorten(str(p), quote=False) for p in loc))}",
            f"write benchmark: unit lines (the unit one of: {', '.join(UNIT_NAMES)}), each family as "
            "NAME: {members: [benchmark, ...], why: where they come from}, and chance levels as BENCHMARK: 100 / k "
            "for a multiple-choice benchmark with k options (e.g. GPQA: 25)",
        ) from None


def benchmark_units(path: Path | None = None) -> dict[str, str]:
    """Benchmark → unit for the benchmarks that are not percentages (data/benchmarks.yaml `units`)."""
    path = Path(path or paths.data_file("benchmarks.yaml"))
    units = benchmark_data(path).units
    if units is None:
        raise DataError(
            f"{path} has no 'units' mapping", "start the file with 'units:' followed by benchmark: unit lines"
        )
    return units


def _unit(benchmark: str, score: float, units: dict[str, str]) -> str:
    unit = units.get(benchmark, "percent")
    if unit == "points_10_or_percent":
        return "points_10" if score <= 10 else "percent"
    return unit


def _check_ranges(df: pd.DataFrame, path: Path) -> None:
    low = df["unit"].map(lambda u: UNIT_RANGES[u][0])
    high = df["unit"].map(lambda u: UNIT_RANGES[u][1])
    bad = ~np.isfinite(df["score"]) | (df["score"] < low) | (df["score"] > high)
    if bad.any():
        row = int(bad.idxmax())
        r = df.loc[row]
        raise DataError(
            f"{path} row {row + 2}: {r['model']} {r['benchmark']} score {r['score']:g} is outside the "
            f"{r['unit']} range {UNIT_RANGES[r['unit']][0]}–{UNIT_RANGES[r['unit']][1]}",
            "write the score as printed in the source (percentages as 0–100)",
        )


def _check_unique(df: pd.DataFrame, path: Path) -> None:
    """One row per (model, variant, benchmark, setting, source): a repeated row would count twice."""
    key = ["model", "variant", "benchmark", "setting", "source_url"]
    repeated = df.duplicated(key, keep=False)
    if repeated.any():
        first, second = df.index[repeated][:2]
        raise DataError(
            f"{path} rows {first + 2} and {second + 2} give the same model, variant, benchmark, setting and "
            f"source ({df.loc[first, 'model']}, {df.loc[first, 'benchmark']})",
            "keep one of them (a second source of the same score needs its own source_url)",
        )


def _check_against_catalogue(df: pd.DataFrame, catalogue: Catalogue, path: Path) -> None:
    """A row of a catalogue model must give that model's generation and size label (analyses group by them)."""
    for row in df[df["model_id"].notna()].itertuples():
        model = catalogue.get(row.model_id)
        for column, expected in (("generation", model.generation), ("size_label", model.size_label)):
            if getattr(row, column) != expected:
                raise DataError(
                    f"{path} row {row.Index + 2}: {row.model} has {column} {getattr(row, column)!r}, "
                    f"but the catalogue says {expected!r}",
                    f"write {expected!r} there (data/models.yaml is the reference)",
                )


def load_scores(path: Path | str | None = None, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Read, check and enrich the published scores. Bad files fail with a message naming the row and column."""
    path = Path(path or paths.data_file("published_scores.csv"))
    df = read_csv(path, "published scores", MAX_SCORE_ROWS, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path} lacks columns {missing}", f"the file needs the columns {REQUIRED_COLUMNS}")
    if df.empty:
        raise DataError(f"{path} has a header but no scores", "restore the file from the repository")
    try:
        _ROWS.validate_python(df[REQUIRED_COLUMNS].to_dict("records"))
    except ValidationError as e:
        raise DataError(
            f"{path} {_errors(e, lambda loc: f'row {loc[0] + 2}, column {loc[1]}')}",
            "correct that cell (names are short and visible, see the README's Limits)",
        ) from None
    score = pd.to_numeric(df["score"], errors="coerce")
    if score.isna().any():
        row = int(score.isna().idxmax())
        raise DataError(
            f"{path} row {row + 2}: score {shorten(df.loc[row, 'score'])} is not a number",
            "write the score as printed, digits only",
        )
    unknown = sorted(set(df["variant"]) - set(TRACK_OF_VARIANT))
    if unknown:
        named = ", ".join(shorten(v) for v in unknown[:5])
        raise DataError(f"{path}: unknown variant(s) {named}", f"use one of {sorted(TRACK_OF_VARIANT)}")

    _check_unique(df, path)
    catalogue = catalogue or load_catalogue()
    units = benchmark_units()
    df["score"] = score
    df["track"] = df["variant"].map(TRACK_OF_VARIANT)
    df["unit"] = [_unit(b, s, units) for b, s in zip(df["benchmark"], df["score"])]
    _check_ranges(df, path)
    df["flag"] = df["source_detail"].str.extract(r"FLAG-([A-Z-]+)", expand=False).fillna("")

    def model_id(repo: str):
        try:
            return catalogue.get(repo).id
        except CatalogueError:
            return None

    df["model_id"] = df["model"].map(model_id)
    _check_against_catalogue(df, catalogue, path)
    facts = catalogue.to_frame().set_index("model_id")[
        ["params_total", "params_non_embedding", "release_date", "family"]
    ]
    df = df.join(facts, on="model_id")
    return df


class ScoreSource(NamedTuple):
    scores: pd.DataFrame
    source: str  # what table captions cite
    qualifier: str  # "" for published scores; prefixed to the producer and titles of measured ones


MEASURED = "measured here"


def scores_from(kind: str, output_dir: str | Path | None = None, catalogue: Catalogue | None = None) -> ScoreSource:
    """The scores an analysis runs on: "published" (data/published_scores.csv) or "measured" (the lm-eval results of
    the run folder, gentrend.evaluation.as_scores) — never mixed."""
    catalogue = catalogue or load_catalogue()
    if kind == "published":
        return ScoreSource(load_scores(catalogue=catalogue), "data/published_scores.csv (source_url per row)", "")
    if kind == "measured":
        return ScoreSource(
            as_scores(load_evaluation_results(output_dir), catalogue),
            "measured here with lm-evaluation-harness (results/eval_*.csv; settings per row)",
            MEASURED,
        )
    raise DataError(f"unknown score source {kind!r}", "use published or measured")


def score_table(scores: pd.DataFrame, model_ids: list[str], track: str) -> pd.DataFrame:
    """Benchmarks x models for one track, as printed (several sources for one cell are joined by ' / ')."""
    rows = scores[scores["model_id"].isin(model_ids) & (scores["track"] == track)]
    if rows.empty:
        return pd.DataFrame()
    fmt = rows.assign(value=rows["score"].map("{:g}".format))
    table = fmt.pivot_table(index=["benchmark", "unit"], columns="size_label", values="value", aggfunc=" / ".join)
    order = list(dict.fromkeys(rows.sort_values("params_total")["size_label"]))
    return table.reindex(columns=order).fillna("").reset_index()
