"""The one verdict rule on constructed parts, then the capability claim checks on the published scores (C1–C7
of data/claims.yaml) and on small cases."""

import json

import pytest
import yaml

from gentrend.analysis.density import density_rows, generation_multipliers, model_density
from gentrend.analysis.selection import select_scores
from gentrend.claims import (
    VERDICT_RULE,
    VERDICTS,
    argued,
    capability,
    overall_verdict,
    shown,
    undecided,
    untested_part,
    verdict_of,
)
from gentrend.claims.base import ABOUT, PARTLY, SIZE_MATCH, WHERE_TESTED, match_size, reason_of
from gentrend.claims.ledger import CHECKS, ClaimContext, ledger_tables, load_claims, readings_of


@pytest.mark.parametrize(
    "parts, expected",
    [
        ([untested_part("a", "no data"), untested_part("b", "no data")], "not testable"),
        ([shown("a", True, "published"), shown("b", True, "published")], "supported"),
        ([shown("a", True, "published"), shown("b", False, "published")], PARTLY),
        ([shown("a", True, "published"), untested_part("b", "no data")], WHERE_TESTED),
        ([shown("a", True, "published"), argued("b", True, "roofline")], WHERE_TESTED),
        ([shown("a", True, "published"), undecided("b", "inside the error")], WHERE_TESTED),
        ([shown("a", True, "published"), shown("b", False, "published"), untested_part("c", "no data")], PARTLY),
        ([undecided("a", "inside the error"), untested_part("b", "no data")], "not testable"),
        ([shown("a", False, "published"), argued("b", True, "roofline"), untested_part("c", "no data")], "refuted"),
        ([argued("a", False, "above the roofline")], "refuted"),
        (
            [argued("a", True, "within the roofline"), argued("b", True, "fits"), untested_part("c", "no data")],
            "not refuted",
        ),
    ],
)
def test_verdict_rule_on_constructed_parts(parts, expected):
    verdict = verdict_of(parts, "constructed")
    assert verdict.verdict == expected == overall_verdict([p.outcome for p in parts])
    assert verdict.parts == "; ".join(f"{p.part}: {p.outcome}" for p in parts)
    assert verdict.reason == reason_of(parts) and verdict.reason  # every verdict has its one-line reason
    for p in parts:
        assert f"{p.outcome}: " in verdict.reason and p.part in verdict.reason


def test_the_reason_names_failures_first_with_their_few_words():
    parts = [shown("a", True, "published", "≈4.6B ≥ 3.0B"), shown("b", False, "published", "≈1.4B < 3.0B")]
    assert reason_of(parts) == "fails: b (≈1.4B < 3.0B); holds: a (≈4.6B ≥ 3.0B)"


def test_a_model_argument_never_supports_and_the_rule_names_every_verdict():
    assert argued("a", True, "within the roofline").outcome == "possible"
    assert overall_verdict(["possible"] * 3) == "not refuted"
    for label in VERDICTS:
        assert f"**{label}**" in VERDICT_RULE
    assert "at least 10%" in VERDICT_RULE  # the stated margin of "comfortably"
    assert f"±{SIZE_MATCH:.0%}" in VERDICT_RULE and "needs at least X GB" in VERDICT_RULE


@pytest.fixture(scope="module")
def ctx(scores, catalogue):
    return ClaimContext(scores, catalogue)


@pytest.fixture(scope="module")
def verdicts(ctx):
    claims = [c for c in load_claims() if c["category"] == "capability"]
    deciding = lambda c: next(r for r in readings_of(c) if r.get("decides"))["args"]
    return {c["id"]: CHECKS[c["check"]](ctx, **deciding(c)) for c in claims}


def test_every_capability_claim_gets_a_verdict_and_its_evidence(verdicts):
    assert sorted(verdicts) == [f"C{i}" for i in range(1, 8)]
    for verdict in verdicts.values():
        assert verdict.verdict in VERDICTS and verdict.evidence and verdict.parts


def _multiplier(ctx, new, reference, track):
    selected = select_scores(ctx.scores, track).kept
    return generation_multipliers(selected, reference).set_index("generation").loc[new]


