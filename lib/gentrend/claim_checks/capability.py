"""Capability claim checks: published values, model-vs-larger-model comparisons, per-size improvement and
effective size, all on the published scores (rules of gentrend.density: one track, percent units, the
disagreement rule)."""

from __future__ import annotations

from .base import ClaimContext, GenerationLabel, ModelId, Track, Verdict, check, overall_verdict
from ..comparisons import SIZE_CLASSES, size_class, size_class_scores
from ..density import density_rows, model_density, params_label
from ..selection import select_scores

SCORES = "published scores (data/published_scores.csv)"


def _name(ctx: ClaimContext, model_id: str) -> str:
    return ctx.catalogue.get(model_id).name


@check("published_value")
def published_value(ctx: ClaimContext, model: ModelId, values: dict[str, float], outside_catalogue: str = "",
                    tolerance: float = 0.05) -> Verdict:
    """Each claimed value equals a published score of the model (any track); a comparison with a model outside
    the catalogue cannot be tested and makes the verdict at best 'partly supported'."""
    rows = ctx.scores[ctx.scores["model_id"] == model]
    found, missing, wrong = [], [], []
    for benchmark, claimed in values.items():
        hits = rows[rows["benchmark"] == benchmark]
        match = hits[(hits["score"] - float(claimed)).abs() <= tolerance]
        if not match.empty:
            found.append(f"{benchmark} {claimed:g} ({match['track'].iloc[0]}, {match['source_url'].iloc[0]})")
        elif hits.empty:
            missing.append(benchmark)
        else:
            wrong.append(f"{benchmark}: claimed {claimed:g}, published " + " / ".join(f"{s:g}" for s in hits["score"]))
    evidence = "; ".join(filter(None, [
        f"{_name(ctx, model)} matches: " + ", ".join(found) if found else "",
        "differs: " + "; ".join(wrong) if wrong else "",
        "not in the data: " + ", ".join(missing) if missing else "",
        f"not testable: {outside_catalogue}" if outside_catalogue else "",
    ]))
    if wrong:
        verdict = "refuted"
    elif not found:
        verdict = "not testable"
    elif missing or outside_catalogue:
        verdict = "partly supported"
    else:
        verdict = "supported"
    return Verdict(verdict, evidence, f"{SCORES}: {len(found) + len(wrong)} rows of {model}")


@check("not_in_data")
def not_in_data(ctx: ClaimContext, reason: str) -> Verdict:
    return Verdict("not testable", reason, "")


@check("model_matches_larger")
def model_matches_larger(ctx: ClaimContext, pairs: list[tuple[ModelId, ModelId]], track: Track = "base",
                         tolerance: float = 1.0) -> Verdict:
    """Each (smaller, larger) pair: the smaller model's median score difference over the shared benchmarks is
    at least -tolerance points; its effective size on the larger model's generation curve is reported too."""
    selected = select_scores(ctx.scores, track).kept
    passed, notes, n_rows = [], [], 0
    for small, large in pairs:
        a = selected[selected["model_id"] == small][["benchmark", "score"]]
        b = selected[selected["model_id"] == large][["benchmark", "score"]]
        paired = a.merge(b, on="benchmark", suffixes=("_small", "_large"))
        if paired.empty:
            notes.append(f"{_name(ctx, small)} vs {_name(ctx, large)}: no shared {track} benchmarks")
            continue
        n_rows += 2 * len(paired)
        delta = (paired["score_small"] - paired["score_large"]).median()
        passed.append(delta >= -tolerance)
        rows = density_rows(selected, ctx.catalogue.get(large).generation)
        own = model_density(rows[rows["model_id"] == small])
        effective = f"; effective size {own['effective_label'].iloc[0]}" if not own.empty else ""
        notes.append(f"{_name(ctx, small)} vs {_name(ctx, large)}: median difference {delta:+.1f} points over "
                     f"{len(paired)} {track} benchmarks, at least equal on {(paired['score_small'] >= paired['score_large']).sum()}"
                     f"{effective}")
    if not passed:
        return Verdict("not testable", "; ".join(notes), SCORES)
    return Verdict(overall_verdict(passed), "; ".join(notes) + f" (comparable: within {tolerance:g} point)",
                   f"{SCORES}: {n_rows} {track} rows")


