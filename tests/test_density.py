"""Capability density on hand-computed fixtures: interpolation, bounds, aggregation, unit filtering, the
disagreement rule, chaining, doubling time; then the real data and a fictitious fourth generation."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fixtures.fourth_generation import load_with_fourth_generation

from gentrend.analysis import density as d
from gentrend.analysis.selection import benchmark_families, default_references, family_of, family_table, select_scores
from gentrend.core.errors import GentrendError
from gentrend.plots import MIN_TEXT_PT, label_problems, print_scale, smallest_text_pt
from gentrend.plots import density as charts

A, B, C = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01")


def row(generation, params_b, benchmark, score, release=A, source="https://a", unit="percent", model_id=True):
    size = f"{params_b:g}B"
    return {
        "model_id": f"m{generation}-{size}" if model_id else None,
        "model": f"Org/M{generation}-{size}",
        "family": "M",
        "generation": generation,
        "size_label": size,
        "track": "base",
        "unit": unit,
        "benchmark": benchmark,
        "score": float(score),
        "source_url": source,
        "flag": "",
        "release_date": release,
        "params_total": params_b * 1e9,
        "params_non_embedding": params_b * 0.8e9,
    }


def reference(benchmark="X", scores=(50, 60, 70)):
    return [row("A", p, benchmark, s) for p, s in zip((1, 2, 4), scores)]


def curve(scores=(50, 60, 70)):
    return d.monotone_curve([1e9, 2e9, 4e9], scores)


# --- the curve and its inverse --------------------------------------------------------------------------


def test_interpolates_in_log_params():
    effective, bound = d.invert_curve(curve(), [65, 60, 50])
    np.testing.assert_allclose(effective, [2**1.5 * 1e9, 2e9, 1e9])
    assert list(bound) == ["=", "=", "="]


def test_outside_the_reference_range_is_a_bound_not_an_extrapolation():
    effective, bound = d.invert_curve(curve(), [75, 45])
    np.testing.assert_allclose(effective, [4e9, 1e9])
    assert list(bound) == [">", "<"]
    assert d.bound_label(4e9, ">") == ">4.0B" and d.ratio_label(2.0, ">") == "≥2.00×"


def test_non_monotone_reference_is_made_monotone_by_isotonic_regression():
    fitted = curve((50, 48, 70))
    assert list(fitted["fitted"]) == [49, 49, 70]
    effective, bound = d.invert_curve(fitted, [49, 59.5])
    np.testing.assert_allclose(effective, [1e9, 10 ** (np.log10(2e9) + 0.5 * np.log10(2))])  # smallest size reaching


def test_density_rows_hand_computed():
    scores = pd.DataFrame(reference() + [row("B", 1.5, "X", 65, B), row("B", 3, "X", 75, B)])
    rows = d.density_rows(scores, "A")
    first = rows.iloc[0]
    assert first["effective_params"] == pytest.approx(2**1.5 * 1e9)
    assert first["density"] == pytest.approx(2**1.5 / 1.5)
    assert first["effective_label"] == "≈2.8B" and first["density_label"] == "1.89×"
    assert rows.iloc[1][["bound", "effective_label", "density_label"]].tolist() == [">", ">4.0B", "≥1.33×"]


def test_non_embedding_size_convention():
    scores = pd.DataFrame(reference() + [row("B", 1.5, "X", 65, B)])
    rows = d.density_rows(scores, "A", size="non_embedding")
    assert rows["effective_params"].iloc[0] == pytest.approx(2**1.5 * 0.8e9)
    assert rows["density"].iloc[0] == pytest.approx(2**1.5 / 1.5)
    assert set(rows["size_convention"]) == {"non_embedding"}


def test_reference_needs_two_sizes_per_benchmark():
    scores = pd.DataFrame(reference() + [row("A", 1, "Y", 40), row("B", 1.5, "X", 65, B), row("B", 1.5, "Y", 45, B)])
    assert set(d.density_rows(scores, "A")["benchmark"]) == {"X"}


# --- which rows are compared ----------------------------------------------------------------------------


def test_units_other_than_percent_and_foreign_checkpoints_are_dropped_with_reasons():
    scores = pd.DataFrame(
        reference() + [row("B", 1, "Elo", 1200, B, unit="elo"), row("B", 1, "X", 55, B, model_id=False)]
    )
    kept, dropped = select_scores(scores, "base")
    assert set(kept["unit"]) == {"percent"} and kept["model_id"].notna().all()
    assert sorted(dropped["reason"]) == [
        "checkpoint not in the catalogue",
        "unit elo: only percent scores are compared",
    ]


def test_disagreement_rule_prefers_the_source_covering_most_models_then_the_newer():
    wide = [dict(r, source_url="https://wide") for r in reference()]
    narrow = row("A", 2, "X", 62, source="https://narrow")
    newer = dict(row("B", 1, "X", 55, B), source_url="https://newer")
    older = dict(row("B", 1, "X", 58, B), source_url="https://wide")
    kept, dropped = select_scores(pd.DataFrame(wide + [narrow, older, newer]), "base")
    two_b = kept[kept["model_id"] == "mA-2B"]
    assert two_b["source_url"].tolist() == ["https://wide"] and two_b["score"].tolist() == [60]
    assert dropped["reason"].tolist() == [
        "disagreement rule: kept 60 from https://wide",
        "disagreement rule: kept 58 from https://wide",
    ]
    assert len(kept) == 4


def test_real_disagreement_rule_keeps_the_one_pipeline_source_for_base_models(scores):
    kept, dropped = select_scores(scores, "base")
    assert not kept.duplicated(["model_id", "benchmark", "unit"]).any()
    assert set(kept.loc[kept["benchmark"] == "MBPP", "setting"]) == {"3-shot"}  # the Qwen3 TR pipeline
    assert set(kept.loc[kept["benchmark"] == "MBPP", "source_url"]) == {"https://arxiv.org/abs/2505.09388"}
    assert set(dropped.loc[dropped["flag"] != "", "benchmark"]) == {"MBPP", "MultiPL-E"}
    assert len(kept) + len(dropped) == (scores["track"] == "base").sum()


def test_default_reference_is_the_oldest_generation_with_two_sizes_on_the_track(scores, catalogue):
    references = default_references(scores)
    assert set(references) <= {"base", "non-thinking", "thinking"} and references
    for track, reference in references.items():
        kept = select_scores(scores, track).kept
        older = kept[kept["release_date"] < kept.loc[kept["generation"] == reference, "release_date"].min()]
        assert older.groupby("generation")["model_id"].nunique().lt(2).all()  # no older usable reference
        assert kept.loc[kept["generation"] == reference, "model_id"].nunique() >= 2
    assert references["thinking"] != catalogue.generations[0]  # Qwen2.5 has no thinking mode


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: select_scores(s, "reasoning"), r"unknown track 'reasoning'.*base, non-thinking, thinking"),
        (lambda s: select_scores(s, "base", ["NoSuchBench"]), r"unknown benchmark\(s\) \['NoSuchBench'\].*MMLU"),
        (
            lambda s: d.density_rows(select_scores(s, "thinking").kept, "2.5"),
            r"reference generation '2.5'.*use one of: 3, 3.5",
        ),
        (
            lambda s: d.density_rows(select_scores(s, "base").kept, "2.5", "embedding"),
            r"unknown size convention 'embedding'",
        ),
    ],
)
def test_bad_parameters_name_the_value_and_the_valid_ones(scores, call, message):
    with pytest.raises(GentrendError, match="(?s)" + message):
        call(scores)


# --- the exact-vs-bounded median rule, families, the reference range --------------------------------------


def density_frame(densities, bounds=None, model="m", generation="B", benchmarks=None, position="inside"):
    bounds = bounds or ["="] * len(densities)
    benchmarks = benchmarks or [f"b{i}" for i in range(len(densities))]
    return pd.DataFrame(
        {
            "model_id": model,
            "model": model,
            "generation": generation,
            "release_date": B,
            "params": 1e9,
            "benchmark": benchmarks,
            "family": benchmarks,
            "density": densities,
            "bound": bounds,
            "position": position,
            "reference": "A",
            "track": "base",
            "size_convention": "total",
        }
    )


def test_model_median_and_bootstrap_interval():
    tight = d.model_density(density_frame([1.9, 2.0, 2.0, 2.1, 2.0]), seed=1).iloc[0]
    wide = d.model_density(density_frame([0.5, 1.0, 2.0, 4.0, 8.0]), seed=1).iloc[0]
    assert tight["density"] == pytest.approx(2.0) and wide["density"] == pytest.approx(2.0)
    for summary in (tight, wide):
        assert summary["ci_low"] <= summary["density"] <= summary["ci_high"]
    assert wide["ci_high"] / wide["ci_low"] > tight["ci_high"] / tight["ci_low"]
    again = d.model_density(density_frame([0.5, 1.0, 2.0, 4.0, 8.0]), seed=1).iloc[0]
    assert again["ci_low"] == wide["ci_low"]  # seeded


def test_median_rule_on_a_constructed_case():
    """MEDIAN_RULE: the median lies between the median of the votes' lower ends and that of their upper ends;
    it is exact only when they coincide, and only then gets an interval."""
    exact = [1.0, 2.0, 3.0, 4.0, 5.0]
    # two lower bounds at 6×, above the middle: wherever their true values lie, the median of the seven
    # votes is the fourth, the interpolated 4×
    above = d.model_density(density_frame(exact + [6.0, 6.0], ["="] * 5 + [">", ">"])).iloc[0]
    assert (above["bound"], above["density"], above["density_label"]) == ("=", pytest.approx(4.0), "4.00×")
    assert above["ci_low"] <= 4.0 <= above["ci_high"] and (above["n_exact"], above["n_above"]) == (5, 2)
    assert above["bounded_share"] == pytest.approx(2 / 7)
    # four lower bounds at 1.5×: the median is at least 1.5× (all four true values just above 1.5) and at
    # most 5× (all four far above): a two-sided bound, no value, no interval
    moved = d.model_density(density_frame(exact + [1.5] * 4, ["="] * 5 + [">"] * 4)).iloc[0]
    assert moved["bound"] == "<>" and np.isnan(moved["density"]) and np.isnan(moved["ci_low"])
    assert (moved["density_low"], moved["density_high"]) == (pytest.approx(1.5), pytest.approx(5.0))
    assert moved["density_label"] == "≥1.50×, ≤5.00×"
    # most votes are lower bounds: one-sided
    lower = d.model_density(density_frame([1.0, 2.0, 3.0], [">", ">", "="])).iloc[0]
    assert (lower["bound"], lower["density_label"], lower["n_above"]) == (">", "≥2.00×", 2)
    assert np.isnan(lower["ci_low"]) and np.isnan(lower["ci_high"])
    upper = d.model_density(density_frame([1.0, 2.0, 3.0], ["=", "<", "<"])).iloc[0]
    assert (upper["bound"], upper["density_label"]) == ("<", "≤2.00×")
    # too few votes, or both ends open: not estimable
    assert d.model_density(density_frame([2.0, 2.0])).iloc[0]["density_label"] == "not estimable"
    both = d.model_density(density_frame([1.0, 2.0, 3.0, 4.0], ["<", "<", ">", ">"])).iloc[0]
    assert both["bound"] == "n/e"


def test_a_family_is_one_vote_its_members_median():
    members = ["RULER 4K", "RULER 8K", "RULER 16K"]  # one family in data/benchmarks.yaml
    assert set(family_of(pd.Series(members))) == {"RULER"}
    frame = density_frame([4.0, 4.0, 4.0, 1.0, 2.0], benchmarks=members + ["X", "Y"])
    frame["family"] = family_of(frame["benchmark"])
    summary = d.model_density(frame).iloc[0]
    assert (summary["n_benchmarks"], summary["n_votes"]) == (5, 3)
    assert summary["density"] == pytest.approx(2.0)  # votes 4 (RULER), 1, 2: three RULER rows would have made it 4
    votes = d.family_votes(frame).set_index("family")
    assert votes.loc["RULER", "n_members"] == 3 and votes.loc["RULER", "low"] == pytest.approx(2.0)


def test_families_file_lists_each_benchmark_once_and_is_reported(scores, tmp_path):
    families = benchmark_families()
    members = [m for entry in families.values() for m in entry["members"]]
    assert len(members) == len(set(members))
    assert {"Belebele", "RULER", "GPQA", "MMLU"} <= set(families)
    for track in ("base", "non-thinking", "thinking"):
        kept = select_scores(scores, track).kept
        table = family_table(kept)
        assert set(table["family"]) == set(family_of(kept["benchmark"])) & set(families)
        assert (table["n_members"] >= 1).all() and table["why"].str.len().gt(0).all()
    broken = tmp_path / "benchmarks.yaml"
    broken.write_text("families:\n  A: {members: [X, Y], why: a}\n  B: {members: [Y], why: b}\n")
    with pytest.raises(GentrendError, match="benchmark 'Y' is in families 'A' and 'B'"):
        benchmark_families(broken)


def test_rows_outside_the_reference_range_are_not_pooled_but_won_tied_or_lost():
    # reference A at 1, 2, 4B; B-8B is above the range, B-0.5B below it, B-1.5B inside
    scores = pd.DataFrame(
        reference("X")
        + reference("Y")
        + reference("Z")
        + [row("B", 8, b, s, B) for b, s in (("X", 75), ("Y", 70.5), ("Z", 60))]
        + [row("B", 0.5, b, 45, B) for b in ("X", "Y", "Z")]
        + [row("B", 1.5, b, 65, B) for b in ("X", "Y", "Z")]
    )
    rows = d.density_rows(scores, "A")
    assert rows.groupby("model")["position"].first().to_dict() == {
        "MB-0.5B": "below",
        "MB-1.5B": "inside",
        "MB-8B": "above",
    }
    assert d.model_density(rows)["model"].tolist() == ["MB-1.5B"]  # no pooled value outside the range
    outside = d.outside_range(rows, scores).set_index("model")
    assert outside.loc["MB-8B", ["versus", "wins", "ties", "losses"]].tolist() == ["MA-4B", 1, 1, 1]
    assert outside.loc["MB-0.5B", ["versus", "wins", "ties", "losses"]].tolist() == ["MA-1B", 0, 0, 3]
    gens = d.generation_multipliers(scores, "A", n_boot=100).set_index("generation")
    assert gens.loc["B", "n_models"] == 1 and gens.loc["B", "n_votes"] == 3


# --- generations, chains, time ------------------------------------------------------------------------


def two_generations():
    """B doubles A's density exactly on two benchmarks, released 12 months later."""
    rows = reference("X") + reference("Y")
    later = A + pd.Timedelta(days=365.25)
    rows += [row("B", p, b, s, later) for b in ("X", "Y") for p, s in ((1, 60), (2, 70))]
    return pd.DataFrame(rows)


