"""When to stop repeating a point: the stopping rule, for information per minute.

After each measured run, the 90 % bootstrap confidence interval of the median decode speed (tokens/s per run)
is computed from `RESAMPLES` resamples of the runs so far (a fixed seed: the same runs give the same interval).
Its relative half-width, (high - low) / 2 / median, is the point's `ci_rel`. A point stops

- on the bound ("bound"): at least `min_runs` runs and ci_rel <= `ci_bound`;
- on the cap ("cap"): `max_runs` runs, whatever the interval.

With three runs the bootstrap interval of the median is their range, so three runs within +-5 % of each other
stop at the floor; a noisy point buys more runs only while it stays noisy.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.90
RESAMPLES = 1000


def relative_ci(values: list[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> float:
    """Relative half-width of the bootstrap confidence interval of the median of `values` (inf for < 2 values or a
    median of 0)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return float("inf")
    median = float(np.median(arr))
    if median == 0:
        return float("inf")
    draws = np.random.default_rng(0).integers(0, len(arr), size=(resamples, len(arr)))
    medians = np.median(arr[draws], axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float((high - low) / 2 / abs(median))


def stop_reason(values: list[float], min_runs: int, max_runs: int, ci_bound: float) -> str:
    """ "bound", "cap", or "" (measure another run) for the runs so far."""
    if len(values) >= max_runs:
        return "cap"
    if len(values) >= min_runs and relative_ci(values) <= ci_bound:
        return "bound"
    return ""