@check("consistent_improvement")
def consistent_improvement(ctx: ClaimContext, new: GenerationLabel, old: GenerationLabel, track: Track = "non-thinking") -> Verdict:
    """In every size class where both generations have a model, the new one improves (median delta > 0 and
    most benchmarks up). Classes without shared benchmarks on the track leave the claim partly untested."""
    selected = select_scores(ctx.scores, track).kept
    if old not in set(selected["generation"]) or new not in set(selected["generation"]):
        return Verdict("not testable", f"generation {old} or {new} has no {track} scores", SCORES)
    table = size_class_scores(selected, baseline=old)
    table = table[(table["generation"] == new) & table["delta"].notna()]
    catalogue = ctx.catalogue.to_frame().assign(size_class=lambda f: size_class(f["params_total"]))
    both = [label for label, _, _ in SIZE_CLASSES
            if {old, new} <= set(catalogue.loc[catalogue["size_class"] == label, "generation"])]
    passed, notes, untested = [], [], []
    for label in both:
        rows = table[table["size_class"] == label]
        if rows.empty:
            untested.append(label)
            continue
        up = int((rows["delta"] > 0).sum())
        passed.append(rows["delta"].median() > 0 and up > len(rows) / 2)
        notes.append(f"{label}: {rows['model'].iloc[0]} vs {rows['baseline_model'].iloc[0]} median {rows['delta'].median():+.1f} "
                     f"points, up on {up}/{len(rows)} ({', '.join(rows['benchmark'])})")
    if untested:
        notes.append(f"no shared {track} benchmarks in size classes {', '.join(untested)}")
    if not passed:
        return Verdict("not testable", "; ".join(notes), SCORES)
    verdict = overall_verdict(passed)
    if verdict == "supported" and untested:
        verdict = "partly supported"
    return Verdict(verdict, "; ".join(notes), f"{SCORES}: {len(table)} {track} deltas of generation {new} vs {old}")


@check("small_model_effective_size")
def small_model_effective_size(ctx: ClaimContext, models: list[ModelId], reference: GenerationLabel, target_params: float,
                               tracks: list[Track] | tuple[Track, ...] = ("non-thinking", "thinking")) -> Verdict:
    """At least one of `models` has a median effective size >= target_params on the reference generation's
    curve, on each track that has the data (bounds decide only when they are on the right side)."""
    passed, notes, n_rows, target_params = [], [], 0, float(target_params)
    for track in tracks:
        selected = select_scores(ctx.scores, track).kept
        if reference not in set(selected["generation"]):
            notes.append(f"{track}: generation {reference} has no scores")
            continue
        rows = density_rows(selected, reference)
        summary = model_density(rows[rows["model_id"].isin(models)])
        if summary.empty:
            notes.append(f"{track}: no shared benchmarks")
            continue
        n_rows += int(summary["n_benchmarks"].sum())
        reach = ((summary["effective_params"] >= target_params) & summary["bound"].isin(["=", ">"])).any()
        decided = reach or ((summary["effective_params"] < target_params) & summary["bound"].isin(["=", "<"])).all()
        if decided:
            passed.append(bool(reach))
        found = ", ".join(f"{m} {e} ({d}, {lo:.2f}–{hi:.2f}×, n={n})" for m, e, d, lo, hi, n in
                          summary[["model", "effective_label", "density_label", "ci_low", "ci_high", "n_benchmarks"]].itertuples(index=False))
        notes.append(f"{track}: {found}")
    evidence = f"effective size on the generation-{reference} curve vs {params_label(target_params)}: " + "; ".join(notes)
    if not passed:
        return Verdict("not testable", evidence, SCORES)
    return Verdict(overall_verdict(passed), evidence, f"{SCORES}: {n_rows} model-benchmark rows")
