"""Robustness of the generation multipliers (gentrend.analysis.density): each headline multiplier recomputed
under the choices the method makes, so a reader sees whether it holds.

Variants, per track, against the same reference generation:
- each benchmark family left out in turn (from every generation, the reference included);
- non-embedding parameters as the size axis (the catalogue's params_non_embedding);
- each alternative source rule (gentrend.analysis.selection.SOURCE_RULES) where two sources disagree;
- near-chance scores removed: rows within NEAR_CHANCE_POINTS of the benchmark's chance level (or below it),
  chance levels from data/benchmarks.yaml (`chance`).

A variant *stays* when the range where its multiplier can lie, [multiplier_low, multiplier_high], meets the
headline's interval (the bootstrap interval of an exact multiplier, the bound's range of a bounded one); the
headline *holds* when every variant stays. Assumptions in the data that enter a multiplier are listed with it:
scores filed under a mode by assumption (their `setting` says the source table names no mode) and mixed
evaluation pipelines (density.generation_multipliers `mixed_pipelines`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gentrend.analysis.density import EXACT, N_BOOT, NOT_ESTIMABLE, density_rows, generation_multipliers
from gentrend.analysis.selection import SOURCE_RULES, chance_levels, family_of, select_scores

NEAR_CHANCE_POINTS = 5.0  # a score less than this many points above its chance level counts as near chance
ASSUMED_MODE = "mode not labelled"  # how published_scores.csv's `setting` marks a mode filed by assumption
TOLERANCE = 1e-9  # relative: a variant at the interval's end (up to rounding) stays within it
VARIANT_BOOT = 1  # variants compare where a multiplier can lie, which the bootstrap does not change

VARIANT_COLUMNS = [
    "generation",
    "kind",
    "variant",
    "multiplier",
    "multiplier_low",
    "multiplier_high",
    "bound",
    "label",
    "n_families",
    "rows_changed",
]


def near_chance(selected: pd.DataFrame, chance: dict[str, float] | None = None) -> pd.Series:
    """Rows whose score is less than NEAR_CHANCE_POINTS above their benchmark's chance level (False where
    the benchmark has none)."""
    chance = chance_levels() if chance is None else chance
    level = selected["benchmark"].map(chance)
    return (selected["score"] < level + NEAR_CHANCE_POINTS).fillna(False).astype(bool)


def _variants(scores: pd.DataFrame, track: str, reference: str, chance: dict[str, float], benchmarks=None):
    """(kind, variant, selected rows, size convention, density rows or None, rows changed) of every variant,
    the headline first. A family left out reuses the headline's density rows (curves are per benchmark)."""
    base = select_scores(scores, track, benchmarks).kept
    yield "headline", "as published", base, "total", None, 0
    rows = density_rows(base, reference)
    families = family_of(base["benchmark"])
    for family in sorted(set(families)):
        kept = base[families != family]
        changed = int((families == family).sum())
        yield "family left out", family, kept, "total", rows[rows["family"] != family], changed
    yield "size axis", "non-embedding parameters", base, "non_embedding", None, 0
    for rule in SOURCE_RULES:
        if rule == "coverage":
            continue
        other = select_scores(scores, track, benchmarks, source_rule=rule).kept
        changed = len(pd.concat([base, other]).drop_duplicates(subset=["model_id", "benchmark", "score"], keep=False))
        if changed:
            yield "source rule", f"keep {SOURCE_RULES[rule]}", other, "total", None, changed // 2
    near = near_chance(base, chance)
    if near.any():
        n = int(near.sum())
        yield "near chance removed", f"{n} near-chance scores removed", base[~near], "total", None, n


