"""Page one: the summary publishes its numbers as numbers (gentrend.report.summary), the layout puts them into
words (gentrend.report.layout.page_one) and adds no number of its own."""

import re

import numpy as np
import pandas as pd
import pytest

from gentrend.analysis import density as d
from gentrend.report.layout import RunArtefacts, findings, markdown, page_one
from gentrend.report.publish import Publisher
from gentrend.report.summary import HEADLINE_COLUMNS, publish

A, B, C = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01")


def score(generation, params_b, benchmark, value, release, source="https://a"):
    return {
        "model_id": f"m{generation}-{params_b:g}b",
        "model": f"Org/M{generation}-{params_b:g}B",
        "family": "M",
        "size_label": f"{params_b:g}B",
        "unit": "percent",
        "generation": generation,
        "track": "base",
        "benchmark": benchmark,
        "score": float(value),
        "source_url": source,
        "release_date": release,
        "params_total": params_b * 1e9,
        "params_non_embedding": params_b * 0.8e9,
    }


def scores():
    """A: the reference; B doubles its density (exact, on four benchmarks); C beats B's curve everywhere, from
    another source (a bound, mixed pipelines)."""
    rows = []
    for benchmark in ("W", "X", "Y", "Z"):
        rows += [score("A", p, benchmark, s, A) for p, s in ((1, 50), (2, 60), (4, 70))]
        rows += [score("B", p, benchmark, s, B) for p, s in ((1, 60), (2, 70))]
        rows += [score("C", 1, benchmark, 75, C, source="https://card")]
    return pd.DataFrame(rows)


def publish_run(run):
    """The tables the analysis notebooks publish, built by the analysis functions where they exist."""
    selected = scores()
    out = Publisher(run, "density", "base")
    out.table(d.generation_multipliers(selected, "A", n_boot=50), "multipliers", "Multipliers base")
    out.table(d.successive_multipliers(selected, "A", n_boot=50), "previous_generation", "Previous base")
    out.table(d.doubling_time(selected, "A", n_boot=50), "doubling_time", "Doubling base")
    out.table(pd.DataFrame({"generation": ["B", "C"], "holds": [True, False]}), "robustness", "Robustness base")
    Publisher(run, "run").table(
        pd.DataFrame({"model": ["New-1B", "Old-0.5B", "New-8B", "Old-7B"], "params_total": [1.5e9, 0.5e9, 8e9, 7.6e9]}),
        "models",
        "Models",
    )
    per_size = pd.DataFrame(
        {
            "model": ["New-1B", "New-8B"],
            "baseline_model": ["Old-0.5B", "Old-7B"],
            "n_benchmarks": [15, 14],
            "n_votes": [12, 11],
            "median_delta": [9.05, -1.25],
        }
    )
    Publisher(run, "per-size", "base").table(per_size, "summary", "Per-size summary base")
    memory = Publisher(run, "speed-memory")
    memory.table(
        pd.DataFrame(
            {
                "model": ["Qwen-A", "Qwen-B"],
                "device": ["AMD EPYC 7B13 64-Core Processor"] * 2,
                "device_type": ["cpu"] * 2,
                "torch_threads": [2, 2],
                "weights": ["synthetic"] * 2,
                "dtype": ["fp32"] * 2,
                "batch_size": [1, 1],
                "prompt_length": [32, 32],
                "decode_tokens_per_s": [11.9, 7.2],
                "decode_tokens_per_s_p10": [11.6, 7.1],
                "decode_tokens_per_s_p90": [12.0, 7.3],
            }
        ),
        "summary",
        "Profile summary",
    )
    memory.table(
        pd.DataFrame(
            {
                "model_id": ["a", "b", "a", "b"],
                "precision": ["bf16", "bf16", "int4", "int4"],
                "context": 4096,
                "needed_gib": [1.5, 9.4, 0.7, 3.1],
                "8 GB": ["yes", "no", "yes", "yes"],
                "16 GB": ["yes", "yes", "yes", "yes"],
            }
        ),
        "fits",
        "Fits",
    )
    ledger = pd.DataFrame({"id": ["C1", "C2", "C3"], "verdict": ["supported", "refuted", "supported"]})
    Publisher(run, "claims").table(ledger, "ledger", "Claims ledger")


