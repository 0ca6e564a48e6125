"""Exploring a finished run (gentrend.open_run): tables by title with provenance, the report's charts redrawn from
a filtered frame, two runs compared; and the chart label rule (a model is labelled once)."""

import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import gentrend
from gentrend.analysis.density import (
    density_rows,
    doubling_time,
    generation_multipliers,
    model_density,
    outside_range,
)
from gentrend.analysis.selection import select_scores
from gentrend.plots.density import density_ratios, effective_size_arrows
from gentrend.report.explore import ExploreError
from gentrend.report.publish import Publisher

PER_MODEL = ["model", "generation", "params", "density_label", "effective_label", "density", "ci_low", "ci_high"]
PER_MODEL += ["density_low", "density_high", "bound", "n_votes", "bounded_share", "reference", "track"]


@pytest.fixture(scope="module")
def analysed(scores):
    """Density of the base and non-thinking tracks from the published scores (a small bootstrap)."""
    out = {}
    for track in ("base", "non-thinking"):
        selected = select_scores(scores, track).kept
        rows = density_rows(selected, "2.5", "total")
        out[track] = {
            "per_model": model_density(rows, 50, 0),
            "outside_range": outside_range(rows, selected, "total"),
            "multipliers": generation_multipliers(selected, "2.5", "total", 50, 0),
            "doubling_time": doubling_time(selected, "2.5", "total", 50, 0),
        }
    return out


TITLES = {
    "per_model": "Density ratio per model vs generation 2.5, {}",
    "outside_range": "Outside the generation-2.5 range: win / tie / loss, {}",
    "multipliers": "Density multiplier per generation vs 2.5, {}",
    "doubling_time": "Density doubling time, {}",
}


@pytest.fixture
def reports(tmp_path, monkeypatch, analysed):
    """Two runs publishing the density tables of two tracks, `latest` on the second."""
    reports = tmp_path / "reports"
    for name, day in (("first", 1), ("second", 2)):
        for track, tables in analysed.items():
            out = Publisher(reports / name, "density", track)
            for key, frame in tables.items():
                frame = frame[PER_MODEL] if key == "per_model" else frame
                out.table(frame, key, TITLES[key].format(track), source="published scores (test)")
        manifest = {
            "started": f"2026-11-0{day}T00:00:00+00:00",
            "status": "complete",
            "gentrend": "0.1.0",
            "inputs": {"machine": "abc", "libraries": {"torch": "2.13.0"}},
        }
        (reports / name / "manifest.json").write_text(json.dumps(manifest))
    (reports / "latest").symlink_to("second")
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    return reports


def test_open_the_latest_run_and_list_it_by_title(reports):
    run = gentrend.open_run()
    assert run.id == "second" and gentrend.open_run("latest").path == run.path
    listed = run.contents("table")
    assert set(listed["title"]) == {t.format(track) for t in TITLES.values() for track in ("base", "non-thinking")}
    assert set(listed["producer"]) == {"density-base", "density-non-thinking"}
    assert run.previous().id == "first" and gentrend.open_run("first").previous() is None


def test_a_table_by_words_of_its_title_with_provenance(reports, analysed):
    run = gentrend.open_run("second")
    frame = run.frame("density ratio per model base")  # "base" is a word of one title only
    assert frame["model"].tolist() == analysed["base"]["per_model"]["model"].tolist()
    source = frame.attrs["provenance"]
    assert source["run"] == "second" and source["producer"] == "density-base" and source["machine"] == "abc"
    assert source["libraries"] == {"torch": "2.13.0"} and source["title"].endswith(", base")
    thinking = run.frame("density multiplier non-thinking")  # "non-thinking" is one word
    assert set(thinking["track"]) == {"non-thinking"}


@pytest.mark.parametrize(
    "name, problem", [("density per model", "matches 2 titles"), ("memory per gpu", "no table or results")]
)
def test_unknown_or_ambiguous_names_say_which_titles_exist(reports, name, problem):
    with pytest.raises(ExploreError) as err:
        gentrend.open_run().frame(name)
    assert problem in err.value.problem and err.value.fix


def test_an_unknown_run_names_the_runs_there(reports):
    with pytest.raises(ExploreError) as err:
        gentrend.open_run("nope")
    assert "first" in err.value.fix and "second" in err.value.fix


def test_the_reports_chart_redrawn_from_a_filtered_frame(reports):
    run = gentrend.open_run()
    per_model = run.frame("density ratio per model base")
    kept = per_model[per_model["generation"] == "3"]
    fig = run.plot("density ratio per model base", kept)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert set(kept["model"]) <= set(labels) and not set(per_model["model"][per_model["generation"] != "3"]) & set(
        labels
    )
    outside = run.frame("outside the generation-2.5 range base")
    assert set(outside.loc[outside["generation"] == "3", "model"]) <= set(labels)  # its models outside the range
    assert not set(outside.loc[outside["generation"] != "3", "model"]) & set(labels)
    assert "Capability density per model, base track" in fig.axes[0].get_title()
    plt.close(fig)
    fig = run.plot("density multiplier base")  # the whole table
    assert "over time" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ExploreError, match="draws no chart"):
        run.plot("density doubling time base")


def test_compare_two_runs(reports, analysed):
    both = gentrend.compare_runs(gentrend.open_run("first"), gentrend.open_run("second"), "density multiplier base")
    n = len(analysed["base"]["multipliers"])
    assert both.columns[0] == "run" and both.groupby("run").size().to_dict() == {"first": n, "second": n}
    assert set(both.attrs["provenance"]) == {"first", "second"}


def test_a_model_is_labelled_once_on_the_density_charts(analysed):
    """A model outside the reference range on some benchmarks (both above and below, against two reference
    models) and inside on others is one row, not three."""
    models = analysed["base"]["per_model"].assign(size_convention="total")
    first = models["model"].iloc[0]
    outside = pd.DataFrame(
        {
            "model": [first, "Other-1B", "Other-1B"],
            "generation": "3",
            "position": ["above", "above", "below"],
            "versus": ["Qwen2.5-7B", "Qwen2.5-7B", "Qwen2.5-0.5B"],
            "n_votes": 3,
            "wins": 1,
            "ties": 1,
            "losses": 1,
        }
    )
    for chart in (effective_size_arrows, density_ratios):
        fig = chart(models, outside)
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert len(labels) == len(set(labels)) and labels.count("Other-1B") == 1 and first in labels
        plt.close(fig)


def test_the_closest_title_wins(reports, analysed):
    measured = Publisher(reports / "second", "density", "base", "measured here")
    measured.table(analysed["base"]["multipliers"], "multipliers", TITLES["multipliers"].format("base"), source="x")
    run = gentrend.open_run()
    assert run.find("density multiplier base").producer == "density-base"
    assert run.find("measured density multiplier base").producer == "density-measured-here-base"
