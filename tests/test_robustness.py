"""Robustness of the generation multipliers on constructed data: each variant moves the multiplier the way
its rule says, a headline that a variant takes out of its interval 'moves', and chance levels are validated."""

import pandas as pd
import pytest

from gentrend.analysis import robustness as rb
from gentrend.analysis.selection import chance_levels, select_scores
from gentrend.core.errors import GentrendError

A, B = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01")


def row(generation, params_b, benchmark, score, release, source="https://report", setting=""):
    return {
        "model_id": f"m{generation}-{params_b:g}b",
        "model": f"Org/M{generation}-{params_b:g}B",
        "family": "M",
        "size_label": f"{params_b:g}B",
        "generation": generation,
        "variant": "base",
        "track": "base",
        "unit": "percent",
        "benchmark": benchmark,
        "setting": setting,
        "score": float(score),
        "source_url": source,
        "flag": "",
        "release_date": release,
        "params_total": params_b * 1e9,
        "params_non_embedding": params_b * 0.5e9,
    }


def scores(outlier=("Q", 60)):
    """Reference A (1B 40, 2B 50, 4B 60 on every benchmark); B-1B scores 50 (density 2) everywhere but on the
    outlier benchmark, where it scores `outlier[1]` (density 4 at 60)."""
    rows = []
    for benchmark in ("W", "X", "Y", "Z", outlier[0]):
        rows += [row("A", p, benchmark, s, A) for p, s in ((1, 40), (2, 50), (4, 60))]
        rows.append(row("B", 1, benchmark, outlier[1] if benchmark == outlier[0] else 50, B))
    return pd.DataFrame(rows)


def test_leaving_each_family_out_spans_the_multiplier():
    variants = rb.multiplier_variants(scores(), "base", "A", chance={})
    left_out = variants[variants["kind"] == "family left out"].set_index("variant")
    assert left_out.loc["Q", "multiplier"] == pytest.approx(2.0)  # without the outlier: density 2 everywhere
    assert set(left_out.index) == {"W", "X", "Y", "Z", "Q"} and (left_out["rows_changed"] == 4).all()


def test_non_embedding_axis_and_near_chance_variants():
    data = scores(outlier=("GPQA", 60))
    data.loc[data["benchmark"] == "GPQA", "score"] = [24, 26, 28, 29]  # at chance (25) for every model
    variants = rb.multiplier_variants(data, "base", "A", chance={"GPQA": 25})
    kinds = variants.set_index("kind")
    assert "non-embedding parameters" in kinds.loc["size axis", "variant"]
    near = kinds.loc["near chance removed"]
    assert near["variant"] == "4 near-chance scores removed" and near["rows_changed"] == 4
    assert rb.near_chance(data, {"GPQA": 25}).sum() == 4


def test_alternative_source_rule_is_tried_where_sources_disagree():
    data = scores()
    other = data[(data["generation"] == "B") & (data["benchmark"] == "W")].assign(
        score=60.0, source_url="https://card", release_date=B + pd.Timedelta(days=30)
    )
    data = pd.concat([data, other], ignore_index=True)
    kept = {rule: select_scores(data, "base", source_rule=rule).kept for rule in ("coverage", "oldest", "newest")}
    score = lambda k: k[(k["generation"] == "B") & (k["benchmark"] == "W")]["score"].item()
    assert (score(kept["coverage"]), score(kept["oldest"]), score(kept["newest"])) == (50, 50, 60)
    variants = rb.multiplier_variants(data, "base", "A", chance={})
    assert list(variants.loc[variants["kind"] == "source rule", "variant"]) == ["keep the newer source"]


def test_a_headline_holds_when_every_variant_stays_in_its_interval_and_moves_otherwise():
    summary, _ = rb.robustness_table(scores(), "base", "A", n_boot=200, chance={})
    held = summary.set_index("generation").loc["B"]
    assert held["headline"] == "2.00×" and held["family_left_out"] == "2.00–2.00×" and held["holds"]
    assert held["verdict"] == "holds: every variant stays within the interval 2.00–4.00×"
    data = scores()
    data.loc[data["generation"] == "B", "params_non_embedding"] = 0.8e9  # B: a larger share outside embeddings
    summary, _ = rb.robustness_table(data, "base", "A", n_boot=200, chance={})
    moved = summary.set_index("generation").loc["B"]
    assert moved["non_embedding"] == "1.25×" and not moved["holds"]  # effective 1B non-embedding / 0.8B
    assert moved["verdict"] == "moves: non-embedding parameters (size axis) gives 1.25×"


def test_assumed_modes_and_mixed_pipelines_are_listed_where_they_enter():
    data = scores()
    b = data["generation"] == "B"
    data.loc[b, "setting"] = "mode not labelled in table"
    data.loc[b, "source_url"] = "https://card"
    summary, _ = rb.robustness_table(data, "base", "A", n_boot=50, chance={})
    notes = summary.set_index("generation").loc["B", "assumptions"]
    assert "5 scores (1B) filed as base by assumption" in notes and "mixed pipelines" in notes


def test_chance_levels_are_percentages_of_percent_benchmarks(tmp_path):
    levels = chance_levels()
    assert levels["GPQA"] == 25 and levels["MMLU-Pro"] == 10 and "IFEval" not in levels
    for bad, message in (("{GPQA: 125}", "less than 100"), ("{MT-Bench: 10}", "whose unit is not percent: MT-Bench")):
        path = tmp_path / "benchmarks.yaml"
        path.write_text(f"units: {{MT-Bench: points_10}}\nchance: {bad}\n")
        with pytest.raises(GentrendError, match=message):
            chance_levels(path)
