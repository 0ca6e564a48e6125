"""Capability density: effective parameter size against a reference generation (after the "densing law",
Xiao et al., arXiv 2412.04315).

Method, per track (base / non-thinking / thinking; never mixed) and per benchmark (percent scores only):
1. Reference curve: the reference generation's scores against log10(parameters), made monotone by isotonic
   regression (pool-adjacent-violators, equal weights), joined by straight lines in log10(parameters).
2. Effective size of another model: the smallest size at which that curve reaches the model's score.
   Above the curve's top it is a lower bound (bound ">", e.g. ">7.6B"); below its bottom an upper bound
   ("<"). Nothing is extrapolated. Density ratio = effective size / the model's own size (same bound).
3. Per model: median of log2 density over benchmarks, bounds held at their bound value; the result is itself
   marked a bound when moving the bounded benchmarks could move the median. Interval: percentile bootstrap
   over benchmarks (seeded).
4. Per generation: the multiplier against the reference = median log2 density over all its (model,
   benchmark) rows, bounds handled as for models; the bootstrap resamples benchmarks. A generation with no direct overlap with the
   reference is chained through an intermediate generation (product of the two multipliers), and the chain
   is stated in the `method` column.
5. Over time: log2(multiplier) against months since the reference release, least squares; doubling time =
   1 / slope, with the interval from the same bootstrap draws. Compare DENSING_LAW_DOUBLING_MONTHS.

Which rows are compared: `gentrend.selection.select_scores` (one track, percent units, the disagreement rule).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from .errors import DataError
from .selection import generation_order
from .vocab import model_labels, size_column

DENSING_LAW_DOUBLING_MONTHS = 3.3  # Xiao et al., "Densing Law of LLMs", arXiv 2412.04315 (arXiv version)
DENSING_LAW_SOURCE = "Xiao et al., arXiv 2412.04315"
N_BOOT = 2000
LEVEL = 0.95
DAYS_PER_MONTH = 365.25 / 12


def params_label(params: float) -> str:
    """Parameters as a short label: 2.9B, 750M."""
    return f"{params / 1e9:.1f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


def bound_label(value: float, bound: str, fmt=params_label) -> str:
    """'≈2.9B', '>7.6B', '<0.5B' (or with fmt for ratios: '≈1.7×', '≥2.0×')."""
    prefix = {"=": "≈", ">": ">", "<": "<", "~": "~"}[bound]
    return prefix + fmt(value)


def ratio_label(value: float, bound: str = "=") -> str:
    prefix = {"=": "", ">": "≥", "<": "≤", "~": "~"}[bound]
    return f"{prefix}{value:.2f}×"


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


def density_rows(selected: pd.DataFrame, reference: str, size: str = "total") -> pd.DataFrame:
    """One row per (model outside the reference generation, benchmark the reference curve covers).

    Columns: model_id, model, generation, release_date, benchmark, score, params, effective_params, bound,
    density, effective_label, density_label, reference, track, size_convention.
    """
    curves = reference_curves(selected, reference, size)
    others = selected[(selected["generation"] != str(reference)) & selected["benchmark"].isin(curves["benchmark"])]
    columns = ["model_id", "model", "generation", "release_date", "benchmark", "score", "params", "effective_params",
               "bound", "density", "effective_label", "density_label", "reference", "track", "size_convention"]
    if others.empty:
        return pd.DataFrame(columns=columns)
    parts = []
    for benchmark, group in others.groupby("benchmark", sort=True):
        effective, bound = invert_curve(curves[curves["benchmark"] == benchmark], group["score"])
        parts.append(group.assign(effective_params=effective, bound=bound))
    out = pd.concat(parts)
    out["model"] = model_labels(out)
    out["params"] = out[size_column(size)].astype(float)
    out["density"] = out["effective_params"] / out["params"]
    out["effective_label"] = [bound_label(v, b) for v, b in zip(out["effective_params"], out["bound"])]
    out["density_label"] = [ratio_label(v, b) for v, b in zip(out["density"], out["bound"])]
    out = out.assign(reference=str(reference), size_convention=size)
    return out.sort_values(["release_date", "params", "benchmark"])[columns].reset_index(drop=True)


# --- aggregation ------------------------------------------------------------------------------------------


def _median_bound(log_values: np.ndarray, bounds: np.ndarray) -> tuple[float, str]:
    """Median of log values with bounds held at their bound; marked a bound if the bounded entries could move it."""
    m = float(np.median(log_values))
    lo = float(np.median(np.where(bounds == "<", -np.inf, log_values)))
    hi = float(np.median(np.where(bounds == ">", np.inf, log_values)))
    if lo == hi:
        return m, "="
    if lo == m:
        return m, ">"
    if hi == m:
        return m, "<"
    return m, "~"


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    return tuple(np.nanpercentile(draws, [tail, 100 - tail], axis=0))


def _benchmark_draws(matrix: pd.DataFrame, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap medians per column (model) of a benchmark x model matrix of log2 densities: (n_boot, models).

    Benchmarks are resampled with replacement, jointly for all models; a model's missing benchmarks are
    skipped (NaN) in each draw.
    """
    values = matrix.to_numpy(dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(values), size=(n_boot, len(values)))
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # a draw may miss a model
        return np.nanmedian(values[idx], axis=1)