def test_generation_multiplier_hand_computed():
    gens = d.generation_multipliers(two_generations(), "A", n_boot=200)
    assert gens["generation"].tolist() == ["A", "B"] and gens["method"].tolist() == ["reference", "direct"]
    assert gens["multiplier"].tolist() == pytest.approx([1.0, 2.0]) and gens["n_votes"].tolist() == [0, 4]
    assert gens["n_families"].tolist() == [0, 2] and gens["n_models"].tolist() == [0, 2]
    assert not gens["mixed_pipelines"].any()


def doubling_generations(n_newer):
    """A reference on four benchmarks and `n_newer` generations, one a year apart, each doubling the density of
    the one before: generation k's 1B model scores where A's curve is at 2**k B."""
    rows = []
    for b in ("W", "X", "Y", "Z"):
        rows += [row("A", p, b, 10 * (1 + np.log2(p)), A) for p in (1, 2, 4, 8, 16)]
        for k in range(1, n_newer + 1):
            rows.append(row(f"G{k}", 1, b, 10 * (1 + k), A + pd.Timedelta(days=365.25 * k)))
    return pd.DataFrame(rows)


def test_doubling_time_needs_three_exact_generations_besides_the_reference():
    gens = d.generation_multipliers(doubling_generations(3), "A", n_boot=100)
    assert gens["multiplier"].tolist() == pytest.approx([1, 2, 4, 8])
    fit = d.doubling_time(doubling_generations(3), "A", n_boot=100).iloc[0]
    assert (fit["bound"], fit["n_exact_generations"]) == ("=", 3)
    assert fit["doubling_months"] == pytest.approx(12.0) and fit["label"] == "12.0 months"
    for n in (1, 2):
        refused = d.doubling_time(doubling_generations(n), "A", n_boot=100).iloc[0]
        assert refused["bound"] == "n/e" and np.isnan(refused["doubling_months"]) and np.isnan(refused["ci_low"])
        assert refused["label"] == f"not estimable from {n} generation{'s' if n > 1 else ''}"
        assert refused["per_generation"].startswith("G1: 2.00× (2024-12)")  # what a reader has instead
    assert "published_months" not in fit.index  # never set beside the densing law


