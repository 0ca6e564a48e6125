"""The one verdict rule on constructed parts, then the capability claim checks on the published scores (C1–C7
of data/claims.yaml) and on small cases."""

import pytest
import yaml

from gentrend.analysis.density import density_rows, model_density
from gentrend.analysis.selection import select_scores
from gentrend.claims import (
    VERDICT_RULE,
    VERDICTS,
    argued,
    capability,
    overall_verdict,
    shown,
    untested_part,
    verdict_of,
)
from gentrend.claims.ledger import CHECKS, ClaimContext, load_claims


@pytest.mark.parametrize(
    "parts, expected",
    [
        ([untested_part("a", "no data"), untested_part("b", "no data")], "not testable"),
        ([shown("a", True, "published"), shown("b", True, "published")], "supported"),
        ([shown("a", True, "published"), shown("b", False, "published")], "partly supported"),
        ([shown("a", True, "published"), untested_part("b", "no data")], "partly supported"),
        ([shown("a", True, "published"), argued("b", True, "roofline")], "partly supported"),
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


def test_a_model_argument_never_supports_and_the_rule_names_every_verdict():
    assert argued("a", True, "within the roofline").outcome == "possible"
    assert overall_verdict(["possible"] * 3) == "not refuted"
    for label in VERDICTS:
        assert f"**{label}**" in VERDICT_RULE
    assert "at least 10%" in VERDICT_RULE  # the stated margin of "comfortably"


@pytest.fixture(scope="module")
def ctx(scores, catalogue):
    return ClaimContext(scores, catalogue)


@pytest.fixture(scope="module")
def verdicts(ctx):
    claims = [c for c in load_claims() if c["category"] == "capability"]
    return {c["id"]: CHECKS[c["check"]](ctx, **c.get("args", {})) for c in claims}


def test_every_capability_claim_gets_a_verdict_and_its_evidence(verdicts):
    assert sorted(verdicts) == [f"C{i}" for i in range(1, 8)]
    for verdict in verdicts.values():
        assert verdict.verdict in VERDICTS and verdict.evidence and verdict.parts


def test_c1_pairs_hold_and_the_rest_of_the_scale_is_untested(verdicts):
    assert verdicts["C1"].verdict == "partly supported"
    assert verdicts["C1"].parts.startswith("Qwen3-1.7B ≈ Qwen2.5-3B: holds; Qwen3-4B ≈ Qwen2.5-7B: holds")
    assert '"and so on up the scale": untested' in verdicts["C1"].parts
    assert "benchmark families" in verdicts["C1"].evidence


def test_c2_only_the_small_size_classes_are_testable(verdicts):
    assert verdicts["C2"].verdict == "partly supported"
    assert "3–4B: untested; 7–9B: untested" in verdicts["C2"].parts


def test_published_values(verdicts, ctx):
    assert verdicts["C4"].verdict == "supported"
    assert verdicts["C3"].verdict == "partly supported"  # 81.7 is published; the 80B comparison is not testable
    wrong = capability.published_value(ctx, "qwen3.5-9b", {"GPQA-Diamond": 85.0, "NoSuchBench": 1.0})
    assert (
        wrong.verdict == "refuted" and "published 81.7" in wrong.evidence and "NoSuchBench 1: untested" in wrong.parts
    )


def test_c6_not_in_data(verdicts):
    assert verdicts["C6"].verdict == "not testable"


def test_c7_quotes_the_density_table_and_judges_each_model(verdicts, ctx):
    claim = next(c for c in load_claims() if c["id"] == "C7")["args"]
    selected = select_scores(ctx.scores, claim["tracks"][0]).kept
    table = model_density(density_rows(selected, claim["reference"])).set_index("model_id")
    for model in claim["models"]:
        row = table.loc[model]
        assert f"effective size {row['effective_label']} (density {row['density_label']}" in verdicts["C7"].evidence
        reaches = row["effective_params"] >= claim["target_params"]
        assert (
            f"{ctx.catalogue.get(model).name}, {claim['tracks'][0]}: {'holds' if reaches else 'fails'}"
            in verdicts["C7"].parts
        )
    assert verdicts["C7"].verdict == "partly supported"  # Qwen3.5-2B reaches 3B on the Qwen2.5 curve, 0.8B does not
    lower_target = capability.small_model_effective_size(ctx, ["qwen3.5-2b"], "3", 2e9, ["thinking"])
    assert lower_target.verdict == "supported"
    untestable = capability.small_model_effective_size(ctx, ["qwen3.5-2b"], "2.5", 3e9, ["thinking"])
    assert untestable.verdict == "not testable"


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
