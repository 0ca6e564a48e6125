"""Capability claim checks: published values, model-vs-larger-model comparisons, per-size improvement and
effective size, all on the published scores (rules of gentrend.analysis.selection and gentrend.analysis.density: one track,
percent units, the disagreement rule, one vote per benchmark family). Published scores decide a part: it
holds or fails (base.VERDICT_RULE). Numbers quoted from the density analysis are the density table's own
(same function, rows and seed).
"""

from __future__ import annotations

from gentrend.analysis.comparisons import (
    SIZE_CLASSES,
    TIE_POINTS,
    family_deltas,
    size_class,
    size_class_scores,
    win_tie_loss,
)
from gentrend.analysis.density import EXACT, LOWER, RANGE, UPPER, density_rows, model_density, params_label
from gentrend.analysis.selection import select_scores
from gentrend.claims.base import (
    ClaimContext,
    GenerationLabel,
    ModelId,
    Track,
    Verdict,
    check,
    shown,
    untested_part,
    untested_parts,
    verdict_of,
)

SCORES = "published scores (data/published_scores.csv)"


def _name(ctx: ClaimContext, model_id: str) -> str:
    return ctx.catalogue.get(model_id).name


def _density_table(ctx: ClaimContext, track: str, reference: str):
    """The density table of a track against a reference generation, as the density notebook computes it."""
    selected = select_scores(ctx.scores, track).kept
    return model_density(density_rows(selected, reference)), selected


@check("published_value")
def published_value(
    ctx: ClaimContext,
    model: ModelId,
    values: dict[str, float],
    tolerance: float = 0.05,
    untested: dict[str, str] | None = None,
) -> Verdict:
    """Each claimed value is a part: it holds when a published score of the model (any track) equals it within
    `tolerance`, fails when the published scores differ, and is untested when the benchmark is not in the
    data. `untested`: further parts of the claim the data cannot test, {part: why}."""
    rows = ctx.scores[ctx.scores["model_id"] == model]
    parts = []
    for benchmark, claimed in values.items():
        hits = rows[rows["benchmark"] == benchmark]
        match = hits[(hits["score"] - float(claimed)).abs() <= tolerance]
        part = f"{benchmark} {claimed:g}"
        if hits.empty:
            parts.append(untested_part(part, f"no {benchmark} score of {_name(ctx, model)} in the data"))
        elif not match.empty:
            parts.append(shown(part, True, f"published ({match['track'].iloc[0]}, {match['source_url'].iloc[0]})"))
        else:
            parts.append(shown(part, False, "published " + " / ".join(f"{s:g}" for s in hits["score"])))
    return verdict_of(parts + untested_parts(untested), f"{SCORES}: rows of {model}")


@check("not_in_data")
def not_in_data(ctx: ClaimContext, reason: str) -> Verdict:
    return verdict_of([untested_part("the claim", reason)], "")


@check("model_matches_larger")
def model_matches_larger(
    ctx: ClaimContext,
    pairs: list[tuple[ModelId, ModelId]],
    track: Track = "base",
    tolerance: float = TIE_POINTS,
    untested: dict[str, str] | None = None,
) -> Verdict:
    """Each (smaller, larger) pair is a part: it holds when the smaller model's median score difference over
    the shared benchmarks (one vote per family) is at least -tolerance points. The smaller model's effective
    size on the larger model's generation curve (the density table's value) is reported beside it."""
    selected = select_scores(ctx.scores, track).kept
    parts, n_rows = [], 0
    for small, large in pairs:
        name = f"{_name(ctx, small)} ≈ {_name(ctx, large)}"
        a = selected[selected["model_id"] == small][["benchmark", "score"]]
        b = selected[selected["model_id"] == large][["benchmark", "score"]]
        paired = a.merge(b, on="benchmark", suffixes=("_small", "_large"))
        if paired.empty:
            parts.append(untested_part(name, f"no shared {track} benchmarks"))
            continue
        n_rows += 2 * len(paired)
        votes = family_deltas(paired["score_small"] - paired["score_large"], paired["benchmark"])
        wins, ties, losses = win_tie_loss(votes)
        table, _ = _density_table(ctx, track, ctx.catalogue.get(large).generation)
        own = table[table["model_id"] == small]
        effective = f"; effective size {own['effective_label'].iloc[0]}" if not own.empty else ""
        parts.append(
            shown(
                name,
                votes.median() >= -tolerance,
                f"median difference {votes.median():+.1f} points over {len(votes)} benchmark families "
                f"({len(paired)} {track} benchmarks): {wins} higher, {ties} within {TIE_POINTS:g} point, "
                f"{losses} lower{effective}",
            )
        )
    note = f"Comparable: a median difference of at least -{tolerance:g} point."
    return verdict_of(parts + untested_parts(untested), f"{SCORES}: {n_rows} {track} rows", note)