def test_each_generation_against_the_one_before():
    scores = doubling_generations(2)
    rows = [row("G1", p, b, 10 * (2 + np.log2(p)), pd.Timestamp("2025-01-01")) for b in "WXYZ" for p in (2, 4)]
    scores = pd.concat([scores, pd.DataFrame(rows)])  # G1 gets a curve: 1B, 2B, 4B
    step = d.successive_multipliers(scores, "A", n_boot=100)
    assert step[["generation", "reference"]].values.tolist() == [["G2", "G1"]]
    assert step["multiplier"].tolist() == pytest.approx([2.0])  # G2-1B scores where G1's curve is at 2B
    assert d.successive_multipliers(two_generations(), "A", n_boot=100).empty  # only the reference before B


def test_scores_from_another_source_than_the_curve_are_flagged_as_mixed_pipelines():
    scores = two_generations()
    scores.loc[scores["generation"] == "B", "source_url"] = "https://model-card"
    gens = d.generation_multipliers(scores, "A", n_boot=100).set_index("generation")
    assert bool(gens.loc["B", "mixed_pipelines"]) and gens.loc["B", "sources"] == "https://model-card"


def test_bounded_multiplier_gives_no_interval_and_a_one_sided_doubling_time():
    later = A + pd.Timedelta(days=365.25)
    rows = reference("X") + reference("Y") + reference("Z")
    rows += [row("B", 2, b, 75, later) for b in ("X", "Y", "Z")]  # above A-4B everywhere: density >= 2
    gens = d.generation_multipliers(pd.DataFrame(rows), "A", n_boot=100).set_index("generation")
    assert gens.loc["B", ["bound", "label"]].tolist() == [">", "≥2.00×"] and np.isnan(gens.loc["B", "ci_low"])
    doubling = d.doubling_time(pd.DataFrame(rows), "A", n_boot=100).iloc[0]
    assert (doubling["bound"], doubling["label"]) == ("n/e", "not estimable from 0 generations")  # bounds never fit
    assert np.isnan(doubling["ci_low"]) and doubling["per_generation"] == "B: ≥2.00× (2024-12)"


