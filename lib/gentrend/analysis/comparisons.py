"""Per-size comparisons across generations: size classes, score deltas, and the smallest new model that
matches the largest old one.

Input is the `kept` frame of `gentrend.analysis.selection.select_scores` (one track, percent units, one row per
model and
benchmark after the disagreement rule). Size classes are bins of parameter count (SIZE_CLASSES, edges in
billions); a model's class follows the chosen size convention. Deltas are score points against a baseline
generation (default: the oldest on the track).

Every median and count over benchmarks counts a benchmark family once (gentrend.analysis.selection.family_of): a
family's delta is the median of its members' deltas. A delta within TIE_POINTS of zero is a tie; wins, ties
and losses are counted over family votes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gentrend.analysis.selection import family_of, generation_order
from gentrend.core.errors import DataError
from gentrend.core.vocab import model_labels, size_column

TIE_POINTS = 1.0  # |delta| <= 1 point: a tie (published scores are printed to 0.1-1 point, runs vary by about 1)

# (label, lower edge, upper edge) in billions of parameters; lower edge exclusive, upper inclusive.
SIZE_CLASSES = (("0.5–0.8B", 0.1, 1.0), ("1.5–2B", 1.0, 2.5), ("3–4B", 2.5, 5.0), ("7–9B", 5.0, 20.0))


def win_tie_loss(deltas) -> tuple[int, int, int]:
    """(wins, ties, losses) of score deltas in points: above TIE_POINTS, within it, below -TIE_POINTS."""
    deltas = np.asarray(deltas, dtype=float)
    return (
        int((deltas > TIE_POINTS).sum()),
        int((np.abs(deltas) <= TIE_POINTS).sum()),
        int((deltas < -TIE_POINTS).sum()),
    )


def family_deltas(deltas: pd.Series, benchmarks: pd.Series) -> pd.Series:
    """One delta per benchmark family: the median of its members' deltas."""
    return deltas.groupby(family_of(benchmarks).to_numpy()).median()


def _vote_summary(paired: pd.DataFrame) -> dict:
    """n_benchmarks, n_votes, median_delta, wins, ties, losses of paired rows (columns benchmark, delta)."""
    votes = family_deltas(paired["delta"], paired["benchmark"])
    wins, ties, losses = win_tie_loss(votes)
    return {
        "n_benchmarks": len(paired),
        "n_votes": len(votes),
        "median_delta": float(votes.median()) if len(votes) else np.nan,
        "wins": wins,
        "ties": ties,
        "losses": losses,
    }


def size_class(params: pd.Series) -> pd.Series:
    """The SIZE_CLASSES label of each parameter count (NaN outside every class)."""
    edges = [SIZE_CLASSES[0][1]] + [hi for _, _, hi in SIZE_CLASSES]
    labels = [label for label, _, _ in SIZE_CLASSES]
    return pd.cut(params.astype(float) / 1e9, bins=edges, labels=labels).astype(object)


def size_class_scores(selected: pd.DataFrame, size: str = "total", baseline: str | None = None) -> pd.DataFrame:
    """One row per (size class, benchmark, generation): the score and its delta against the baseline
    generation's model of the same class on the same benchmark (NaN where the baseline lacks it).

    baseline: a generation label; default the oldest generation on the track. Columns: size_class, benchmark,
    generation, model, params, score, baseline_generation, baseline_model, baseline_score, delta. A class
    holding two models of one generation keeps the larger.
    """
    column = size_column(size)
    gens = generation_order(selected)
    baseline = str(baseline or gens[0])
    if baseline not in gens:
        raise DataError(
            f"baseline generation {baseline!r} has no scores on this track", f"use one of: {', '.join(gens)}"
        )
    rows = selected.assign(
        size_class=size_class(selected[column]), params=selected[column].astype(float), model=model_labels(selected)
    )
    rows = rows.dropna(subset=["size_class"]).sort_values("params")
    rows = rows.drop_duplicates(["size_class", "benchmark", "generation"], keep="last")
    base = rows.loc[rows["generation"] == baseline, ["size_class", "benchmark", "model", "score"]]
    base = base.rename(columns={"model": "baseline_model", "score": "baseline_score"})
    out = rows.merge(base, on=["size_class", "benchmark"], how="left").assign(baseline_generation=baseline)
    out["delta"] = out["score"] - out["baseline_score"]
    out["_class"] = out["size_class"].map({label: i for i, (label, _, _) in enumerate(SIZE_CLASSES)})
    out["_gen"] = out["generation"].map({g: i for i, g in enumerate(gens)})
    out = out.sort_values(["_class", "benchmark", "_gen"])
    return out[
        [
            "size_class",
            "benchmark",
            "generation",
            "model",
            "params",
            "score",
            "baseline_generation",
            "baseline_model",
            "baseline_score",
            "delta",
        ]
    ].reset_index(drop=True)


