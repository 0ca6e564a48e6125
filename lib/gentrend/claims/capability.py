"""Capability claim checks: published values, model-vs-larger-model comparisons, per-size improvement and
effective size, all on the published scores (rules of gentrend.analysis.selection and gentrend.analysis.density:
one track, percent units, the disagreement rule, one vote per benchmark family). Published scores decide a part: it
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
from gentrend.analysis.density import (
    EXACT,
    LEVEL,
    LOWER,
    RANGE,
    UPPER,
    density_rows,
    generation_multipliers,
    model_density,
    params_label,
)
from gentrend.analysis.selection import select_scores
from gentrend.claims.base import (
    ABOUT,
    SIZE_MATCH,
    ClaimContext,
    GenerationLabel,
    ModelId,
    Track,
    Verdict,
    check,
    match_size,
    shown,
    undecided,
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


def _stated_multiplier(ctx: ClaimContext, part: str, claimed: float, new: str, reference: str, track: str):
    """A density multiplier a claim states ("about 50 % denser" = 1.5x), scored against the generation
    multiplier of `new` against `reference` on `track` (the density section's value): it holds when the measured
    value lies within ±ABOUT of the claimed one, fails when the measured range (interval of an exact median,
    the bounds otherwise) lies wholly outside it, and is undecided when the two overlap only in part."""
    selected = select_scores(ctx.scores, track).kept
    if not {new, reference} <= set(selected["generation"]):
        return untested_part(part, f"generation {new} or {reference} has no {track} scores")
    row = generation_multipliers(selected, reference).set_index("generation").loc[new]
    exact = row["bound"] == EXACT
    low, high = (row["ci_low"], row["ci_high"]) if exact else (row["multiplier_low"], row["multiplier_high"])
    lo, hi = claimed * (1 - ABOUT), claimed * (1 + ABOUT)
    measured = row["label"] + (f" ({LEVEL:.0%} interval {low:.2f}–{high:.2f}×)" if exact else "")
    evidence = (
        f"claimed ≈{claimed:g}×, measured {measured} for generation {new} against {reference} on the {track} track "
        f"({int(row['n_models'])} models, {int(row['n_votes'])} votes); 'about' = within ±{ABOUT:.0%}: "
        f"{lo:.2f}–{hi:.2f}×"
    )
    short = f"claimed ≈{claimed:g}×, measured {row['label']}"
    if low > hi:
        return shown(part, False, evidence + ": the claim understates", short + ": understates")
    if high < lo:
        return shown(part, False, evidence + ": the claim overstates", short + ": overstates")
    inside = lo <= row["multiplier"] <= hi if exact else lo <= low and high <= hi
    if inside:
        return shown(part, True, evidence, short)
    return undecided(part, evidence + ": the measured range reaches past it", short)


@check("model_matches_larger")
def model_matches_larger(
    ctx: ClaimContext,
    pairs: list[tuple[ModelId, ModelId]],
    track: Track = "base",
    tolerance: float = TIE_POINTS,
    claimed_multipliers: dict[str, float] | None = None,
    untested: dict[str, str] | None = None,
) -> Verdict:
    """Each (smaller, larger) pair is a part: it holds when the smaller model's median score difference over
    the shared benchmarks (one vote per family) is at least -tolerance points. The smaller model's effective
    size on the larger model's generation curve (the density table's value) is reported beside it.
    `claimed_multipliers` {part: multiplier}: each number the claim states ("about 50 % denser": 1.5) is one
    more part, scored against the multiplier of the smaller models' generation against the larger ones'
    (`_stated_multiplier`)."""
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
                f"median {votes.median():+.1f} points",
            )
        )
    new, reference = (ctx.catalogue.get(pairs[0][i]).generation for i in (0, 1))
    for part, claimed in (claimed_multipliers or {}).items():
        parts.append(_stated_multiplier(ctx, part, float(claimed), new, reference, track))
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


def _named_models(ctx: ClaimContext, models, sizes, generation) -> list[tuple[str, str | None, str]]:
    """(part name, model id or None, how it was matched) for the models a claim names, or the sizes it names
    matched to a model of `generation` by `base.match_size` (SIZE_MATCH)."""
    named = [(_name(ctx, m), m, "") for m in models or []]
    for size in sizes or []:
        m = match_size(ctx.catalogue, generation, float(size))
        label = f"{float(size) / 1e9:g}B"
        if m is None:
            named.append((f"a {label} model of Qwen{generation}", None, ""))
        else:
            gap = m.params.total / float(size) - 1
            named.append((f"{label} = {m.name}", m.id, f"{m.name} is {params_label(m.params.total)} ({gap:+.0%})"))
    return named


@check("small_model_effective_size")
def small_model_effective_size(
    ctx: ClaimContext,
    reference: GenerationLabel,
    target_params: float,
    models: list[ModelId] | None = None,
    sizes: list[float] | None = None,
    generation: GenerationLabel | None = None,
    tracks: list[Track] | tuple[Track, ...] = ("non-thinking",),
) -> Verdict:
    """Each model on each track is a part: it holds when its median effective size on the reference
    generation's curve (the density table's value; between two reference models the curve interpolates, so a
    3B target on a curve with no 3B model is read between its neighbours) is at least target_params, fails when
    it is below, and is untested where a bound or missing data leaves it open. The models are named (`models`)
    or are the sizes a claim names (`sizes`), matched to models of `generation` by SIZE_MATCH; a size with no
    model that near is untested."""
    parts, n_rows, target = [], 0, float(target_params)
    named = _named_models(ctx, models, sizes, generation)
    for track in tracks:
        selected = select_scores(ctx.scores, track).kept
        if reference not in set(selected["generation"]):
            parts += [
                untested_part(f"{name}, {track}", f"generation {reference} has no {track} scores")
                for name, _, _ in named
            ]
            continue
        table, _ = _density_table(ctx, track, reference)
        for name, model, matched in named:
            part = f"{name}, {track}"
            if model is None:
                parts.append(untested_part(part, f"no Qwen{generation} model within ±{SIZE_MATCH:.0%} of that size"))
                continue
            own = table[table["model_id"] == model]
            if own.empty:
                parts.append(untested_part(part, f"no {track} benchmark inside the generation-{reference} range"))
                continue
            r = own.iloc[0]
            n_rows += int(r["n_benchmarks"])
            interval = ""
            if r["bound"] == EXACT:
                low, high = r["ci_low"] * r["params"], r["ci_high"] * r["params"]
                straddles = " (the target lies inside it)" if low < target <= high else ""
                interval = (
                    f", {LEVEL:.0%} interval {r['ci_low']:.2f}–{r['ci_high']:.2f}× = "
                    f"{params_label(low)}–{params_label(high)}{straddles}"
                )
            evidence = (
                (f"{matched}; " if matched else "")
                + f"effective size {r['effective_label']} (density {r['density_label']}{interval}; "
                f"{r['n_votes']} benchmark families, {r['bounded_share']:.0%} bounded)"
            )
            reaches = _reaches(r, target)
            sign = {True: "≥", False: "<", None: "vs"}[reaches]
            parts.append(
                untested_part(part, evidence + ": the bounds leave it open")
                if reaches is None
                else shown(part, reaches, evidence, f"{r['effective_label']} {sign} {params_label(target)}")
            )
    return verdict_of(
        parts,
        f"{SCORES}: {n_rows} model-benchmark rows",
        f"Target: {params_label(target)} on the generation-{reference} curve.",
    )