def test_too_few_votes_are_not_estimable():
    rows = reference("X") + [row("B", 1, "X", 60, B)]
    gens = d.generation_multipliers(pd.DataFrame(rows), "A", n_boot=100).set_index("generation")
    assert gens.loc["B", ["bound", "label"]].tolist() == ["n/e", "not estimable"]
    doubling = d.doubling_time(pd.DataFrame(rows), "A", n_boot=100).iloc[0]
    assert doubling["label"] == "not estimable from 0 generations" and doubling["generations"] == "A"


def test_generation_without_overlap_is_chained_and_says_so():
    scores = two_generations()
    for b in ("Z", "W", "V"):  # B's own curves, where C (no overlap with A) is scored
        scores = pd.concat(
            [
                scores,
                pd.DataFrame(
                    [row("B", 1, b, 60, B), row("B", 2, b, 70, B), row("B", 4, b, 80, B), row("C", 1, b, 70, C)]
                ),
            ]
        )
    gens = d.generation_multipliers(scores, "A", n_boot=200).set_index("generation")
    assert gens.loc["C", "method"] == "chained C→B→A"
    # C-1B scores 70 on B's curves (1B→60, 2B→70): effective 2B, density 2; times B's 2 against A.
    assert gens.loc["C", "multiplier"] == pytest.approx(4.0) and gens.loc["C", "bound"] == "="