def test_c1_pairs_hold_its_numbers_are_scored_and_the_rest_of_the_scale_is_untested(verdicts, ctx):
    """Each number C1 states is a part: within ±ABOUT of the measured generation multiplier, or it under- or
    overstates; expected outcomes follow from today's multiplier, not pinned."""
    c1 = verdicts["C1"]
    assert c1.parts.startswith("Qwen3-1.7B ≈ Qwen2.5-3B: holds; Qwen3-4B ≈ Qwen2.5-7B: holds")
    assert '"and so on up the scale": untested' in c1.parts
    row = _multiplier(ctx, "3", "2.5", "base")
    low, high = (
        (row["ci_low"], row["ci_high"]) if row["bound"] == "=" else (row["multiplier_low"], row["multiplier_high"])
    )
    claim = next(c for c in load_claims() if c["id"] == "C1")["args"]["claimed_multipliers"]
    outcomes = {}
    for part, claimed in claim.items():
        lo, hi = claimed * (1 - ABOUT), claimed * (1 + ABOUT)
        outcomes[part] = "fails" if low > hi or high < lo else "holds" if lo <= low and high <= hi else "undecided"
        assert f"{part}: {outcomes[part]}" in c1.parts
        assert f"claimed ≈{claimed:g}×, measured {row['label']}" in c1.evidence
    assert outcomes['"about 50% denser"'] == "fails" and "the claim understates" in c1.evidence  # 1.5x vs ~2x
    assert c1.verdict == (PARTLY if "fails" in outcomes.values() else WHERE_TESTED)


def test_c2_only_the_small_size_classes_are_testable(verdicts):
    assert verdicts["C2"].verdict == WHERE_TESTED  # the tested classes hold, no part fails
    assert "3–4B: untested; 7–9B: untested" in verdicts["C2"].parts


def test_published_values(verdicts, ctx):
    assert verdicts["C4"].verdict == "supported"
    assert verdicts["C3"].verdict == WHERE_TESTED  # 81.7 is published; the 80B comparison is not testable
    wrong = capability.published_value(ctx, "qwen3.5-9b", {"GPQA-Diamond": 85.0, "NoSuchBench": 1.0})
    assert (
        wrong.verdict == "refuted" and "published 81.7" in wrong.evidence and "NoSuchBench 1: untested" in wrong.parts
    )


def test_c6_not_in_data(verdicts):
    assert verdicts["C6"].verdict == "not testable"


def test_a_size_in_a_claim_is_matched_by_the_stated_rule(catalogue):
    assert match_size(catalogue, "3.5", 0.8e9).id == "qwen3.5-0.8b"
    assert match_size(catalogue, "3.5", 1.5e9).id == "qwen3.5-2b"  # 1.88B is +25 %: within ±35 %
    assert match_size(catalogue, "3.5", 14e9) is None  # the largest, 9B, is -36 %: not near enough
    two = catalogue.get("qwen3.5-2b").params.total
    assert match_size(catalogue, "3.5", two / (1 + SIZE_MATCH) * 0.99) is None


def _c7_expected(ctx, reading):
    """The outcome of each C7 part under one reading, from the density table itself."""
    args = reading["args"]
    expected = {}
    for track in args["tracks"]:
        selected = select_scores(ctx.scores, track).kept
        table = model_density(density_rows(selected, args["reference"])).set_index("model_id")
        for size in args["sizes"]:
            model = match_size(ctx.catalogue, args["generation"], size)
            row = table.loc[model.id]
            assert row["bound"] == "=" or row["density_high"] * row["params"] < args["target_params"]
            reaches = row["density_low"] * row["params"] >= args["target_params"]
            expected[f"{size / 1e9:g}B = {model.name}, {track}"] = ("holds" if reaches else "fails", row)
    return expected


@pytest.fixture(scope="module")
def tables(ctx):
    return ledger_tables(ctx)


def test_every_ledger_row_gives_a_one_line_reason_from_its_parts(tables):
    ledger, _ = tables
    assert list(ledger["id"]) == [c["id"] for c in load_claims()]
    for row in ledger.itertuples():
        assert row.reason and "\n" not in row.reason and row.verdict in VERDICTS
        for part in row.parts.split("; "):  # each part's outcome is named in the reason
            assert part.rsplit(": ", 1)[1] + ": " in row.reason


