"""Capability density on hand-computed fixtures: interpolation, bounds, aggregation, unit filtering, the
disagreement rule, chaining, doubling time; then the real data and a fictitious fourth generation."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fixtures.fourth_generation import load_with_fourth_generation

from gentrend import density as d
from gentrend.errors import GentrendError
from gentrend.plots import density as charts
from gentrend.selection import default_references, select_scores

A, B, C = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01")


def row(generation, params_b, benchmark, score, release=A, source="https://a", unit="percent", model_id=True):
    size = f"{params_b:g}B"
    return {"model_id": f"m{generation}-{size}" if model_id else None, "model": f"Org/M{generation}-{size}",
            "family": "M", "generation": generation, "size_label": size, "track": "base", "unit": unit,
            "benchmark": benchmark, "score": float(score), "source_url": source, "flag": "", "release_date": release,
            "params_total": params_b * 1e9, "params_non_embedding": params_b * 0.8e9}


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
    scores = pd.DataFrame(reference() + [row("B", 1, "Elo", 1200, B, unit="elo"), row("B", 1, "X", 55, B, model_id=False)])
    kept, dropped = select_scores(scores, "base")
    assert set(kept["unit"]) == {"percent"} and kept["model_id"].notna().all()
    assert sorted(dropped["reason"]) == ["checkpoint not in the catalogue", "unit elo: only percent scores are compared"]


def test_disagreement_rule_prefers_the_source_covering_most_models_then_the_newer():
    wide = [dict(r, source_url="https://wide") for r in reference()]
    narrow = row("A", 2, "X", 62, source="https://narrow")
    newer = dict(row("B", 1, "X", 55, B), source_url="https://newer")
    older = dict(row("B", 1, "X", 58, B), source_url="https://wide")
    kept, dropped = select_scores(pd.DataFrame(wide + [narrow, older, newer]), "base")
    two_b = kept[kept["model_id"] == "mA-2B"]
    assert two_b["source_url"].tolist() == ["https://wide"] and two_b["score"].tolist() == [60]
    assert dropped["reason"].tolist() == ["disagreement rule: kept 60 from https://wide",
                                          "disagreement rule: kept 58 from https://wide"]
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
        (lambda s: d.density_rows(select_scores(s, "thinking").kept, "2.5"), r"reference generation '2.5'.*use one of: 3, 3.5"),
        (lambda s: d.density_rows(select_scores(s, "base").kept, "2.5", "embedding"), r"unknown size convention 'embedding'"),
    ],
)
def test_bad_parameters_name_the_value_and_the_valid_ones(scores, call, message):
    with pytest.raises(GentrendError, match="(?s)" + message):
        call(scores)


# --- aggregation ----------------------------------------------------------------------------------------


def density_frame(densities, bounds=None, model="m", generation="B"):
    bounds = bounds or ["="] * len(densities)
    return pd.DataFrame({"model_id": model, "model": model, "generation": generation, "release_date": B,
                         "params": 1e9, "benchmark": [f"b{i}" for i in range(len(densities))],
                         "density": densities, "bound": bounds, "reference": "A", "track": "base",
                         "size_convention": "total"})


def test_model_median_and_bootstrap_interval():
    tight = d.model_density(density_frame([1.9, 2.0, 2.0, 2.1, 2.0]), seed=1).iloc[0]
    wide = d.model_density(density_frame([0.5, 1.0, 2.0, 4.0, 8.0]), seed=1).iloc[0]
    assert tight["density"] == pytest.approx(2.0) and wide["density"] == pytest.approx(2.0)
    for summary in (tight, wide):
        assert summary["ci_low"] <= summary["density"] <= summary["ci_high"]
    assert wide["ci_high"] / wide["ci_low"] > tight["ci_high"] / tight["ci_low"]
    again = d.model_density(density_frame([0.5, 1.0, 2.0, 4.0, 8.0]), seed=1).iloc[0]
    assert again["ci_low"] == wide["ci_low"]  # seeded


def test_median_is_a_bound_only_when_bounds_can_move_it():
    clear = d.model_density(density_frame([1.0, 2.0, 3.0], ["=", "=", ">"])).iloc[0]
    assert (clear["bound"], clear["density"]) == ("=", pytest.approx(2.0))  # the > bound is above the median
    lower = d.model_density(density_frame([1.0, 2.0, 3.0], [">", ">", "="])).iloc[0]
    assert (lower["bound"], lower["density_label"], lower["n_above"]) == (">", "≥2.00×", 2)
    upper = d.model_density(density_frame([1.0, 2.0, 3.0], ["=", "<", "<"])).iloc[0]
    assert upper["bound"] == "<"


# --- generations, chains, time ------------------------------------------------------------------------


def two_generations():
    """B doubles A's density exactly on two benchmarks, released 12 months later."""
    rows = reference("X") + reference("Y")
    later = A + pd.Timedelta(days=365.25)
    rows += [row("B", p, b, s, later) for b in ("X", "Y") for p, s in ((1, 60), (2, 70))]
    return pd.DataFrame(rows)


