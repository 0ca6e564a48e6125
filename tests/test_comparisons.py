"""Per-size comparisons: size classes, deltas against the baseline generation, the smallest new model that
matches the largest old one, the heatmap; and a fictitious fourth generation shows up in all of them."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from fixtures.fourth_generation import load_with_fourth_generation

from gentrend.analysis import comparisons as c
from gentrend.analysis.selection import select_scores
from gentrend.core.errors import DataError
from gentrend.plots.comparisons import delta_heatmap

A, B = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01")


def row(generation, params_b, benchmark, score, release):
    size = f"{params_b:g}B"
    return {
        "model_id": f"m{generation}-{size}",
        "family": "M",
        "generation": generation,
        "size_label": size,
        "benchmark": benchmark,
        "score": float(score),
        "release_date": release,
        "params_total": params_b * 1e9,
        "params_non_embedding": params_b * 0.8e9,
    }


def fixture():
    old = [
        row("A", p, b, s + (5 if b == "Y" else 0), A) for p, s in ((0.5, 30), (1.5, 50), (7, 70)) for b in ("X", "Y")
    ]
    new = [
        row("B", p, b, s + (5 if b == "Y" else 0), B)
        for p, s in ((0.6, 40), (1.7, 65), (4, 71), (8, 80))
        for b in ("X", "Y")
    ]
    return pd.DataFrame(old + new)


def test_size_classes_follow_the_bin_edges():
    labels = c.size_class(pd.Series([0.494e9, 0.752e9, 1.0e9, 1.02e9, 1.88e9, 3.09e9, 4.2e9, 7.6e9, 8.95e9, 30e9]))
    assert labels.tolist()[:9] == [
        "0.5–0.8B",
        "0.5–0.8B",
        "0.5–0.8B",
        "1.5–2B",
        "1.5–2B",
        "3–4B",
        "3–4B",
        "7–9B",
        "7–9B",
    ]
    assert pd.isna(labels.iloc[9])


def test_deltas_against_the_oldest_generation_of_the_same_class():
    table = c.size_class_scores(fixture())
    small = table[(table["size_class"] == "0.5–0.8B") & (table["benchmark"] == "X")]
    assert small[["generation", "score", "delta"]].values.tolist() == [["A", 30.0, 0.0], ["B", 40.0, 10.0]]
    three_four = table[table["size_class"] == "3–4B"]
    assert three_four["delta"].isna().all()  # no generation-A model of that class
    matrix = c.delta_matrix(table)
    assert list(matrix.columns) == [("B", "0.5–0.8B"), ("B", "1.5–2B"), ("B", "7–9B")]
    assert matrix.loc["X", ("B", "1.5–2B")] == 15


def test_smallest_new_model_matching_the_largest_old():
    result = c.newest_matching_oldest_largest(fixture())
    assert result["versus"].unique().tolist() == ["MA-7B"]
    assert result.set_index("model")["median_delta"].to_dict() == {
        "MB-0.6B": -30,
        "MB-1.7B": -5,
        "MB-4B": 1,
        "MB-8B": 10,
    }
    assert result.set_index("model").loc["MB-4B", ["wins", "ties", "losses"]].tolist() == [0, 2, 0]
    assert result.loc[result["smallest_match"], "model"].tolist() == ["MB-4B"]
    assert result["benchmarks"].iloc[0] == "X, Y"
    tolerant = c.newest_matching_oldest_largest(fixture(), tolerance=5)
    assert tolerant.loc[tolerant["smallest_match"], "model"].tolist() == ["MB-1.7B"]


def test_win_tie_loss_uses_the_tie_band():
    band = c.TIE_POINTS  # a difference within the band (its edges included) is a tie
    assert c.win_tie_loss([2 * band, band, 0.0, -band, -1.5 * band]) == (1, 3, 1)


def test_a_benchmark_family_is_one_vote_in_per_size_counts():
    members = ["Belebele (Turkic)", "Belebele (Uralic)", "Belebele (Dravidian)"]  # one family in data/benchmarks.yaml
    old = [row("A", 1.5, b, 50, A) for b in members + ["X", "Y"]]
    new = [row("B", 1.7, b, s, B) for b, s in zip(members + ["X", "Y"], (60, 60, 60, 49, 49.5))]
    summary = c.per_size_summary(c.size_class_scores(pd.DataFrame(old + new))).iloc[0]
    # five benchmarks, three votes: Belebele +10 (one win), X -1 and Y -0.5 (ties); per benchmark it would be 3 wins
    assert (summary["n_benchmarks"], summary["n_votes"]) == (5, 3)
    assert (summary["wins"], summary["ties"], summary["losses"]) == (1, 2, 0)
    assert summary["median_delta"] == pytest.approx(-0.5)
    match = c.newest_matching_oldest_largest(pd.DataFrame(old + new)).iloc[0]
    assert (match["n_votes"], match["median_delta"], match["share_at_least_equal"]) == (3, -0.5, pytest.approx(1 / 3))


def test_unknown_generation_is_named(scores):
    with pytest.raises(DataError, match="(?s)'2.5' has no scores.*3, 3.5"):
        c.newest_matching_oldest_largest(select_scores(scores, "thinking").kept, oldest="2.5")


def test_real_data_per_size_summary(scores):
    summary = c.per_size_summary(c.size_class_scores(select_scores(scores, "base").kept))
    assert summary["size_class"].tolist() == ["0.5–0.8B", "1.5–2B", "3–4B", "7–9B"]
    shared = select_scores(scores, "base").kept.groupby("benchmark")["model_id"].nunique()
    assert (summary["median_delta"] > 0).all() and (summary["n_benchmarks"] == (shared == shared.max()).sum()).all()
    match = c.newest_matching_oldest_largest(select_scores(scores, "base").kept)
    assert match.loc[match["smallest_match"], "model"].tolist() == ["Qwen3-4B"]  # vs Qwen2.5-7B


def test_fourth_generation_appears_in_every_per_size_table_and_chart(catalogue_yaml, tmp_path):
    _, scores = load_with_fourth_generation(catalogue_yaml, tmp_path)
    selected = select_scores(scores, "base").kept
    table = c.size_class_scores(selected)
    assert "4" in set(table["generation"])
    assert "4" in set(c.delta_matrix(table).columns.get_level_values(0))
    assert c.newest_matching_oldest_largest(selected)["model"].str.startswith("Qwen4").all()
    assert "Qwen4-0.6B" in set(c.per_size_summary(table)["model"])
    fig = delta_heatmap(c.delta_matrix(table), "base", baseline="2.5")
    labels = " ".join(t.get_text() for t in fig.findobj(plt.Text))
    assert "4\n0.5–0.8B" in labels and "track: base" in labels and "text-only total parameters" in labels
    plt.close(fig)