@pytest.fixture
def run(tmp_path):
    publish_run(tmp_path)
    publish(RunArtefacts(tmp_path), tmp_path)
    return RunArtefacts(tmp_path)


def test_each_density_headline_carries_its_basis_and_an_interval_or_a_bound(run):
    table = run.frame("summary", "headlines")
    assert list(table.columns) == HEADLINE_COLUMNS
    density = table[table["finding"] == "density"].set_index(["subject", "against"])
    assert set(density.index) == {("B", "A"), ("C", "A"), ("C", "B")}  # against the reference and the one before
    assert (density[["n_models", "n_families", "bounded_share"]].notna()).all().all()
    exact = density[density["bound"] == "exact"]
    assert not exact.empty and (exact["low"] <= exact["value"]).all() and (exact["value"] <= exact["high"]).all()
    bounded = density[density["bound"] != "exact"]
    assert not bounded.empty and bounded["value"].isna().all() and bounded["low"].notna().all()
    assert bool(density.loc[("C", "A"), "mixed_pipelines"]) and not bool(density.loc[("B", "A"), "mixed_pipelines"])


def number_set(table: pd.DataFrame) -> set[str]:
    """Every number of the published table, as the layout may print it (0-2 decimals, shares in percent), and
    every number inside its text cells."""
    out = set()
    for value in table.select_dtypes("number").to_numpy().ravel():
        if np.isfinite(value):
            for v in (value, abs(value), 100 * value):
                out |= {f"{v:.0f}", f"{v:.1f}", f"{v:.2f}"}
    for text in map(str, table.select_dtypes(exclude="number").to_numpy().ravel()):
        out |= set(re.findall(r"\d+(?:\.\d+)?", text.replace(",", "")))
    return out


def test_the_layout_computes_no_number_of_its_own(run):
    table = run.frame("summary", "headlines")
    text = " ".join(f.text for f in page_one(table))
    shown = re.findall(r"(?<![\w.])\d+(?:\.\d+)?", text.replace(",", ""))  # numbers, not names such as p10
    assert shown and set(shown) <= number_set(table)
    changed = table.assign(value=table["value"] + 0.37)  # a different artefact gives a different page
    assert " ".join(f.text for f in page_one(changed)) != text


def test_trend_is_refused_and_says_from_how_many_generations(run):
    trend = next(f.text for f in findings(run) if f.text.startswith("Density doubling time"))
    assert "not estimable from 1 generation besides the reference" in trend and "B: 2.00×" in trend
    assert "densing" not in trend


def test_speed_names_device_class_threads_precision_weights_and_not_the_cpu_model(run):
    speed = next(f.text for f in findings(run) if f.text.startswith("Decode"))
    assert "on this 2-thread CPU at fp32, synthetic weights" in speed and "says nothing about GPU speed" in speed
    assert "EPYC" not in speed and "Qwen-B 7.2 (p10–p90 7.1–7.3); Qwen-A 11.9" in speed


def test_fits_answer_which_card_each_model_needs(run):
    fits = next(f.text for f in findings(run) if f.text.startswith("Smallest listed card"))
    assert "8 GB for a (1.5 GiB); 16 GB for b (9.4 GiB)" in fits and "bf16" in fits


def test_per_size_states_the_size_ratio_of_unequal_models(run):
    per_size = next(f.text for f in findings(run) if f.text.startswith("Per-size"))
    assert (
        "largest: New-1B over Old-0.5B" in per_size
        and "3.00× the parameters, so part of the change is size" in per_size
    )
    assert "smallest: New-8B over Old-7B" in per_size and "sizes within 1.05×" in per_size


def test_claims_and_links(run):
    found = findings(run)
    assert found[-1].text == "Claims ledger: of 3 public claims, 2 supported, 1 refuted."
    assert markdown(found).count("[→ section](#") == len(found)


def test_a_run_without_tables_has_an_honest_empty_summary(tmp_path):
    publish(RunArtefacts(tmp_path), tmp_path)
    assert findings(RunArtefacts(tmp_path)) == []
    assert markdown([]) == "- This run produced no tables to summarise."