def test_real_data_density_tables_follow_the_rules(scores):
    for track, reference_generation in default_references(scores).items():
        selected = select_scores(scores, track).kept
        rows = d.density_rows(selected, reference_generation)
        models = d.model_density(rows, n_boot=200)
        bounded = models[models["bound"] != "="]
        assert bounded[["density", "ci_low", "ci_high"]].isna().all().all()  # never an interval for a bound
        exact = models[models["bound"] == "="]
        assert ((exact["ci_low"] <= exact["density"]) & (exact["density"] <= exact["ci_high"])).all()
        inside = rows[rows["position"] == "inside"]
        assert models.set_index("model_id")["n_benchmarks"].to_dict() == inside.groupby("model_id").size().to_dict()
        assert (models["n_votes"] == models["model_id"].map(inside.groupby("model_id")["family"].nunique())).all()
        # a model larger than every reference model gets no pooled value, only win / tie / loss
        largest = selected.loc[selected["generation"] == reference_generation, "params_total"].max()
        too_large = set(rows.loc[rows["params"] > largest, "model"])
        assert not too_large & set(models["model"])
        assert too_large <= set(d.outside_range(rows, selected)["model"])


def test_real_data_qwen3_base_is_denser_than_qwen25(scores):
    selected = select_scores(scores, "base").kept
    models = d.model_density(d.density_rows(selected, "2.5"), n_boot=300).set_index("model")
    assert models.loc["Qwen3-1.7B", "effective_params"] > 3e9  # "Qwen3-1.7B-Base ≈ Qwen2.5-3B-Base"
    families = family_of(selected.loc[selected["model_id"] == "qwen3-1.7b", "benchmark"]).nunique()
    assert models.loc["Qwen3-1.7B", "n_votes"] == families
    assert "Qwen3-8B" not in models.index  # larger than Qwen2.5-7B: outside the range
    gens = d.generation_multipliers(selected, "2.5", n_boot=300).set_index("generation")
    assert gens.loc["3", "multiplier_low"] > 1.5


