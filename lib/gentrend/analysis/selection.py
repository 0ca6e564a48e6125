"""Which published rows one comparison uses: the like-with-like rule shared by density, per-size comparisons
and the claims ledger.

Rule: one track (base / non-thinking / thinking; never mixed); catalogue models only; percent units only
(10-point scales, Elo and percentiles are listed as dropped). Where one model has several rows for one
benchmark (two sources, or two settings): keep the row from the source that scored the most catalogue models
on that benchmark and track (one pipeline for the whole comparison, e.g. the Qwen3 report re-scored Qwen2.5
and Qwen3 base models together); ties go to the newer source (the latest release it scores), then to the
row printed first. Every dropped row is returned with its reason.

Benchmark families (data/benchmarks.yaml `families`): scores that share test items (subsets, parts reported
apart, averages over members) count as one vote in every median; `family_of` names each benchmark's family
(a benchmark in no family is its own family) and `family_table` lists the families a comparison meets.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from gentrend.analysis.scores import benchmark_data
from gentrend.core import paths
from gentrend.core.errors import DataError
from gentrend.core.vocab import TRACKS, check_track

UNITS = ("percent",)
# Where one model has two rows for one benchmark, which source is kept: the default (most catalogue models on
# that benchmark and track, then the newer source), or the alternatives the robustness check tries.
SOURCE_RULES = {
    "coverage": "the source that scored the most models, then the newer",
    "newest": "the newer source",
    "oldest": "the older source",
}


class Selection(NamedTuple):
    kept: pd.DataFrame  # one row per (model, benchmark, unit) on the track
    dropped: pd.DataFrame  # every other row of the track, with a `reason` column


def select_scores(
    scores: pd.DataFrame,
    track: str,
    benchmarks: list[str] | tuple[str, ...] | None = None,
    units: tuple[str, ...] = UNITS,
    source_rule: str = "coverage",
) -> Selection:
    """The rows one comparison uses (see the module docstring for the rule) and the rows it drops, with why.
    `benchmarks`: the benchmarks to use (None: every one of the track). `source_rule` (SOURCE_RULES): which of
    two disagreeing sources is kept; "coverage" is the rule above."""
    if source_rule not in SOURCE_RULES:
        raise DataError(f"unknown source rule {source_rule!r}", f"use one of: {', '.join(SOURCE_RULES)}")
    rows = scores[scores["track"] == check_track(track)]
    if benchmarks is not None:
        unknown = sorted(set(benchmarks) - set(rows["benchmark"]))
        if unknown or not benchmarks:
            raise DataError(
                f"unknown benchmark(s) {unknown} on track {track}" if unknown else "benchmarks names no benchmark",
                f"use some of: {', '.join(sorted(set(rows['benchmark'])))}, or None for every one",
            )
        rows = rows[rows["benchmark"].isin(benchmarks)]
    reason = pd.Series("", index=rows.index, dtype=object)
    reason[~rows["unit"].isin(units)] = "unit " + rows["unit"] + ": only " + "/".join(units) + " scores are compared"
    reason[rows["model_id"].isna()] = "checkpoint not in the catalogue"
    candidates = rows[reason == ""]
    catalogued = scores[scores["model_id"].notna()]
    source_date = catalogued.groupby("source_url")["release_date"].max()
    coverage = candidates.groupby(["benchmark", "source_url"])["model_id"].transform("nunique")
    ranked = candidates.assign(
        _coverage=coverage, _date=candidates["source_url"].map(source_date), _order=np.arange(len(candidates))
    )
    keys = {
        "coverage": (["_coverage", "_date", "_order"], [False, False, True]),
        "newest": (["_date", "_order"], [False, True]),
        "oldest": (["_date", "_order"], [True, True]),
    }[source_rule]
    ranked = ranked.sort_values(keys[0], ascending=keys[1])
    winner = ranked.groupby(["model_id", "benchmark", "unit"]).head(1)
    key = ["model_id", "benchmark", "unit"]
    losers = candidates.index.difference(winner.index)
    kept_of = candidates.loc[losers, key].merge(winner[key + ["score", "source_url"]], on=key, how="left")
    reason[losers] = [
        f"{'disagreement' if source_rule == 'coverage' else source_rule + '-source'} rule: kept {s:g} from {u}"
        for s, u in zip(kept_of["score"], kept_of["source_url"])
    ]
    kept = rows.loc[winner.index].sort_index()
    dropped = rows[reason != ""].assign(reason=reason[reason != ""])
    return Selection(kept, dropped)


def generation_order(selected: pd.DataFrame) -> list[str]:
    """Generations present in the rows, oldest first (by release date)."""
    firsts = selected.groupby("generation")["release_date"].min().sort_values()
    return list(firsts.index)


def default_references(scores: pd.DataFrame) -> dict[str, str]:
    """Per track with data: the reference generation, i.e. the oldest generation with at least two catalogue
    models scored on that track (a curve needs two sizes). Tracks without such a generation are left out."""
    references = {}
    for track in TRACKS:
        kept = select_scores(scores, track).kept
        sizes = kept.groupby("generation")["model_id"].nunique()
        usable = [g for g in generation_order(kept) if sizes.get(g, 0) >= 2]
        if len(usable) >= 2:  # a reference and at least one generation to compare with it
            references[track] = usable[0]
    return references


def reference_for(scores: pd.DataFrame, track: str, reference_generation: str | None = None) -> str:
    """The reference generation of a track: the one asked for, else the default (`default_references`); a track
    without one is an error that says why and what to do."""
    check_track(track)
    if reference_generation is not None:
        return reference_generation
    references = default_references(scores)
    if track not in references:
        raise DataError(
            f"track {track!r} has no reference generation: no generation has two models scored on it, with a newer "
            "generation to compare",
            f"pass reference_generation explicitly, or use a track that has one: {', '.join(references) or 'none'}",
        )
    return references[track]


# --- benchmark families -------------------------------------------------------------------------------------


def benchmark_families(path: Path | str | None = None) -> dict[str, dict]:
    """Family name -> {members: [benchmarks], why: where the members come from} (data/benchmarks.yaml)."""
    path = Path(path or paths.data_file("benchmarks.yaml"))
    families = {name: family.model_dump() for name, family in benchmark_data(path).families.items()}
    seen: dict[str, str] = {}
    for name, entry in families.items():
        for member in entry["members"]:
            if member in seen:
                raise DataError(
                    f"{path}: benchmark {member!r} is in families {seen[member]!r} and {name!r}",
                    "put each benchmark in one family",
                )
            seen[member] = name
    return families


def family_of(benchmarks: pd.Series, families: dict[str, dict] | None = None) -> pd.Series:
    """The family of each benchmark (itself when it is in no family)."""
    families = benchmark_families() if families is None else families
    lookup = {member: name for name, entry in families.items() for member in entry["members"]}
    return benchmarks.map(lambda b: lookup.get(b, b))


def family_table(rows: pd.DataFrame, families: dict[str, dict] | None = None) -> pd.DataFrame:
    """The families whose members appear in `rows` (a `benchmark` column), with the members present and why
    they count once. Columns: family, members, n_members, why."""
    families = benchmark_families() if families is None else families
    present = set(rows["benchmark"])
    out = [
        {
            "family": name,
            "members": ", ".join(m for m in entry["members"] if m in present),
            "n_members": sum(m in present for m in entry["members"]),
            "why": entry["why"],
        }
        for name, entry in families.items()
        if present & set(entry["members"])
    ]
    return pd.DataFrame(out, columns=["family", "members", "n_members", "why"])


def chance_levels(path: Path | str | None = None) -> dict[str, float]:
    """Benchmark -> chance level in percent (data/benchmarks.yaml `chance`: multiple choice with k options is
    100 / k); benchmarks without one are not listed."""
    return dict(benchmark_data(path).chance)
