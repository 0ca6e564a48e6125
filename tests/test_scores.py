import pytest

from gentrend.analysis.scores import load_scores, score_table
from gentrend.core.errors import DataError


def test_tidy_columns_and_provenance_are_kept(scores):
    from gentrend.core import paths

    assert len(scores) == len(paths.data_file("published_scores.csv").read_text().strip().splitlines()) - 1
    assert scores[["source_url", "source_detail"]].notna().all().all()
    assert set(scores["track"]) == {"base", "non-thinking", "thinking"}


def test_qwen25_instruct_is_on_the_non_thinking_track(scores):
    assert set(scores.loc[scores["variant"] == "instruct", "track"]) == {"non-thinking"}


def test_units_follow_benchmarks_yaml(scores):
    unit = scores.groupby("benchmark")["unit"].agg(set)
    assert unit["MMLU"] == {"percent"}
    assert unit["AlignBench v1.1"] == {"points_10"}
    assert unit["CodeForces rating (CodeElo)"] == {"elo"}
    # WritingBench is printed on both scales: the unit is decided per row.
    writing = scores[scores["benchmark"] == "WritingBench"]
    assert set(writing.loc[writing["score"] > 10, "unit"]) == {"percent"}
    assert set(writing.loc[writing["score"] <= 10, "unit"]) == {"points_10"}


def test_flags_are_parsed(scores):
    flagged = scores["source_detail"].str.contains("FLAG-")
    assert set(scores.loc[flagged, "flag"]) == {"DISAGREES", "DIFFERENT-SETTING"}
    assert (scores.loc[~flagged, "flag"] == "").all()
    assert scores.loc[scores["source_detail"].str.contains("FLAG-DISAGREES"), "flag"].eq("DISAGREES").all()


def test_checkpoints_outside_the_catalogue_have_no_model_id(scores):
    outside = set(scores.loc[scores["model_id"].isna(), "model"])
    assert outside == {"Qwen/Qwen3-4B-Instruct-2507", "Qwen/Qwen3-4B-Thinking-2507"}
    assert scores.loc[scores["model"] == "Qwen/Qwen3-4B-Base", "params_total"].iloc[0] == 4022468096


def test_bad_score_names_the_row(tmp_path, catalogue):
    from gentrend.core import paths

    lines = paths.data_file("published_scores.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",20.30,", ",n/a,")
    bad = tmp_path / "scores.csv"
    bad.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"row 4: score 'n/a' is not a number"):
        load_scores(bad, catalogue)


def test_score_table_orders_sizes_and_joins_disagreeing_sources(scores, catalogue):
    table = score_table(scores, [m.id for m in catalogue.in_generation("2.5")], "base")
    assert list(table.columns[2:]) == ["0.5B", "1.5B", "3B", "7B"]
    mbpp = table[table["benchmark"] == "MBPP"].iloc[0]
    assert set(mbpp["0.5B"].split(" / ")) == {"39.3", "29.8"}  # 0-shot (Qwen2.5 TR) and 3-shot (Qwen3 TR)