def test_c7_is_tested_under_both_readings_and_the_stated_one_decides(ctx, tables):
    """Reading A (Qwen2.5-3B) and reading B (Qwen3, 3B read between 1.7B and 4B) are both tested and shown;
    B, "the generation just before", decides. Outcomes are computed from today's density tables."""
    claim = next(c for c in load_claims() if c["id"] == "C7")
    ledger, readings = tables
    rows = readings[readings["id"] == "C7"].set_index("reading")
    assert list(rows.index) == ["A", "B"] and (rows["decides"] != "").sum() == 1
    for reading in claim["readings"]:
        expected = _c7_expected(ctx, reading)
        row = rows.loc[reading["label"]]
        for part, (outcome, density) in expected.items():
            assert f"{part}: {outcome}" in row["parts"]
            assert f"effective size {density['effective_label']}" in row["evidence"]
        outcomes = [o for o, _ in expected.values()]
        assert row["verdict"] == overall_verdict(outcomes)
    assert rows.loc["A", "verdict"] != rows.loc["B", "verdict"]  # the readings disagree today: both must be shown
    c7 = ledger.set_index("id").loc["C7"]
    assert c7["verdict"] == rows.loc["B", "verdict"]
    assert c7["reading"].startswith("reading B decides (a reader takes") and "reading A: " in c7["reading"]
    assert c7["reason"].startswith("reading B: ")
    assert "Qwen3.5-2B is 1.9B (+25%)" in rows.loc["B", "evidence"]  # the size rule is shown where it applies


def test_c7_small_cases(ctx):
    lower_target = capability.small_model_effective_size(ctx, "3", 2e9, models=["qwen3.5-2b"], tracks=["thinking"])
    assert lower_target.verdict == "supported"
    untestable = capability.small_model_effective_size(ctx, "2.5", 3e9, models=["qwen3.5-2b"], tracks=["thinking"])
    assert untestable.verdict == "not testable"
    no_model = capability.small_model_effective_size(ctx, "3", 3e9, sizes=[14e9], generation="3.5")
    assert no_model.verdict == "not testable" and "no Qwen3.5 model within ±35%" in no_model.evidence


def test_the_interval_label_follows_the_density_level(ctx, monkeypatch):
    monkeypatch.setattr(capability, "LEVEL", 0.8)
    v = capability.small_model_effective_size(ctx, "3", 3e9, models=["qwen3.5-2b"], tracks=["thinking"])
    assert "80% interval" in v.evidence and "95%" not in v.evidence


def test_readings_are_validated(tmp_path):
    from gentrend.core.errors import DataError

    base = {"id": "X1", "category": "capability", "text": "t", "source": "s", "check": "not_in_data"}
    reading = {"label": "A", "reads": "r", "args": {"reason": "x"}}
    for readings, message in (
        ([reading, {**reading, "label": "B"}], "exactly one reading must say why it decides"),
        ([{**reading, "decides": "why"}, {"label": "B", "args": {}}], "field readings.1.reads: Field required"),
        ([{**reading, "decides": "why", "args": {"reasn": "typo"}}], "bad args for check 'not_in_data'"),
    ):
        path = tmp_path / "claims.yaml"
        plain = json.loads(json.dumps({"claims": [{**base, "readings": readings}]}))  # no YAML aliases
        path.write_text(yaml.safe_dump(plain))
        with pytest.raises(DataError, match=message):
            load_claims(path)


def test_claims_file_with_unknown_check_or_bad_args_fails_on_load(tmp_path):
    from gentrend.core.errors import DataError

    base = {"id": "X1", "category": "capability", "text": "t", "source": "s"}
    for claim, message in (
        ({**base, "check": "no_such_check"}, "unknown check 'no_such_check'"),
        ({**base, "check": "not_in_data", "args": {"reasn": "typo"}}, "bad args for check 'not_in_data'"),
    ):
        path = tmp_path / "claims.yaml"
        path.write_text(yaml.safe_dump({"claims": [claim]}))
        with pytest.raises(DataError, match=message):
            load_claims(path)
