"""Speed, memory, context and architecture claim checks (claims C8-C13 of data/claims.yaml)."""

import pandas as pd
import pytest

from gentrend.claims import COMFORT_HEADROOM, PARTLY, speed
from gentrend.claims.ledger import ClaimContext, load_claims
from gentrend.core.errors import GentrendError
from gentrend.models.memory_model import UNVALIDATED, needed_gib


@pytest.fixture(scope="module")
def ctx(catalogue):
    return ClaimContext(scores=pd.DataFrame(), catalogue=catalogue)


EXPECTED = {  # verdicts the memory model, the roofline and the configs give (see the evidence strings)
    "C8": "not refuted",  # every speed is within the RTX 4080 roofline at some precision that fits: possible
    "C9": "not refuted",  # 4B + vision does not fit 8 GB at bf16; fits at 8-bit and 4-bit
    "C10": "not refuted",  # 9B fits 12 GB at 8/4-bit, and 16 GB with 10 % free at 8/4-bit
    "C11": "not refuted",  # memory ratio ~0.45 consistent; accuracy part not testable
    "C12": PARTLY,  # Qwen3.5 262K and the <=3B 32K models hold; Qwen2.5-7B and Qwen3-4B/8B are 128K with YaRN
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
    need = UNVALIDATED.need_gib(needed_gib(ctx.catalogue.get("qwen3.5-9b"), "bf16"))[1]
    tight = need / (1 - COMFORT_HEADROOM / 2)  # fits, with half the headroom "comfortably" asks for
    plain = speed.fits_in_memory(ctx, model="qwen3.5-9b", cards=[{"memory_gb": tight}], claimed_precision="bf16")
    comfortable = speed.fits_in_memory(
        ctx, model="qwen3.5-9b", cards=[{"memory_gb": tight, "comfortably": True}], claimed_precision="bf16"
    )
    assert plain.verdict == "not refuted" and comfortable.verdict == "refuted"
    assert "5% free" in comfortable.evidence and "with 10% free" in comfortable.evidence


def _validation_rows(ctx, error_pct):
    """Profiling rows whose memory validation gives `error_pct` (measured = predicted / (1 + error)), as a run
    that measured qwen3-0.6b on the CPU would publish them."""
    from gentrend.models.memory_model import GIB, estimate

    m = ctx.catalogue.get("qwen3-0.6b")
    e = estimate(m, "fp32", 136, 1, prefill_tokens=128)
    measured = e.total_bytes / GIB / (1 + error_pct / 100)
    point = {"model_id": m.id, "model": m.name, "generation": m.generation, "device": "cpu", "dtype": "fp32"}
    point |= {"batch_size": 1, "prompt_length": 128, "new_tokens": 8, "attn_implementation": "sdpa", "tiny": False}
    point |= {"status": "ok", "static_cache_len": float("nan"), "peak_memory_gib": measured + 0.5}
    point |= {"process_baseline_gib": 0.5, "runtime_memory_gib": 0.1, "weights_measured_gib": 1.0}
    return pd.DataFrame([point])


def test_needs_x_plus_is_read_as_at_least_x_and_the_measured_error_counts(ctx, monkeypatch):
    """C10's "needs 12 GB+": it must fit in 12 GB and not in 8 GB; a fit inside the memory model's measured
    error decides nothing (undecided), where the fixed allowance alone said "fits"."""
    claim = next(c for c in load_claims() if c["id"] == "C10")
    model = ctx.catalogue.get(claim["args"]["model"])
    int8 = needed_gib(model, "int8")
    headroom = 12 - UNVALIDATED.need_gib(int8)[1]
    assert headroom > 0  # with the unvalidated allowance the int8 weights fit 12 GB, by this much
    fixed = speed.fits_in_memory(ctx, **claim["args"])
    assert "needs at least 12 GB: not in 8 GB" in fixed.parts and "unvalidated" in fixed.evidence
    # a measured underprediction larger than the headroom makes int8-on-12-GB undecidable
    error = -100 * (1 - int8 / (int8 + 2 * headroom))  # measured = predicted / (1 + error): twice the headroom more
    monkeypatch.setattr(
        speed, "memory_validation", lambda rows, catalogue: pd.DataFrame({"error_pct": [error], "device": ["cpu"]})
    )
    measured = ctx.__class__(ctx.scores, ctx.catalogue, profiling=_validation_rows(ctx, error))
    twelve = speed.fits_in_memory(measured, model=model.id, cards=[{"memory_gb": 12}], claimed_precision="int8")
    assert (
        twelve.verdict == "not testable" and "undecided" in twelve.parts and "measured total error" in twelve.evidence
    )
    # "needs 12 GB+" fails where the model fits the next smaller size
    small = speed.fits_in_memory(ctx, model="qwen3-0.6b", cards=[{"memory_gb": 12, "at_least": True}])
    assert "needs at least 12 GB: not in 8 GB: fails" in small.parts and small.verdict == "refuted"


def test_quantized_ratio(ctx):
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=4, claimed_ratio=0.5).verdict == "not refuted"
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=4, claimed_ratio=0.25).verdict == "refuted"
    assert speed.quantized_memory_ratio(ctx, model="qwen3.5-9b", bits=3, claimed_ratio=0.4).verdict == "not testable"


def test_c12_models_that_differ_are_separate_parts(ctx):
    """The <=3B Qwen2.5/Qwen3 models state 32K and hold; those whose 128K needs YaRN are their own part."""
    claim = next(c for c in load_claims() if c["id"] == "C12")["args"]
    v = speed.context_length(ctx, **claim)
    for generation, tokens in claim["claimed"].items():
        models = ctx.catalogue.in_generation(generation)
        native = [m for m in models if m.id in claim["native"]]
        plain = [m for m in models if m.id not in claim["native"]]
        for group in (g for g in (plain, native) if g):
            label = f" ({', '.join(m.size_label for m in group)})" if native and plain else ""
            holds = all(m.context_length == tokens for m in group)
            assert f"Qwen{generation} {tokens:,} tokens{label}: {'holds' if holds else 'fails'}" in v.parts
    assert "Qwen3 32,768 tokens (0.6B, 1.7B): holds" in v.parts and "with YaRN, 32,768 native" in v.evidence


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
