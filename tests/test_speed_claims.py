"""Speed, memory, context and architecture claim checks (claims C8-C13 of data/claims.yaml)."""

import pandas as pd
import pytest

from gentrend.claims import COMFORT_HEADROOM, speed
from gentrend.claims.ledger import ClaimContext, load_claims
from gentrend.core.errors import GentrendError
from gentrend.models.memory_model import needed_gib


@pytest.fixture(scope="module")
def ctx(catalogue):
    return ClaimContext(scores=pd.DataFrame(), catalogue=catalogue)


EXPECTED = {  # verdicts the memory model, the roofline and the configs give (see the evidence strings)
    "C8": "not refuted",  # every speed is within the RTX 4080 roofline at some precision that fits: possible
    "C9": "not refuted",  # 4B + vision does not fit 8 GB at bf16; fits at 8-bit and 4-bit
    "C10": "not refuted",  # 9B fits 12 GB at 8/4-bit, and 16 GB with 10 % free at 8/4-bit
    "C11": "not refuted",  # memory ratio ~0.45 consistent; accuracy part not testable
    "C12": "partly supported",  # Qwen3.5 262K yes; Qwen2.5-7B and Qwen3-4B/8B are 128K, not 32K
    "C13": "supported",  # no MoE fields; 3 Gated DeltaNet : 1 attention
}


@pytest.mark.parametrize("claim_id, expected", EXPECTED.items())
def test_claims_c8_to_c13(ctx, claim_id, expected):
    from gentrend.claims.ledger import CHECKS

    claim = next(c for c in load_claims() if c["id"] == claim_id)
    verdict = CHECKS[claim["check"]](ctx, **claim.get("args", {}))
    assert verdict.verdict == expected, verdict.evidence
    assert verdict.evidence and verdict.based_on


def test_speed_above_roofline_at_every_precision_is_refuted(ctx):
    v = speed.decode_speed_within_roofline(ctx, gpu="RTX 4080", claimed_tokens_per_s={"qwen3-0.6b": 5000})
    assert v.verdict == "refuted" and "impossible at every precision" in v.evidence


def test_speed_well_inside_roofline_is_possible_not_measured(ctx):
    v = speed.decode_speed_within_roofline(ctx, gpu="H100 SXM", claimed_tokens_per_s={"qwen3-0.6b": 100})
    assert v.verdict == "not refuted" and "not a measurement" in v.evidence  # a roofline cannot support


def test_unknown_gpu(ctx):
    with pytest.raises(GentrendError, match="RTX 4080"):
        speed.decode_speed_within_roofline(ctx, gpu="GTX 9999", claimed_tokens_per_s={"qwen3-0.6b": 1})


def test_fits_in_memory(ctx):
    assert speed.fits_in_memory(ctx, model="qwen3-0.6b", cards=[{"memory_gb": 8}]).verdict == "not refuted"
    assert (
        speed.fits_in_memory(ctx, model="qwen3.5-9b", cards=[{"memory_gb": 8}], precisions=["bf16"]).verdict
        == "refuted"
    )
    assert (
        speed.fits_in_memory(ctx, model="qwen3.5-9b", cards=[{"memory_gb": 80}], claimed_precision="bf16").verdict
        == "not refuted"
    )


def test_comfortably_needs_the_stated_headroom(ctx):
    need = needed_gib(ctx.catalogue.get("qwen3.5-9b"), "bf16")
    tight = need / (1 - COMFORT_HEADROOM / 2)  # fits, with half the headroom "comfortably" asks for
    plain = speed.fits_in_memory(ctx, model="qwen3.5-9b", cards=[{"memory_gb": tight}], claimed_precision="bf16")
    comfortable = speed.fits_in_memory(
        ctx, model="qwen3.5-9b", cards=[{"memory_gb": tight, "comfortably": True}], claimed_precision="bf16"
    )
    assert plain.verdict == "not refuted" and comfortable.verdict == "refuted"
    assert "5% free" in comfortable.evidence and "with 10% free" in comfortable.evidence


def test_quantized_ratio(ctx):
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=4, claimed_ratio=0.5).verdict == "not refuted"
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=4, claimed_ratio=0.25).verdict == "refuted"
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=3, claimed_ratio=0.4).verdict == "not testable"


def test_context_length(ctx):
    assert speed.context_length(ctx, claimed={"3.5": 262144}).verdict == "supported"
    assert speed.context_length(ctx, claimed={"3.5": 32768}).verdict == "refuted"  # the "one review says 32K"


def test_a_measurement_on_the_claimed_gpu_decides_the_speed_part(ctx, monkeypatch):
    """Only a measurement can support: a run on the claim's own card turns 'possible' into holds / fails."""
    claimed = {"qwen3.5-0.8b": 250.0}
    argued_only = speed.decode_speed_within_roofline(ctx, gpu="RTX 4080", claimed_tokens_per_s=claimed)
    assert argued_only.verdict == "not refuted"

    def points(measured_tps, device="NVIDIA GeForce RTX 4080"):
        return pd.DataFrame(
            [
                {
                    "model_id": "qwen3.5-0.8b",
                    "model": "Qwen3.5-0.8B",
                    "device_name": device,
                    "dtype": "bf16",
                    "decode_tokens_per_s": measured_tps,
                    "prompt_length": 128,
                    "batch_size": 1,
                    "status": "ok",
                    "roofline_fraction": 0.5,
                    "peak_memory_gib": 1.7,
                    "weights": "synthetic",
                    "device": "cuda",
                    "linear_attention_kernels": "fast",
                }
            ]
        )

    for measured_tps, verdict in ((240.0, "supported"), (120.0, "refuted")):
        monkeypatch.setattr(speed, "_points", lambda ctx, tps=measured_tps: points(tps))
        v = speed.decode_speed_within_roofline(ctx, gpu="RTX 4080", claimed_tokens_per_s=claimed)
        assert (
            v.verdict == verdict
            and f"measured here on a NVIDIA GeForce RTX 4080: {measured_tps:.1f} tok/s" in v.evidence
        )
    monkeypatch.setattr(speed, "_points", lambda ctx: points(240.0, "NVIDIA H100 80GB HBM3"))  # another card: argued
    assert (
        speed.decode_speed_within_roofline(ctx, gpu="RTX 4080", claimed_tokens_per_s=claimed).verdict == "not refuted"
    )
