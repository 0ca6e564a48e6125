"""Capability density: effective parameter size against a reference generation (after the "densing law",
Xiao et al., arXiv 2412.04315).

Method, per track (base / non-thinking / thinking; never mixed) and per benchmark (percent scores only):
1. Reference curve: the reference generation's scores against log10(parameters), made monotone by isotonic
   regression (pool-adjacent-violators, equal weights), joined by straight lines in log10(parameters). Its
   range is per benchmark: from the smallest to the largest reference model scored on that benchmark.
2. Effective size of another model: the smallest size at which that curve reaches the model's score.
   Above the curve's top it is a lower bound (">7.6B"); below its bottom an upper bound ("<0.5B"). Nothing is
   extrapolated. Density ratio = effective size / the model's own size (same bound).
3. Reference range: a row whose model is larger than the largest (or smaller than the smallest) reference
   model on that benchmark can only give a bound set by the range itself (a 9B model against a 7.6B curve
   scores at best ">7.6B" = "≥0.85×"), so it is never pooled. Such rows are reported by win / tie / loss
   against that largest (smallest) reference model (`outside_range`).
4. Votes: each benchmark family (gentrend.analysis.selection, data/benchmarks.yaml) is one vote per model. A vote is an
   interval of log2 density: a point for an interpolated value, [bound, ∞) for a lower bound, (-∞, bound]
   for an upper bound; a family's vote is the median interval of its members (rule 5).
5. Exact vs bounded median (MEDIAN_RULE): the median of the true values lies between the median of the
   votes' lower ends and the median of their upper ends. When the two coincide, the median is exact: it is
   an interpolated value (or the mean of two), whatever the bounded votes' true values. Otherwise the
   aggregate is a bound: one-sided (≥ / ≤) when one end is infinite, both ends when both are finite, and
   "not estimable" when both are infinite or fewer than MIN_VOTES votes remain. The share of bounded votes
   is shown beside every aggregate.
6. Interval (exact medians only; a bound never gets one): percentile bootstrap over benchmark families
   (N_BOOT draws, seeded, families resampled jointly for all models), the LEVEL interval from the lower ends'
   medians (low side) and the upper ends' medians (high side), so bounded votes widen it honestly.
7. Per generation: the multiplier against the reference = the same median over all its (model, family)
   votes inside the reference range (rules 3-6). A generation with no direct overlap with the reference is
   chained through an intermediate generation (sum of the two log2 intervals), stated in `method`.
8. Over time: least squares of log2(multiplier) against months since the reference release, on exact
   multipliers only (the reference counts as 1×); doubling time = 1 / slope, interval from the same bootstrap
   draws. It is printed only where at least MIN_TREND_GENERATIONS generations besides the reference have
   exact multipliers; elsewhere "not estimable from N generations", with each generation's multiplier and
   release month. The densing law's doubling time (Xiao et al.) is a loss-based trend across many model
   families, not a like-for-like figure for one family's benchmark medians, so it is never set beside these.
9. Against the generation just before (`successive_multipliers`): the same multiplier with the previous
   generation on the track as the reference, where that generation has a curve (two sizes on a benchmark).

Which rows are compared: `gentrend.analysis.selection.select_scores` (one track, percent units, the disagreement rule).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from gentrend.analysis.comparisons import family_deltas, win_tie_loss
from gentrend.analysis.selection import family_of, generation_order
from gentrend.core.errors import DataError
from gentrend.core.vocab import model_labels, size_column

N_BOOT = 2000
LEVEL = 0.95
MIN_VOTES = 3  # fewer votes (benchmark families) than this: the aggregate is not estimable
MIN_TREND_GENERATIONS = 3  # exact generations besides the reference that a doubling time needs (rule 8)
DAYS_PER_MONTH = 365.25 / 12

EXACT, LOWER, UPPER, RANGE, NOT_ESTIMABLE = "=", ">", "<", "<>", "n/e"  # the `bound` of a value or aggregate
MEDIAN_RULE = (
    "Each benchmark family is one vote: an interval of log2 density (a point for an interpolated value, "
    "[bound, ∞) for a lower bound, (−∞, bound] for an upper bound). The median lies between the median of the "
    "votes' lower ends and the median of their upper ends. When the two coincide the median is exact (an "
    "interpolated value, whatever the bounds' true values) and gets a bootstrap interval; otherwise it is "
    "printed as a bound (≥, ≤, or both ends) without an interval, or as not estimable when both ends are "
    f"infinite or fewer than {MIN_VOTES} votes remain."
)


def params_label(params: float) -> str:
    """Parameters as a short label: 2.9B, 750M."""
    return f"{params / 1e9:.1f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


def bound_label(value: float, bound: str, fmt=params_label) -> str:
    """A per-benchmark effective size: '≈2.9B', '>7.6B', '<0.5B'."""
    return {"=": "≈", ">": ">", "<": "<"}[bound] + fmt(value)


def ratio_label(value: float, bound: str = EXACT) -> str:
    """A per-benchmark density ratio: '1.73×', '≥2.00×', '≤0.90×'."""
    return {"=": "", ">": "≥", "<": "≤"}[bound] + f"{value:.2f}×"


def interval_label(low: float, high: float, bound: str, fmt=None, approx: str = "", signs: str = "≥≤") -> str:
    """An aggregate from its interval [low, high] (linear scale) and bound: '1.73×', '≥1.89×', '≤2.60×',
    '≥1.45×, ≤1.95×', 'not estimable' (fmt: the number format, default ratios; approx: the prefix of an exact
    value; signs: the lower- and upper-bound signs, '><' for sizes)."""
    fmt = fmt or (lambda v: f"{v:.2f}×")
    at_least, at_most = signs
    if bound == EXACT:
        return approx + fmt(low)
    if bound == LOWER:
        return at_least + fmt(low)
    if bound == UPPER:
        return at_most + fmt(high)
    if bound == RANGE:
        return f"{at_least}{fmt(low)}, {at_most}{fmt(high)}"
    return "not estimable"


def monotone_curve(params, scores) -> pd.DataFrame:
    """The reference curve's vertices: log10 size ascending, isotonic (non-decreasing) fitted score."""
    order = np.argsort(np.asarray(params, dtype=float))
    x = np.log10(np.asarray(params, dtype=float)[order])
    y = np.asarray(scores, dtype=float)[order]
    return pd.DataFrame({"log10_params": x, "score": y, "fitted": isotonic_regression(y).x})


