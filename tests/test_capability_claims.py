"""Capability claim checks on the published scores (C1–C7 of data/claims.yaml) and on small fixtures."""

import pytest
import yaml

from gentrend.claim_checks import capability
from gentrend.claims import CHECKS, ClaimContext, load_claims


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
        assert verdict.verdict in {"supported", "partly supported", "refuted", "not testable"} and verdict.evidence


def test_c1_qwen3_base_pairs_are_comparable(verdicts):
    assert verdicts["C1"].verdict == "supported"
    assert "Qwen3-1.7B vs Qwen2.5-3B: median difference +0.6 points over 15 base benchmarks" in verdicts["C1"].evidence


def test_c2_only_the_small_size_classes_are_testable(verdicts):
    assert verdicts["C2"].verdict == "partly supported"
    assert "no shared non-thinking benchmarks in size classes 3–4B, 7–9B" in verdicts["C2"].evidence


def test_published_values(verdicts, ctx):
    assert verdicts["C4"].verdict == "supported"
    assert verdicts["C3"].verdict == "partly supported"  # 81.7 is published; the 80B comparison is not testable
    wrong = capability.published_value(ctx, "qwen3.5-9b", {"GPQA-Diamond": 85.0, "NoSuchBench": 1.0})
    assert wrong.verdict == "refuted" and "claimed 85, published 81.7" in wrong.evidence and "NoSuchBench" in wrong.evidence


def test_c6_not_in_data(verdicts):
    assert verdicts["C6"].verdict == "not testable"


def test_c7_effective_size_below_three_billion(verdicts, ctx):
    assert verdicts["C7"].verdict == "refuted"
    assert "Qwen3.5-2B ≈2.6B" in verdicts["C7"].evidence
    lower_target = capability.small_model_effective_size(ctx, ["qwen3.5-2b"], "3", 2e9, ["thinking"])
    assert lower_target.verdict == "supported"
    untestable = capability.small_model_effective_size(ctx, ["qwen3.5-2b"], "2.5", 3e9, ["thinking"])
    assert untestable.verdict == "not testable"


def test_claims_file_with_unknown_check_or_bad_args_fails_on_load(tmp_path):
    from gentrend.errors import DataError

    base = {"id": "X1", "category": "capability", "text": "t", "source": "s"}
    for claim, message in (({**base, "check": "no_such_check"}, "unknown check 'no_such_check'"),
                           ({**base, "check": "not_in_data", "args": {"reasn": "typo"}}, "bad args for check 'not_in_data'")):
        path = tmp_path / "claims.yaml"
        path.write_text(yaml.safe_dump({"claims": [claim]}))
        with pytest.raises(DataError, match=message):
            load_claims(path)