@check("consistent_improvement")
def consistent_improvement(
    ctx: ClaimContext, new: GenerationLabel, old: GenerationLabel, track: Track = "non-thinking"
) -> Verdict:
    """Each size class where both generations have a catalogue model is a part: it holds when the new model
    improves (median delta over family votes > 0 and more than half of the votes higher by more than a
    tie), and is untested where the two share no benchmark on the track."""
    selected = select_scores(ctx.scores, track).kept
    if old not in set(selected["generation"]) or new not in set(selected["generation"]):
        return verdict_of([untested_part("the claim", f"generation {old} or {new} has no {track} scores")], SCORES)
    table = size_class_scores(selected, baseline=old)
    table = table[(table["generation"] == new) & table["delta"].notna()]
    catalogue = ctx.catalogue.to_frame().assign(size_class=lambda f: size_class(f["params_total"]))
    parts = []
    for label, _, _ in SIZE_CLASSES:
        if not {old, new} <= set(catalogue.loc[catalogue["size_class"] == label, "generation"]):
            continue
        rows = table[table["size_class"] == label]
        if rows.empty:
            parts.append(untested_part(label, f"no shared {track} benchmarks"))
            continue
        votes = family_deltas(rows["delta"], rows["benchmark"])
        wins, ties, losses = win_tie_loss(votes)
        parts.append(
            shown(
                label,
                votes.median() > 0 and wins > len(votes) / 2,
                f"{rows['model'].iloc[0]} vs {rows['baseline_model'].iloc[0]} median {votes.median():+.1f} "
                f"points, {wins} higher / {ties} tied / {losses} lower of {len(votes)} benchmark families "
                f"({', '.join(rows['benchmark'])})",
            )
        )
    return verdict_of(parts, f"{SCORES}: {len(table)} {track} deltas of generation {new} vs {old}")


def _reaches(row, target: float) -> bool | None:
    """Whether a model's median effective size reaches `target`: True / False where its bound decides, else None."""
    low, high, bound = row["density_low"] * row["params"], row["density_high"] * row["params"], row["bound"]
    if bound in (EXACT, LOWER, RANGE) and low >= target:
        return True
    if bound in (EXACT, UPPER, RANGE) and high < target:
        return False
    return None


@check("small_model_effective_size")
def small_model_effective_size(
    ctx: ClaimContext,
    models: list[ModelId],
    reference: GenerationLabel,
    target_params: float,
    tracks: list[Track] | tuple[Track, ...] = ("non-thinking",),
) -> Verdict:
    """Each model on each track is a part: it holds when its median effective size on the reference
    generation's curve (the density table's value) is at least target_params, fails when it is below, and
    is untested where a bound or missing data leaves it open."""
    parts, n_rows, target = [], 0, float(target_params)
    for track in tracks:
        selected = select_scores(ctx.scores, track).kept
        if reference not in set(selected["generation"]):
            parts += [
                untested_part(f"{_name(ctx, m)}, {track}", f"generation {reference} has no {track} scores")
                for m in models
            ]
            continue
        table, _ = _density_table(ctx, track, reference)
        for model in models:
            name = f"{_name(ctx, model)}, {track}"
            own = table[table["model_id"] == model]
            if own.empty:
                parts.append(untested_part(name, f"no {track} benchmark inside the generation-{reference} range"))
                continue
            r = own.iloc[0]
            n_rows += int(r["n_benchmarks"])
            interval = f", 95% interval {r['ci_low']:.2f}–{r['ci_high']:.2f}×" if r["bound"] == EXACT else ""
            evidence = (
                f"effective size {r['effective_label']} (density {r['density_label']}{interval}; "
                f"{r['n_votes']} benchmark families, {r['bounded_share']:.0%} bounded)"
            )
            reaches = _reaches(r, target)
            parts.append(
                untested_part(name, evidence + ": the bounds leave it open")
                if reaches is None
                else shown(name, reaches, evidence)
            )
    return verdict_of(
        parts,
        f"{SCORES}: {n_rows} model-benchmark rows",
        f"Target: {params_label(target)} on the generation-{reference} curve.",
    )