# --- a fictitious fourth generation appears everywhere ------------------------------------------------


def texts(fig):
    return " ".join(t.get_text() for t in fig.findobj(plt.Text))


def test_fourth_generation_appears_in_every_density_table_and_chart(catalogue_yaml, tmp_path):
    catalogue, scores = load_with_fourth_generation(catalogue_yaml, tmp_path)
    selected = select_scores(scores, "base").kept
    rows = d.density_rows(selected, "2.5")
    models = d.model_density(rows, n_boot=200)
    outside = d.outside_range(rows, selected)
    gens = d.generation_multipliers(selected, "2.5", n_boot=200)
    doubling = d.doubling_time(selected, "2.5", n_boot=200)
    assert (
        "4" in set(rows["generation"]) and "Qwen4-1.7B" in set(models["model"]) and "Qwen4-8B" in set(outside["model"])
    )
    assert gens["generation"].tolist() == ["2.5", "3", "4"]
    assert "4: " in doubling["per_generation"].iloc[0]
    assert len(d.reference_curves(selected, "4")) == 15 * 4  # the new generation can be the reference too
    for fig in (
        charts.score_vs_params(selected, "base", benchmarks=["MMLU", "GPQA"]),
        charts.effective_size_arrows(models, outside),
        charts.density_ratios(models, outside),
        charts.density_over_time(gens, doubling),
    ):
        assert "Qwen4" in texts(fig) or "4:" in texts(fig)
        assert "text-only total parameters" in texts(fig) and "track: base" in texts(fig)
        assert smallest_text_pt(fig) * print_scale(fig) >= MIN_TEXT_PT and not label_problems(fig)  # legible in print
        plt.close(fig)


def test_a_track_without_a_reference_generation_is_a_clear_error(scores):
    from gentrend.analysis.selection import default_references, reference_for
    from gentrend.core.errors import DataError

    references = default_references(scores)
    track = next(iter(references))
    assert reference_for(scores, track) == references[track]
    assert reference_for(scores, track, "3") == "3"  # asked for: taken as it is
    only_one_generation = scores[scores["generation"] == scores["generation"].iloc[0]]
    with pytest.raises(DataError, match=f"track '{track}' has no reference generation") as err:
        reference_for(only_one_generation, track)
    assert "pass reference_generation" in err.value.fix
