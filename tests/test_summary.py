"""The executive summary: headline findings computed from a run's published tables, with links."""

import pandas as pd

from gentrend.report.layout import RunArtefacts
from gentrend.report.publish import Publisher
from gentrend.report.summary import findings, markdown


def _density(run, track, reference, rows):
    multipliers = pd.DataFrame(
        [{"generation": reference, "label": "1.00×", "method": "reference"}]
        + [{"generation": g, "label": label, "method": "direct"} for g, label in rows]
    )
    Publisher(run, "density", track).table(multipliers, "multipliers", f"Multipliers {track}")


def test_findings_quote_the_tables_and_link_their_sections(tmp_path):
    _density(tmp_path, "base", "2.5", [("3", "≥1.75×")])
    _density(tmp_path, "thinking", "3", [("3.5", "~1.11×")])
    summary = pd.DataFrame(
        {
            "size_class": ["a", "b"],
            "model": ["New-1B", "New-8B"],
            "baseline_model": ["Old-1B", "Old-7B"],
            "n_benchmarks": [15, 14],
            "median_delta": [9.05, -1.25],
            "n_improved": [15, 3],
        }
    )
    Publisher(tmp_path, "per-size", "base").table(summary, "summary", "Per-size summary base")
    ledger = pd.DataFrame({"id": ["C1", "C2", "C3"], "verdict": ["supported", "refuted", "supported"]})
    Publisher(tmp_path, "claims").table(ledger, "ledger", "Claims ledger")
    found = findings(RunArtefacts(tmp_path))
    assert [f.section for f in found] == ["Capability-density", "Per-size-comparisons", "Claims-ledger"]
    density, per_size, claims = (f.text for f in found)
    assert "base: generation 3 ≥1.75× against 2.5" in density and "thinking: generation 3.5 ~1.11× against 3" in density
    assert (
        "New-1B over Old-1B (base, +9.1 points" in per_size
        and "smallest: New-8B over Old-7B (base, -1.2 points" in per_size
    )
    assert claims == "Claims ledger: of 3 public claims, 2 supported, 1 refuted."
    assert markdown(found).count("[→ section](#") == 3


def test_speed_and_fits_findings_say_what_the_numbers_are(tmp_path):
    out = Publisher(tmp_path, "speed-memory")
    out.table(
        pd.DataFrame(
            {
                "model": ["A", "B"],
                "device": ["Some CPU"] * 2,
                "weights": ["synthetic"] * 2,
                "dtype": ["fp32"] * 2,
                "backend": ["eager"] * 2,
                "point (batch × prompt)": ["1 × 32"] * 2,
                "decode tok/s median [p10–p90]": ["11.9 [11.6–12.0]", "7.2 [7.2–7.2]"],
            }
        ),
        "summary",
        "Profile summary",
    )
    out.table(
        pd.DataFrame(
            {
                "model_id": ["a", "b", "a", "b"],
                "precision": ["bf16", "bf16", "int4", "int4"],
                "context": 4096,
                "weights_gib": [1.0, 9.0, 0.4, 3.0],
                "8 GB": ["yes", "no", "yes", "yes"],
                "16 GB": ["yes", "yes", "yes", "yes"],
            }
        ),
        "fits",
        "Fits",
    )
    fits, speed = (f.text for f in findings(RunArtefacts(tmp_path)) if f.section == "Speed-and-memory")
    assert "Some CPU (synthetic weights, fp32, eager backend)" in speed
    assert "from 7.2 [7.2–7.2] tok/s (B) to 11.9 [11.6–12.0] tok/s (A)" in speed
    assert "8 GB: a at bf16, b at int4 at most; 16 GB: b at bf16/int4 at most" in fits


def test_a_run_without_tables_has_an_honest_empty_summary(tmp_path):
    assert findings(RunArtefacts(tmp_path)) == []
    assert markdown([]) == "- This run produced no tables to summarise."