def model_density(rows: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Per model: median density ratio over benchmarks with a bootstrap interval (benchmarks resampled).

    Columns: model_id, model, generation, release_date, params, density, ci_low, ci_high, bound, density_label,
    effective_params, effective_label, n_benchmarks, n_above, n_below, reference, track, size_convention.
    """
    columns = ["model_id", "model", "generation", "release_date", "params", "density", "ci_low", "ci_high", "bound",
               "density_label", "effective_params", "effective_label", "n_benchmarks", "n_above", "n_below",
               "reference", "track", "size_convention"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    log2 = rows.assign(log2_density=np.log2(rows["density"].astype(float)))
    matrix = log2.pivot_table(index="benchmark", columns="model_id", values="log2_density", aggfunc="first")
    draws = pd.DataFrame(_benchmark_draws(matrix, n_boot, seed), columns=matrix.columns)
    out = []
    for model_id, group in log2.groupby("model_id", sort=False):
        median, bound = _median_bound(group["log2_density"].to_numpy(), group["bound"].to_numpy())
        low, high = _interval(draws[model_id].to_numpy(), level)
        first = group.iloc[0]
        out.append({
            **first[["model_id", "model", "generation", "release_date", "params", "reference", "track", "size_convention"]],
            "density": 2**median, "ci_low": 2**low, "ci_high": 2**high, "bound": bound,
            "n_benchmarks": len(group), "n_above": int((group["bound"] == ">").sum()),
            "n_below": int((group["bound"] == "<").sum()),
        })
    out = pd.DataFrame(out)
    out["density_label"] = [ratio_label(v, b) for v, b in zip(out["density"], out["bound"])]
    out["effective_params"] = out["density"] * out["params"]
    out["effective_label"] = [bound_label(v, b) for v, b in zip(out["effective_params"], out["bound"])]
    return out[columns]


def _generation_draws(rows: pd.DataFrame, n_boot: int, seed: int) -> dict[str, tuple[float, str, np.ndarray]]:
    """Per generation: (log2 multiplier, its bound, bootstrap draws) from the pooled (model, benchmark) rows."""
    log2 = rows.assign(log2_density=np.log2(rows["density"].astype(float)))
    idx = None
    out = {}
    for generation, group in log2.groupby("generation", sort=False):
        matrix = group.pivot_table(index="benchmark", columns="model_id", values="log2_density", aggfunc="first")
        benchmarks = sorted(set(log2["benchmark"]))
        values = matrix.reindex(benchmarks).to_numpy(dtype=float)
        if idx is None:  # the same benchmark resamples for every generation
            idx = np.random.default_rng(seed).integers(0, len(benchmarks), size=(n_boot, len(benchmarks)))
        with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
            draws = np.nanmedian(values[idx].reshape(n_boot, -1), axis=1)
        point, bound = _median_bound(group["log2_density"].to_numpy(), group["bound"].to_numpy())
        out[str(generation)] = (point, bound, draws)
    return out


def _chain_bound(a: str, b: str) -> str:
    return a if b in ("=", a) else b if a == "=" else "~"


def _multiplier_draws(selected, reference, size, n_boot, seed):
    """Per generation: (method, log2 point, bound, draws, n_models, n_benchmarks); direct, else chained."""
    _check_reference(selected, reference)
    order = generation_order(selected)
    release = selected.groupby("generation")["release_date"].min()
    rows = density_rows(selected, reference, size)
    direct = _generation_draws(rows, n_boot, seed) if not rows.empty else {}
    result = {str(reference): ("reference", 0.0, "=", np.zeros(n_boot), 0, 0)}
    for generation in (g for g in order if g != str(reference)):
        sub = rows[rows["generation"] == generation] if not rows.empty else rows
        if generation in direct:
            point, bound, draws = direct[generation]
            result[generation] = ("direct", point, bound, draws, sub["model_id"].nunique(), sub["benchmark"].nunique())
            continue
        for mid in (g for g in order if g in direct and g != generation):
            step_rows = density_rows(selected, mid, size)
            step = _generation_draws(step_rows, n_boot, seed + 1) if not step_rows.empty else {}
            if generation in step:
                (p1, b1, d1), (p2, b2, d2) = step[generation], direct[mid]
                sub = step_rows[step_rows["generation"] == generation]
                result[generation] = (f"chained {generation}→{mid}→{reference}", p1 + p2, _chain_bound(b1, b2),
                                      d1 + d2, sub["model_id"].nunique(), sub["benchmark"].nunique())
                break
    return result, release


def generation_multipliers(selected: pd.DataFrame, reference: str, size: str = "total", n_boot: int = N_BOOT,
                           seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Per generation (oldest first): density multiplier against the reference with a bootstrap interval.

    The multiplier is the median log2 density over all the generation's (model, benchmark) rows, marked a bound
    as in `model_density`. Columns: generation, release_date, multiplier, ci_low, ci_high, bound, label,
    n_models, n_benchmarks, method ('reference', 'direct', 'chained 3.5→3→2.5'), reference, track,
    size_convention. Generations with no path to the reference are left out.
    """
    result, release = _multiplier_draws(selected, str(reference), size, n_boot, seed)
    track = ", ".join(sorted(set(selected["track"])))
    out = []
    for generation, (method, point, bound, draws, n_models, n_bench) in result.items():
        low, high = _interval(draws, level)
        out.append({"generation": generation, "release_date": release[generation], "multiplier": 2**point,
                    "ci_low": 2**low, "ci_high": 2**high, "bound": bound, "label": ratio_label(2**point, bound),
                    "n_models": n_models, "n_benchmarks": n_bench, "method": method, "reference": str(reference),
                    "track": track, "size_convention": size})
    return pd.DataFrame(out).sort_values("release_date").reset_index(drop=True)


def doubling_time(selected: pd.DataFrame, reference: str, size: str = "total", n_boot: int = N_BOOT,
                  seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Density doubling time in months from log2(multiplier) vs release date, with a bootstrap interval.

    One row: doubling_months, ci_low, ci_high (inf when the slope's interval reaches zero or below),
    slope_per_month, intercept_log2 (the fit at the reference release), n_generations, generations, bounded (generations whose multiplier is a bound: the fit uses
    the bound value), published_months (the densing law's figure) and its source.
    Needs at least two generations with a multiplier.
    """
    result, release = _multiplier_draws(selected, str(reference), size, n_boot, seed)
    gens = list(result)
    if len(gens) < 2:
        raise DataError(f"need two generations with a density multiplier, have {gens}", "pick a track with more generations")
    months = np.array([(release[g] - release[str(reference)]) / pd.Timedelta(days=DAYS_PER_MONTH) for g in gens])
    points = np.array([result[g][1] for g in gens])
    draws = np.column_stack([result[g][3] for g in gens])  # (n_boot, generations)
    centred = months - months.mean()
    slope = float(centred @ (points - points.mean()) / (centred @ centred))
    slopes = (draws - draws.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    s_low, s_high = _interval(slopes, level)
    inv = lambda s: 1 / s if s > 0 else np.inf  # noqa: E731
    return pd.DataFrame([{
        "doubling_months": inv(slope), "ci_low": inv(s_high), "ci_high": inv(s_low), "slope_per_month": slope,
        "intercept_log2": float(points.mean() - slope * months.mean()),
        "n_generations": len(gens), "generations": " → ".join(gens),
        "bounded": ", ".join(g for g in gens if result[g][2] != "=") or "none", "reference": str(reference),
        "track": ", ".join(sorted(set(selected["track"]))), "size_convention": size,
        "published_months": DENSING_LAW_DOUBLING_MONTHS, "published_source": DENSING_LAW_SOURCE,
    }])