def multiplier_variants(
    scores: pd.DataFrame, track: str, reference: str, chance: dict[str, float] | None = None, benchmarks=None
) -> pd.DataFrame:
    """Every newer generation's multiplier under every variant (module docstring). Columns: VARIANT_COLUMNS;
    rows_changed: the rows a variant removes or swaps. A variant that leaves a generation without a path to
    the reference gives it 'not estimable'. `benchmarks`: as in select_scores (None: all)."""
    chance = chance_levels() if chance is None else chance
    reference = str(reference)
    parts = []
    for kind, variant, selected, size, rows, changed in _variants(scores, track, reference, chance, benchmarks):
        if reference not in set(selected["generation"]):
            continue
        table = generation_multipliers(selected, reference, size, n_boot=VARIANT_BOOT, rows=rows)
        table = table[table["generation"] != reference]
        parts.append(table.assign(kind=kind, variant=variant, rows_changed=changed)[VARIANT_COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=VARIANT_COLUMNS)


def _span(table: pd.DataFrame) -> str:
    """A kind's multipliers as 'min–max' over its variants' labels (a single label where one variant)."""
    labels = table["label"].tolist()
    if len(labels) == 1:
        return labels[0]
    estimable = table[table["bound"] != NOT_ESTIMABLE]
    low, high = estimable["multiplier_low"].min(), estimable["multiplier_low"].max()
    text = f"{low:.2f}–{high:.2f}×" if not estimable.empty else ""
    if (estimable["bound"] != EXACT).any():
        text = "lower ends " + text if text else text
    others = len(table) - len(estimable)
    return (text + (f" ({others} not estimable)" if others else "")).strip()


def assumptions(selected: pd.DataFrame, multipliers: pd.DataFrame) -> dict[str, str]:
    """Per newer generation: the assumptions in the data its multiplier rests on, as one line ('' if none)."""
    out = {}
    for r in multipliers[multipliers["method"] != "reference"].itertuples():
        rows = selected[selected["generation"] == r.generation]
        setting = rows["setting"] if "setting" in rows else pd.Series("", index=rows.index)
        assumed = rows[setting.astype(str).str.contains(ASSUMED_MODE, regex=False)]
        parts = []
        if not assumed.empty:
            models = ", ".join(sorted(set(assumed["size_label"])))
            parts.append(f"{len(assumed)} scores ({models}) filed as {r.track} by assumption: the source names no mode")
        if r.mixed_pipelines:
            parts.append("mixed pipelines: scores from " + r.sources + " on a curve from " + r.curve_sources)
        out[str(r.generation)] = "; ".join(parts)
    return out


def robustness_table(
    scores: pd.DataFrame,
    track: str,
    reference: str,
    n_boot: int = N_BOOT,
    seed: int = 0,
    chance=None,
    benchmarks=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, variants): per newer generation the headline multiplier, its interval, each kind of variant
    ('family left out' as min–max), whether it holds, the sentence that says so and the assumptions it rests
    on; and every variant (`multiplier_variants`). Summary columns: generation, reference, track, headline,
    interval_low, interval_high, family_left_out, non_embedding, source_rule, near_chance_removed, holds,
    verdict, assumptions. `benchmarks`: as in select_scores (None: all), so the check varies what the
    notebook's headline uses."""
    selected = select_scores(scores, track, benchmarks).kept
    headline = generation_multipliers(selected, str(reference), "total", n_boot, seed)
    variants = multiplier_variants(scores, track, reference, chance, benchmarks)
    notes = assumptions(selected, headline.assign(track=track))
    rows = []
    for h in headline[headline["method"] != "reference"].itertuples():
        exact = h.bound == EXACT
        low, high = (h.ci_low, h.ci_high) if exact else (h.multiplier_low, h.multiplier_high)
        mine = variants[(variants["generation"] == h.generation) & (variants["kind"] != "headline")]
        meets = (mine["multiplier_high"] >= low * (1 - TOLERANCE)) & (mine["multiplier_low"] <= high * (1 + TOLERANCE))
        stays = (mine["bound"] != NOT_ESTIMABLE) & meets
        moved = mine[~stays]
        by_kind = {kind: _span(mine[mine["kind"] == kind]) for kind in dict.fromkeys(mine["kind"])}
        if h.bound == NOT_ESTIMABLE:
            verdict = "not estimable: nothing to hold"
        elif moved.empty:
            where = f"the interval {low:.2f}–{high:.2f}×" if exact else f"the bound's range ({h.label})"
            verdict = f"holds: every variant stays within {where}"
        else:
            distance = np.abs(np.log2(moved["multiplier_low"].clip(lower=1e-9)) - np.log2(h.multiplier_low))
            far = moved.iloc[int(np.argmax(distance))]
            verdict = f"moves: {far['variant']} ({far['kind']}) gives {far['label']}" + (
                f"; {len(moved) - 1} more variants leave the interval" if len(moved) > 1 else ""
            )
        rows.append(
            {
                "generation": h.generation,
                "reference": str(reference),
                "track": track,
                "headline": h.label,
                "interval_low": low,
                "interval_high": high,
                "family_left_out": by_kind.get("family left out", ""),
                "non_embedding": by_kind.get("size axis", ""),
                "source_rule": by_kind.get("source rule", "no disagreeing sources"),
                "near_chance_removed": by_kind.get("near chance removed", "no near-chance scores"),
                "holds": bool(moved.empty and h.bound != NOT_ESTIMABLE),
                "verdict": verdict,
                "assumptions": notes.get(str(h.generation), "") or "none",
            }
        )
    return pd.DataFrame(rows), variants