def test_generation_multiplier_and_doubling_time_hand_computed():
    gens = d.generation_multipliers(two_generations(), "A", n_boot=200)
    assert gens["generation"].tolist() == ["A", "B"] and gens["method"].tolist() == ["reference", "direct"]
    assert gens["multiplier"].tolist() == pytest.approx([1.0, 2.0])
    doubling = d.doubling_time(two_generations(), "A", n_boot=200).iloc[0]
    assert doubling["doubling_months"] == pytest.approx(12.0)
    assert doubling["ci_low"] == pytest.approx(12.0) and doubling["ci_high"] == pytest.approx(12.0)
    assert doubling["published_months"] == 3.3


def test_generation_without_overlap_is_chained_and_says_so():
    scores = two_generations()
    scores = pd.concat([scores, pd.DataFrame([row("B", 4, "Z", 80, B), row("B", 1, "Z", 60, B), row("B", 2, "Z", 70, B),
                                              row("C", 1, "Z", 70, C)])])
    gens = d.generation_multipliers(scores, "A", n_boot=200).set_index("generation")
    assert gens.loc["C", "method"] == "chained C→B→A"
    # C-1B scores 70 on B's Z curve (1B→60, 2B→70): effective 2B, density 2; times B's 2 against A.
    assert gens.loc["C", "multiplier"] == pytest.approx(4.0)


def test_real_data_qwen3_base_is_denser_than_qwen25(scores):
    selected = select_scores(scores, "base").kept
    models = d.model_density(d.density_rows(selected, "2.5"), n_boot=300).set_index("model")
    assert models.loc["Qwen3-1.7B", "effective_params"] > 3e9  # "Qwen3-1.7B-Base ≈ Qwen2.5-3B-Base"
    assert models.loc["Qwen3-1.7B", "n_benchmarks"] == 15
    assert models.loc["Qwen3-8B", "bound"] == ">"  # beats Qwen2.5-7B everywhere: only a bound
    gens = d.generation_multipliers(selected, "2.5", n_boot=300).set_index("generation")
    assert gens.loc["3", "multiplier"] > 1.5 and gens.loc["3", "ci_low"] <= gens.loc["3", "multiplier"]


# --- a fictitious fourth generation appears everywhere ------------------------------------------------


def texts(fig):
    return " ".join(t.get_text() for t in fig.findobj(plt.Text))


def test_fourth_generation_appears_in_every_density_table_and_chart(catalogue_yaml, tmp_path):
    catalogue, scores = load_with_fourth_generation(catalogue_yaml, tmp_path)
    selected = select_scores(scores, "base").kept
    rows = d.density_rows(selected, "2.5")
    models = d.model_density(rows, n_boot=200)
    gens = d.generation_multipliers(selected, "2.5", n_boot=200)
    doubling = d.doubling_time(selected, "2.5", n_boot=200)
    assert "4" in set(rows["generation"]) and "Qwen4-1.7B" in set(models["model"])
    assert gens["generation"].tolist() == ["2.5", "3", "4"]
    assert doubling["generations"].iloc[0] == "2.5 → 3 → 4"
    assert len(d.reference_curves(selected, "4")) == 15 * 4  # the new generation can be the reference too
    for fig in (charts.score_vs_params(selected, "base", benchmarks=["MMLU", "GPQA"]), charts.effective_size_arrows(models),
                charts.density_ratios(models), charts.density_over_time(gens, doubling)):
        assert "Qwen4" in texts(fig) or "4:" in texts(fig)
        assert "text-only total parameters" in texts(fig) and "track: base" in texts(fig)
        plt.close(fig)
    assert math.isfinite(doubling["doubling_months"].iloc[0])