def invert_curve(curve: pd.DataFrame, scores) -> tuple[np.ndarray, np.ndarray]:
    """Effective sizes (parameters) and bounds ('=', '>', '<') of `scores` on a monotone curve.

    The inverse of a non-decreasing piecewise-linear curve: the smallest x where the curve reaches y.
    """
    x, f = curve["log10_params"].to_numpy(), curve["fitted"].to_numpy()
    y = np.atleast_1d(np.asarray(scores, dtype=float))
    j = np.clip(np.searchsorted(f, y, side="left"), 1, len(f) - 1)  # segment (j-1, j) where the curve reaches y
    span = f[j] - f[j - 1]
    t = np.clip(np.divide(y - f[j - 1], span, out=np.zeros_like(y), where=span > 0), 0, 1)
    logx = x[j - 1] + t * (x[j] - x[j - 1])
    bound = np.where(y > f[-1], ">", np.where(y < f[0], "<", "="))
    return 10 ** np.where(bound == ">", x[-1], np.where(bound == "<", x[0], logx)), bound


def _check_reference(selected: pd.DataFrame, reference: str) -> None:
    present = generation_order(selected)
    if str(reference) not in present:
        track = ", ".join(sorted(set(selected["track"]))) or "?"
        raise DataError(
            f"reference generation {reference!r} has no usable scores on track {track}",
            f"use one of: {', '.join(present)}",
        )