def delta_matrix(class_scores: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks x (generation, size class) of deltas against the baseline generation (for the heatmap)."""
    newer = class_scores[
        (class_scores["generation"] != class_scores["baseline_generation"]) & class_scores["delta"].notna()
    ]
    if newer.empty:
        return pd.DataFrame()
    classes = [label for label, _, _ in SIZE_CLASSES]
    matrix = newer.pivot_table(index="benchmark", columns=["generation", "size_class"], values="delta")
    keep = [(g, c) for g in dict.fromkeys(newer["generation"]) for c in classes if (g, c) in matrix.columns]
    return matrix[keep]


def newest_matching_oldest_largest(
    selected: pd.DataFrame,
    size: str = "total",
    newest: str | None = None,
    oldest: str | None = None,
    tolerance: float = 0.0,
) -> pd.DataFrame:
    """Each model of the newest generation against the largest model of the oldest, on shared benchmarks,
    one vote per benchmark family.

    A model matches when its median score difference (new - old, points, over family votes) is >= -tolerance.
    The row of the smallest matching model has smallest_match True. Columns: model, params, versus,
    versus_params, n_benchmarks, n_votes, median_delta, wins, ties, losses, share_at_least_equal (votes with
    delta >= 0), matches, smallest_match, benchmarks.
    """
    column = size_column(size)
    gens = generation_order(selected)
    newest, oldest = str(newest or gens[-1]), str(oldest or gens[0])
    for g in (newest, oldest):
        if g not in gens:
            raise DataError(f"generation {g!r} has no scores on this track", f"use one of: {', '.join(gens)}")
    rows = selected.assign(model=model_labels(selected), params=selected[column].astype(float))
    old = rows[rows["generation"] == oldest]
    largest = old[old["params"] == old["params"].max()]
    out = []
    new = rows[rows["generation"] == newest]
    for model, group in new.sort_values("params").groupby("model", sort=False):
        paired = group.merge(largest[["benchmark", "score"]], on="benchmark", suffixes=("", "_old"))
        paired = paired.assign(delta=paired["score"] - paired["score_old"])
        votes = family_deltas(paired["delta"], paired["benchmark"])
        out.append(
            {
                "model": model,
                "params": group["params"].iloc[0],
                "versus": largest["model"].iloc[0],
                "versus_params": largest["params"].iloc[0],
                **_vote_summary(paired),
                "share_at_least_equal": (votes >= 0).mean() if len(votes) else np.nan,
                "benchmarks": ", ".join(sorted(paired["benchmark"])),
            }
        )
    out = pd.DataFrame(out)
    if out.empty:
        return out
    out["matches"] = out["median_delta"] >= -tolerance
    first = out.index[out["matches"]].min() if out["matches"].any() else None
    out["smallest_match"] = out.index == first
    return out[
        [
            "model",
            "params",
            "versus",
            "versus_params",
            "n_benchmarks",
            "n_votes",
            "median_delta",
            "wins",
            "ties",
            "losses",
            "share_at_least_equal",
            "matches",
            "smallest_match",
            "benchmarks",
        ]
    ]


def per_size_summary(class_scores: pd.DataFrame) -> pd.DataFrame:
    """Per size class and newer generation (input: `size_class_scores`): the median score delta against the
    baseline generation's model of that class over the benchmarks both have (one vote per family), and the
    wins, ties and losses. Columns: size_class, generation, model, baseline_model, n_benchmarks, n_votes,
    median_delta, wins, ties, losses."""
    newer = class_scores[
        (class_scores["generation"] != class_scores["baseline_generation"]) & class_scores["delta"].notna()
    ]
    keys = ["size_class", "generation", "model", "baseline_model"]
    rows = [{**dict(zip(keys, key)), **_vote_summary(group)} for key, group in newer.groupby(keys, sort=False)]
    return pd.DataFrame(rows, columns=keys + ["n_benchmarks", "n_votes", "median_delta", "wins", "ties", "losses"])