def reference_curves(selected: pd.DataFrame, reference: str, size: str = "total") -> pd.DataFrame:
    """The reference generation's monotone curve per benchmark (benchmarks with >= 2 reference sizes)."""
    column = size_column(size)
    _check_reference(selected, reference)
    ref = selected[selected["generation"] == str(reference)]
    parts = []
    for benchmark, group in ref.groupby("benchmark", sort=True):
        if group["model_id"].nunique() >= 2:
            curve = monotone_curve(group[column], group["score"])
            parts.append(curve.assign(benchmark=benchmark, params=10 ** curve["log10_params"]))
    columns = ["benchmark", "params", "log10_params", "score", "fitted"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


ROW_COLUMNS = [
    "model_id",
    "model",
    "generation",
    "release_date",
    "benchmark",
    "family",
    "score",
    "params",
    "effective_params",
    "bound",
    "density",
    "effective_label",
    "density_label",
    "range_low",
    "range_high",
    "position",
    "source_url",
    "reference_sources",
    "reference",
    "track",
    "size_convention",
]


def density_rows(selected: pd.DataFrame, reference: str, size: str = "total") -> pd.DataFrame:
    """One row per (model outside the reference generation, benchmark the reference curve covers).

    Columns: ROW_COLUMNS; range_low / range_high: the reference range on that benchmark (parameters);
    position: 'inside', 'above' or 'below' that range (only 'inside' rows are pooled); source_url beside
    reference_sources (the sources of the curve's scores) shows where evaluation pipelines are mixed.
    """
    curves = reference_curves(selected, reference, size)
    others = selected[(selected["generation"] != str(reference)) & selected["benchmark"].isin(curves["benchmark"])]
    if others.empty:
        return pd.DataFrame(columns=ROW_COLUMNS)
    ref = selected[selected["generation"] == str(reference)]
    sources = ref.groupby("benchmark")["source_url"].agg(lambda s: " ".join(sorted(set(s))))
    parts = []
    for benchmark, group in others.groupby("benchmark", sort=True):
        curve = curves[curves["benchmark"] == benchmark]
        effective, bound = invert_curve(curve, group["score"])
        parts.append(
            group.assign(
                effective_params=effective,
                bound=bound,
                range_low=curve["params"].min(),
                range_high=curve["params"].max(),
            )
        )
    out = pd.concat(parts)
    out["model"] = model_labels(out)
    out["params"] = out[size_column(size)].astype(float)
    out["family"] = family_of(out["benchmark"])
    out["density"] = out["effective_params"] / out["params"]
    out["effective_label"] = [bound_label(v, b) for v, b in zip(out["effective_params"], out["bound"])]
    out["density_label"] = [ratio_label(v, b) for v, b in zip(out["density"], out["bound"])]
    out["position"] = np.where(
        out["params"] > out["range_high"], "above", np.where(out["params"] < out["range_low"], "below", "inside")
    )
    out["reference_sources"] = out["benchmark"].map(sources)
    out = out.assign(reference=str(reference), size_convention=size)
    return out.sort_values(["release_date", "params", "benchmark"])[ROW_COLUMNS].reset_index(drop=True)


# --- votes and the exact-vs-bounded median ----------------------------------------------------------------


def _ends(log_values: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value as an interval: a point, [bound, ∞) for '>', (−∞, bound] for '<'."""
    return (np.where(bounds == "<", -np.inf, log_values), np.where(bounds == ">", np.inf, log_values))


def _median_interval(lows, highs) -> tuple[float, float]:
    """Where the median of interval-valued votes can lie: (median of lower ends, median of upper ends)."""
    return float(np.median(lows)), float(np.median(highs))


def classify(low: float, high: float, n_votes: int, min_votes: int = MIN_VOTES) -> str:
    """The bound of an aggregate from its interval (log scale) and its number of votes (MEDIAN_RULE)."""
    if n_votes < min_votes or (np.isinf(low) and np.isinf(high)):
        return NOT_ESTIMABLE
    if np.isclose(low, high, rtol=0, atol=1e-12):
        return EXACT
    return LOWER if np.isinf(high) else UPPER if np.isinf(low) else RANGE


def family_votes(rows: pd.DataFrame) -> pd.DataFrame:
    """One vote per (model, benchmark family) from the rows inside the reference range: log2 interval
    [low, high] of the members' median (MEDIAN_RULE; min_votes 1 inside a family) and its bound."""
    inside = rows[rows["position"] == "inside"]
    columns = [
        "model_id",
        "model",
        "generation",
        "release_date",
        "params",
        "family",
        "low",
        "high",
        "bound",
        "n_members",
    ]
    if inside.empty:
        return pd.DataFrame(columns=columns)
    lows, highs = _ends(np.log2(inside["density"].to_numpy(dtype=float)), inside["bound"].to_numpy())
    ends = inside.assign(_low=lows, _high=highs)
    out = []
    for (_, family), group in ends.groupby(["model_id", "family"], sort=False):
        low, high = _median_interval(group["_low"], group["_high"])
        first = group.iloc[0]
        out.append(
            {
                **first[["model_id", "model", "generation", "release_date", "params"]],
                "family": family,
                "low": low,
                "high": high,
                "bound": classify(low, high, 1, 1),
                "n_members": len(group),
            }
        )
    return pd.DataFrame(out, columns=columns)


def _draws(votes: pd.DataFrame, groups: str, n_boot: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bootstrap over benchmark families, resampled jointly for every group (model or generation): per group
    the medians of the votes' lower ends and of their upper ends in each draw, (n_boot,) arrays each."""
    families = sorted(set(votes["family"]))
    idx = np.random.default_rng(seed).integers(0, len(families), size=(n_boot, len(families)))
    out = {}
    for key, group in votes.groupby(groups, sort=False):
        ends = []
        for end in ("low", "high"):
            matrix = group.pivot_table(index="family", columns="model_id", values=end, aggfunc="first")
            values = matrix.reindex(families).to_numpy(dtype=float)
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # a draw may miss a group
                ends.append(np.nanmedian(values[idx].reshape(n_boot, -1), axis=1))
        out[str(key)] = (ends[0], ends[1])
    return out


def _interval(low_draws: np.ndarray, high_draws: np.ndarray, level: float) -> tuple[float, float]:
    """The bootstrap interval: the low tail of the lower ends' medians, the high tail of the upper ends' (order
    statistics, no interpolation, so an open end in a draw stays open)."""
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        return (
            float(np.nanpercentile(low_draws, tail, method="lower")),
            float(np.nanpercentile(high_draws, 100 - tail, method="higher")),
        )


def _aggregate(votes: pd.DataFrame, draws: tuple[np.ndarray, np.ndarray], level: float) -> dict:
    """Median interval, bound, bootstrap interval (exact only) and vote counts of one group's votes."""
    low, high = _median_interval(votes["low"], votes["high"])
    bound = classify(low, high, len(votes))
    ci = _interval(*draws, level) if bound == EXACT else (np.nan, np.nan)
    return {
        "low": low,
        "high": high,
        "bound": bound,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "n_votes": len(votes),
        "n_exact": int((votes["bound"] == EXACT).sum()),
        "n_above": int((votes["bound"] == LOWER).sum()),
        "n_below": int((votes["bound"] == UPPER).sum()),
        "bounded_share": float((votes["bound"] != EXACT).mean()),
    }


MODEL_COLUMNS = [
    "model_id",
    "model",
    "generation",
    "release_date",
    "params",
    "density",
    "density_low",
    "density_high",
    "ci_low",
    "ci_high",
    "bound",
    "density_label",
    "effective_params",
    "effective_label",
    "n_benchmarks",
    "n_votes",
    "n_exact",
    "n_above",
    "n_below",
    "bounded_share",
    "n_outside",
    "reference",
    "track",
    "size_convention",
]


def model_density(rows: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Per model with rows inside the reference range: the median density over its family votes (MEDIAN_RULE).

    density: the exact median (NaN for a bound); density_low / density_high: where the median can lie (0 / inf
    for an open end); ci_low / ci_high: bootstrap interval, exact medians only; n_benchmarks: rows inside the
    range; n_votes / n_exact / n_above / n_below: family votes and their kinds; bounded_share: share of
    bounded votes; n_outside: rows outside the range (see `outside_range`). Columns: MODEL_COLUMNS.
    """
    votes = family_votes(rows)
    if votes.empty:
        return pd.DataFrame(columns=MODEL_COLUMNS)
    draws = _draws(votes, "model_id", n_boot, seed)
    out = []
    for model_id, group in votes.groupby("model_id", sort=False):
        model_rows = rows[rows["model_id"] == model_id]
        first = model_rows.iloc[0]
        out.append(
            {
                **first[
                    [
                        "model_id",
                        "model",
                        "generation",
                        "release_date",
                        "params",
                        "reference",
                        "track",
                        "size_convention",
                    ]
                ],
                **_aggregate(group, draws[model_id], level),
                "n_benchmarks": int((model_rows["position"] == "inside").sum()),
                "n_outside": int((model_rows["position"] != "inside").sum()),
            }
        )
    out = pd.DataFrame(out)
    out["density_low"], out["density_high"] = 2 ** out["low"], 2 ** out["high"]
    out["density"] = np.where(out["bound"] == EXACT, out["density_low"], np.nan)
    out["ci_low"], out["ci_high"] = 2 ** out["ci_low"], 2 ** out["ci_high"]
    out["effective_params"] = out["density"] * out["params"]
    out["density_label"] = [
        interval_label(lo, hi, b) for lo, hi, b in zip(out["density_low"], out["density_high"], out["bound"])
    ]
    out["effective_label"] = [
        interval_label(lo * p, hi * p, b, params_label, "≈", "><")
        for lo, hi, b, p in zip(out["density_low"], out["density_high"], out["bound"], out["params"])
    ]
    return out[MODEL_COLUMNS]


def outside_range(rows: pd.DataFrame, selected: pd.DataFrame, size: str = "total") -> pd.DataFrame:
    """Rows outside the reference range, by win / tie / loss (gentrend.analysis.comparisons.TIE_POINTS) against the
    largest reference model on the benchmark (above the range) or the smallest (below), one vote per family.

    Columns: model, generation, position, versus, n_benchmarks, n_votes, wins, ties, losses, median_delta
    (points, over family votes), benchmarks, reference, track.
    """
    columns = [
        "model",
        "generation",
        "position",
        "versus",
        "n_benchmarks",
        "n_votes",
        "wins",
        "ties",
        "losses",
        "median_delta",
        "benchmarks",
        "reference",
        "track",
    ]
    outside = rows[rows["position"] != "inside"]
    if outside.empty:
        return pd.DataFrame(columns=columns)
    reference = outside["reference"].iloc[0]
    ref = selected[selected["generation"] == reference].assign(
        model=model_labels, params=lambda f: f[size_column(size)]
    )
    ref = ref.sort_values("params")
    ends = pd.concat(
        [
            ref.groupby("benchmark").tail(1).assign(position="above"),
            ref.groupby("benchmark").head(1).assign(position="below"),
        ]
    )
    paired = outside.merge(
        ends[["benchmark", "position", "model", "score"]], on=["benchmark", "position"], suffixes=("", "_versus")
    )
    paired = paired.assign(delta=paired["score"] - paired["score_versus"], versus=paired["model_versus"])
    out = []
    for (model, position, versus), group in paired.groupby(["model", "position", "versus"], sort=False):
        deltas = family_deltas(group["delta"], group["benchmark"])
        wins, ties, losses = win_tie_loss(deltas)
        out.append(
            {
                "model": model,
                "generation": group["generation"].iloc[0],
                "position": position,
                "versus": versus,
                "n_benchmarks": len(group),
                "n_votes": len(deltas),
                "wins": wins,
                "ties": ties,
                "losses": losses,
                "median_delta": float(deltas.median()),
                "benchmarks": ", ".join(sorted(group["benchmark"])),
                "reference": reference,
                "track": group["track"].iloc[0],
            }
        )
    return pd.DataFrame(out, columns=columns)


# --- generations and time -------------------------------------------------------------------------------


def _pipelines(rows: pd.DataFrame, generation: str) -> dict:
    """Where a generation's pooled rows come from against the sources of the curve they are placed on: a
    generation is `mixed_pipelines` when some of its scores come from a source that scored no point of the
    curve (e.g. model-card scores on a curve from a technical report)."""
    inside = rows[(rows["generation"] == generation) & (rows["position"] == "inside")]
    own = sorted(set(inside["source_url"]))
    curve = sorted({u for text in inside["reference_sources"] for u in str(text).split()})
    return {
        "n_families": int(inside["family"].nunique()),
        "mixed_pipelines": bool(set(own) - set(curve)),
        "sources": " ".join(own),
        "curve_sources": " ".join(curve),
    }


def _by_generation(selected, reference: str, size, n_boot, seed, level, rows=None) -> tuple[dict, pd.Series, dict]:
    """What the generation tables are built from: each generation's result against `reference`
    (`_generation_results`), the generations' release dates, and the columns that say what the table was
    computed on (reference, track, size_convention)."""
    result = _generation_results(selected, reference, size, n_boot, seed, level, rows)
    release = selected.groupby("generation")["release_date"].min()
    basis = {"reference": reference, "track": ", ".join(sorted(set(selected["track"]))), "size_convention": size}
    return result, release, basis


def _generation_results(selected, reference, size, n_boot, seed, level, rows=None):
    """Per generation (oldest first): {method, low, high, bound, draws, ci, counts}; direct, else chained.
    `rows`: density_rows(selected, reference, size) when the caller has them."""
    _check_reference(selected, reference)
    rows = density_rows(selected, reference, size) if rows is None else rows
    votes = family_votes(rows)
    direct_draws = _draws(votes, "generation", n_boot, seed) if not votes.empty else {}
    zero = (np.zeros(n_boot), np.zeros(n_boot))
    result = {
        reference: {
            "method": "reference",
            "low": 0.0,
            "high": 0.0,
            "bound": EXACT,
            "ci_low": 0.0,
            "ci_high": 0.0,
            "n_votes": 0,
            "n_exact": 0,
            "n_above": 0,
            "n_below": 0,
            "bounded_share": 0.0,
            "n_models": 0,
            "n_families": 0,
            "mixed_pipelines": False,
            "sources": "",
            "curve_sources": "",
            "draws": zero,
        }
    }
    order = generation_order(selected)
    for generation in (g for g in order if g != reference):
        if generation in direct_draws:
            group = votes[votes["generation"] == generation]
            result[generation] = {
                "method": "direct",
                **_aggregate(group, direct_draws[generation], level),
                "n_models": group["model_id"].nunique(),
                **_pipelines(rows, generation),
                "draws": direct_draws[generation],
            }
            continue
        for mid in (g for g in order if g in direct_draws and g != generation):
            step_rows = density_rows(selected, mid, size)
            step = family_votes(step_rows)
            step = step[step["generation"] == generation]
            if step.empty:
                continue
            draws = _draws(step, "generation", n_boot, seed + 1)[generation]
            first, second = _aggregate(step, draws, level), result[mid]
            low, high = first["low"] + second["low"], first["high"] + second["high"]
            both = (first["bound"], second["bound"])
            bound = NOT_ESTIMABLE if NOT_ESTIMABLE in both else classify(low, high, MIN_VOTES)
            summed = (draws[0] + second["draws"][0], draws[1] + second["draws"][1])
            ci = _interval(*summed, level) if bound == EXACT else (np.nan, np.nan)
            result[generation] = {
                **first,
                "method": f"chained {generation}→{mid}→{reference}",
                "low": low,
                "high": high,
                "bound": bound,
                "ci_low": ci[0],
                "ci_high": ci[1],
                "n_models": step["model_id"].nunique(),
                **_pipelines(step_rows, generation),
                "mixed_pipelines": _pipelines(step_rows, generation)["mixed_pipelines"] or second["mixed_pipelines"],
                "draws": summed,
            }
            break
    return result


MULTIPLIER_COLUMNS = [
    "generation",
    "release_date",
    "multiplier",
    "multiplier_low",
    "multiplier_high",
    "ci_low",
    "ci_high",
    "bound",
    "label",
    "n_models",
    "n_families",
    "n_votes",
    "n_exact",
    "n_above",
    "n_below",
    "bounded_share",
    "method",
    "mixed_pipelines",
    "sources",
    "curve_sources",
    "reference",
    "track",
    "size_convention",
]


def generation_multipliers(
    selected: pd.DataFrame,
    reference: str,
    size: str = "total",
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
    rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per generation (oldest first): density multiplier against the reference, the median over all its
    (model, family) votes inside the reference range (MEDIAN_RULE).

    Columns: generation, release_date, multiplier (exact only, else NaN), multiplier_low, multiplier_high
    (where the median can lie), ci_low, ci_high (exact only), bound, label, n_models, n_families, n_votes
    ((model, family) votes), n_exact, n_above, n_below, bounded_share, method ('reference', 'direct',
    'chained 3.5→3→2.5'), mixed_pipelines (some scores from a source that scored no point of the curve),
    sources, curve_sources, reference, track, size_convention. Generations with no path to the reference are
    left out.
    """
    result, release, basis = _by_generation(selected, str(reference), size, n_boot, seed, level, rows)
    out = []
    for generation, r in result.items():
        low, high = 2 ** r["low"], 2 ** r["high"]
        out.append(
            {
                "generation": generation,
                "release_date": release[generation],
                "multiplier": low if r["bound"] == EXACT else np.nan,
                "multiplier_low": low,
                "multiplier_high": high,
                "ci_low": 2 ** r["ci_low"],
                "ci_high": 2 ** r["ci_high"],
                "bound": r["bound"],
                "label": interval_label(low, high, r["bound"]),
                "n_models": r["n_models"],
                "n_families": r["n_families"],
                **{k: r[k] for k in ("n_votes", "n_exact", "n_above", "n_below", "bounded_share", "method")},
                "mixed_pipelines": r["mixed_pipelines"],
                "sources": r["sources"],
                "curve_sources": r["curve_sources"],
                **basis,
            }
        )
    return pd.DataFrame(out, columns=MULTIPLIER_COLUMNS).sort_values("release_date").reset_index(drop=True)


def successive_multipliers(
    selected: pd.DataFrame,
    reference: str,
    size: str = "total",
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Each generation against the one just before it on the track (rule 9), where that one is not the
    reference (that row is in `generation_multipliers`) and has a curve. Columns: those of
    `generation_multipliers`, the `reference` column naming the previous generation."""
    order = generation_order(selected)
    order = order[order.index(str(reference)) :]
    sizes = selected.groupby(["generation", "benchmark"])["model_id"].nunique()
    parts = []
    for previous, generation in zip(order[1:], order[2:]):
        if not (sizes.loc[previous] >= 2).any():
            continue
        pair = selected[selected["generation"].isin([previous, generation])]
        table = generation_multipliers(pair, previous, size, n_boot, seed, level)
        parts.append(table[table["generation"] == generation])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MULTIPLIER_COLUMNS)


def _months(release: pd.Series, generations: list[str], reference: str) -> np.ndarray:
    return np.array([(release[g] - release[reference]) / pd.Timedelta(days=DAYS_PER_MONTH) for g in generations])


def _slope_range(weights: np.ndarray, lows, highs) -> tuple:
    """Least-squares slope = weights @ points: its smallest and largest value (arrays over draws) when each
    point lies in [low, high]: lower ends where a weight is positive, upper ends where negative."""
    weights = np.asarray(weights, dtype=float)
    lows, highs = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)
    with np.errstate(invalid="ignore"):  # 0 x inf: a generation at the mean date has no say in the slope

        def total(a, b):
            return np.sum(np.where(weights > 0, weights * a, np.where(weights < 0, weights * b, 0.0)), axis=-1)

        return total(lows, highs), total(highs, lows)


def not_estimable_label(n_exact: int) -> str:
    """What a refused doubling time prints: 'not estimable from 2 generations' (exact ones besides the reference)."""
    return f"not estimable from {n_exact} generation{'s' if n_exact != 1 else ''}"


def doubling_time(
    selected: pd.DataFrame,
    reference: str,
    size: str = "total",
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Density doubling time in months (rule 8 of the module docstring). One row:

    doubling_months (NaN when refused), ci_low / ci_high (bootstrap; inf when the slope's interval reaches
    zero), bound ('=' or 'n/e'), label ('14.2 months' or 'not estimable from 2 generations'),
    slope_per_month, intercept_log2, n_exact_generations (exact generations besides the reference), generations
    (those in
    the fit, or that would be), per_generation (each newer generation's multiplier and release month: what a
    reader has where the trend is refused), bounded_share (bounded votes among all votes of the newer
    generations), reference, track, size_convention.

    A trend needs MIN_TREND_GENERATIONS exact multipliers besides the reference (fixed at 1x): a line through
    the reference and one or two points is not a trend, and bounds never enter a fit.
    """
    reference = str(reference)
    result, release, basis = _by_generation(selected, reference, size, n_boot, seed, level)
    newer = {g: r for g, r in result.items() if g != reference}
    exact = [g for g, r in newer.items() if r["bound"] == EXACT]
    n_votes = sum(r["n_votes"] for r in newer.values())
    share = sum(r["bounded_share"] * r["n_votes"] for r in newer.values()) / n_votes if n_votes else np.nan
    inv = lambda s: 1 / s if s > 0 else np.inf
    fit = {"doubling_months": np.nan, "slope_per_month": np.nan, "intercept_log2": np.nan}
    fit |= {"ci_low": np.nan, "ci_high": np.nan}
    fitted = [reference, *exact]
    if len(exact) >= MIN_TREND_GENERATIONS:
        months = _months(release, fitted, reference)
        centred = months - months.mean()
        weights = centred / (centred @ centred)  # slope = weights @ points
        points = np.array([result[g]["low"] for g in fitted])
        slope = float(weights @ points)
        draws = [np.column_stack([result[g]["draws"][i] for g in fitted]) for i in (0, 1)]
        s_low, s_high = _interval(*_slope_range(weights, *draws), level)
        fit = {
            "doubling_months": inv(slope),
            "slope_per_month": slope,
            "intercept_log2": float(points.mean() - slope * months.mean()),
            "ci_low": inv(s_high),
            "ci_high": inv(s_low),
        }
        bound, label = EXACT, f"{inv(slope):.1f} months"
    else:
        bound, label = NOT_ESTIMABLE, not_estimable_label(len(exact))
    per_generation = "; ".join(
        f"{g}: {interval_label(2 ** r['low'], 2 ** r['high'], r['bound'])} ({release[g]:%Y-%m})"
        for g, r in newer.items()
    )
    return pd.DataFrame(
        [
            {
                **fit,
                "bound": bound,
                "label": label,
                "n_exact_generations": len(exact),
                "generations": " → ".join(fitted),
                "per_generation": per_generation or "none",
                "bounded_share": share,
                **basis,
            }
        ]
    )
