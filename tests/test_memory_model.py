"""The analytical memory model against hand-computed facts from the official configs."""

import pandas as pd
import pytest

from gentrend.core.errors import GentrendError
from gentrend.core.vocab import precision_name
from gentrend.models.architecture import describe
from gentrend.models.memory_model import (
    COMPONENTS,
    DEFAULT_OVERHEAD_GIB,
    ERROR_COLUMNS,
    GIB,
    PREFILL_CHUNK_TOKENS,
    UNVALIDATED,
    WITHIN_ERROR,
    activation_bytes,
    component_errors,
    error_by_component,
    estimate,
    fit_status,
    fits,
    fits_table,
    measured_margin,
    memory_curve,
    needed_gib,
    stored_bits,
    weights_bytes,
)

# 2 (K and V) x full-attention layers x KV heads x head_dim x 2 bytes (bf16), from data/configs:
KV_BF16 = {
    "qwen2.5-0.5b": 2 * 24 * 2 * 64 * 2,  # 24 layers, 2 KV heads, head_dim 896/14 = 64 -> 12,288
    "qwen3-0.6b": 2 * 28 * 8 * 128 * 2,  # 28 layers, 8 KV heads, head_dim 128 -> 114,688
    "qwen3.5-0.8b": 2 * 6 * 2 * 256 * 2,  # 6 of 24 layers are full attention, 2 KV heads, head_dim 256 -> 12,288
}


@pytest.mark.parametrize("model_id, expected", KV_BF16.items())
def test_kv_cache_bytes_per_token(catalogue, model_id, expected):
    assert describe(catalogue.get(model_id), "bf16").kv_cache_bytes_per_token == expected
    assert describe(catalogue.get(model_id), "fp32").kv_cache_bytes_per_token == 2 * expected


def test_linear_attention_state_of_qwen35(catalogue):
    # 18 Gated DeltaNet layers; recurrent state 16 value heads x 128 x 128 in fp32 (transformers keeps it fp32);
    # conv state (2 x 16 x 128 + 16 x 128) channels x kernel 4 in the model dtype
    recurrent = 16 * 128 * 128 * 4
    conv_bf16 = (2 * 2048 + 2048) * 4 * 2
    assert describe(catalogue.get("qwen3.5-0.8b"), "bf16").linear_state_bytes == 18 * (recurrent + conv_bf16)
    assert describe(catalogue.get("qwen3-0.6b")).linear_state_bytes == 0


def test_weights_from_parameter_counts(catalogue):
    m = catalogue.get("qwen3-0.6b")
    assert weights_bytes(m, "bf16") == 596_049_920 * 2
    assert weights_bytes(m, "fp32") == 596_049_920 * 4
    embedding = m.params.total - m.params.non_embedding  # kept in bf16 when quantized
    int4_bits = 4 + (16 + 4) / 128  # 4-bit weights + an fp16 scale and a 4-bit zero point per group of 128
    assert stored_bits("int4") == int4_bits
    assert weights_bytes(m, "int4") == pytest.approx(embedding * 2 + m.params.non_embedding * int4_bits / 8)
    assert weights_bytes(m, "int4") < weights_bytes(m, "int8") < weights_bytes(m, "bf16")
    with_vision = catalogue.get("qwen3.5-4b")
    assert (
        weights_bytes(with_vision, "bf16", include_vision=True) - weights_bytes(with_vision, "bf16") == 333_514_240 * 2
    )


def test_estimate_components_scale_with_context_and_batch(catalogue):
    m = catalogue.get("qwen3-0.6b")
    a, b = estimate(m, "bf16", 1000, 1), estimate(m, "bf16", 2000, 2)
    assert b.kv_cache_bytes == 4 * a.kv_cache_bytes == 4 * 1000 * 114_688
    assert a.total_bytes == pytest.approx(
        a.weights_bytes + a.kv_cache_bytes + a.linear_state_bytes + a.activation_bytes
    )
    hybrid = estimate(catalogue.get("qwen3.5-0.8b"), "bf16", 1000, 3)
    assert hybrid.linear_state_bytes == 3 * describe(catalogue.get("qwen3.5-0.8b")).linear_state_bytes


def test_chunked_prefill_activations_by_hand(catalogue):
    # qwen3-0.6b (data/configs): hidden 1024, intermediate 3072, 16 query + 2 x 8 KV heads of 128, vocab 151,936.
    # Per token in the forward: 4 x 1024 + 3 x 3072 + 32 x 128 = 17,408 values of 2 bytes (bf16); logits 2 x vocab fp32.
    m = catalogue.get("qwen3-0.6b")
    per_token, logits = 17_408 * 2, 2 * 151_936 * 4
    chunked = estimate(m, "bf16", 8192, prefill_chunk=PREFILL_CHUNK_TOKENS)  # the serving view
    assert chunked.prefill_chunk == PREFILL_CHUNK_TOKENS < 8192  # the prompt is longer than a chunk
    assert chunked.activation_bytes == PREFILL_CHUNK_TOKENS * per_token + logits
    assert estimate(m, "bf16", 8192).activation_bytes == 8192 * per_token + logits  # generate(): one forward
    short = estimate(m, "bf16", 1000, prefill_chunk=PREFILL_CHUNK_TOKENS)  # a prompt shorter than a chunk
    assert short.activation_bytes == 1000 * per_token + logits
    # eager attention holds the chunk's scores against everything prefilled so far: heads x chunk x context x 2 x 2 B
    eager = estimate(m, "bf16", 8192, prefill_chunk=PREFILL_CHUNK_TOKENS, attn_implementation="eager")
    assert eager.activation_bytes == 2048 * per_token + logits + 16 * 2048 * 8192 * 2 * 2
    arch = describe(m, "bf16")
    assert activation_bytes(arch, 1, 2048, "bf16", attended=8192) == chunked.activation_bytes
    with pytest.raises(GentrendError, match="prefill_chunk must be >= 1 or None, got 0"):
        estimate(m, "bf16", 8192, prefill_chunk=0)


def test_kv_state_apart_from_activations_at_long_context(catalogue):
    for m in catalogue.smallest_per_generation() + [catalogue.get("qwen3.5-9b")]:
        e = estimate(m, "bf16", m.context_length, prefill_chunk=PREFILL_CHUNK_TOKENS)
        assert e.kv_state_bytes == e.kv_cache_bytes + e.linear_state_bytes
        assert e.runtime_bytes == e.kv_state_bytes + e.activation_bytes
        assert e.activation_bytes < e.kv_state_bytes  # a chunked prefill never holds the whole prompt's intermediates
        row = memory_curve([m], "bf16", contexts=[m.context_length]).iloc[0]  # the curves are chunked too
        assert (
            row["kv_state_gib"] == pytest.approx(e.kv_state_bytes / GIB)
            and row["prefill_chunk"] == PREFILL_CHUNK_TOKENS
        )
        assert row["activation_gib"] == pytest.approx(e.activation_bytes / GIB)


def test_component_errors_per_component(catalogue):
    e = estimate(catalogue.get("qwen3-0.6b"), "fp32", 4096)
    measured = {
        "weights": e.weights_bytes / GIB,
        "kv_state": e.kv_state_bytes / GIB,
        "activations": 2 * e.activation_bytes / GIB,
    }
    rows = {r["component"]: r for r in component_errors(e, measured)}
    assert list(rows) == ["weights", "kv_state", "activations"]  # only what was measured, in COMPONENTS order
    assert rows["weights"]["error_pct"] == 0 and rows["kv_state"]["error_gib"] == 0
    assert rows["activations"]["error_pct"] == pytest.approx(-50.0)


def test_memory_curve_reaches_each_models_max_context(catalogue):
    models = catalogue.smallest_per_generation()
    curve = memory_curve(models)
    for m in models:
        rows = curve[curve["model_id"] == m.id]
        assert rows["context"].max() == m.context_length
        assert rows["total_gib"].is_monotonic_increasing


def test_fits_table_logic(catalogue):
    table = fits_table(catalogue, context=4096)
    assert set(table["precision"]) == {"bf16", "int8", "int4"}
    assert {"8 GB", "12 GB", "16 GB", "24 GB", "48 GB", "80 GB"} <= set(table.columns)
    nine = table[(table["model_id"] == "qwen3.5-9b") & (table["precision"] == "bf16")].iloc[0]
    assert nine["weights_gib"] == pytest.approx(8_953_803_264 * 2 / GIB)  # 16.7 GiB
    assert (nine["8 GB"], nine["16 GB"], nine["24 GB"]) == ("no", "no", "yes")
    assert (table["margin"] == UNVALIDATED.basis).all() and "unvalidated" in UNVALIDATED.basis  # nothing measured
    assert (table["needed_low_gib"] == table["predicted_gib"] + DEFAULT_OVERHEAD_GIB).all()
    for _, row in table.iterrows():  # a model that fits a size fits every larger size
        answers = [row[f"{s} GB"] for s in (8, 12, 16, 24, 48, 80)]
        assert answers == sorted(answers)  # "no" < "yes"
    status, need = fits(catalogue.get("qwen3-0.6b"), 8, "bf16")
    assert status == "yes" and need[1] < 8


def test_the_fit_margin_is_the_measured_error(catalogue):
    """A measured error range widens the need around the prediction; a card inside it is 'within error'."""
    validation = pd.DataFrame({"error_pct": [-20.0, -5.0, 10.0], "device": ["cpu"] * 3})
    margin = measured_margin(validation)
    assert margin.validated and "-20.0 % to +10.0 %" in margin.basis and "3 points on cpu" in margin.basis
    low, high = margin.need_gib(10.0)
    context = DEFAULT_OVERHEAD_GIB  # the CUDA context: in no measurement here, so still a stated allowance
    assert "CUDA context" in margin.basis and "unvalidated" in margin.basis
    assert low == pytest.approx(10 / 1.1 + context) and high == pytest.approx(10 / 0.8 + context)  # m = p / (1 + e)
    assert [fit_status((low, high), size) for size in (9, 11, 13)] == ["no", WITHIN_ERROR, "yes"]
    assert measured_margin(pd.DataFrame()) is UNVALIDATED
    model = catalogue.get("qwen3.5-9b")
    predicted = needed_gib(model, "int8")
    table = fits_table([model], memory_sizes_gb=[int(predicted) + 1], precisions=["int8"], margin=margin).iloc[0]
    assert (table["needed_low_gib"], table["needed_gib"]) == pytest.approx(margin.need_gib(predicted))
    assert table[f"{int(predicted) + 1} GB"] == fit_status(margin.need_gib(predicted), int(predicted) + 1)
    assert table["margin"] == margin.basis


def test_precision_names():
    assert precision_name("bfloat16") == "bf16" and precision_name("torch.float32") == "fp32"
    with pytest.raises(GentrendError, match="unknown precision 'int3'"):
        precision_name("int3")
    with pytest.raises(GentrendError, match="unknown precision 'auto'"):
        estimate(None, "auto")  # "auto" needs a device: the memory model never guesses it


def test_error_by_component_has_a_row_per_point_and_component(catalogue):
    """Measured components get their error; those measured only inside the runtime get their prediction."""
    e = estimate(catalogue.get("qwen3-0.6b"), "fp32", 136, prefill_tokens=128)
    predicted = {c: v / GIB for c, v in zip(COMPONENTS, (e.weights_bytes, e.kv_state_bytes, e.activation_bytes))}
    predicted |= {"runtime": e.runtime_bytes / GIB, "total": e.total_bytes / GIB}
    validation = pd.DataFrame(
        [
            {
                "model": "Qwen3-0.6B",
                "device": "cpu",
                "dtype": "fp32",
                "batch_size": 1,
                "prompt_length": 128,
                "measured_as": "peak RSS - RSS before load",
                **{f"{c}_predicted_gib": v for c, v in predicted.items()},
                "weights_measured_gib": predicted["weights"] * 1.01,
                "runtime_measured_gib": predicted["runtime"] * 2,
                "total_measured_gib": predicted["total"] * 1.1,
            }
        ]
    )
    table = error_by_component(validation).set_index("component")
    assert list(table.columns) == ERROR_COLUMNS[:4] + ERROR_COLUMNS[5:] and len(table) == len(COMPONENTS)
    assert table.loc["weights", "error %"] == pytest.approx(100 * (1 / 1.01 - 1))
    assert table.loc["runtime (cache + activations)", "error %"] == pytest.approx(-50)
    assert table.loc["total", "error GiB"] == pytest.approx(predicted["total"] * (1 - 1.1))
    apart = table.loc[["KV cache + state", "activations"]]
    assert apart["error %"].isna().all() and (apart["measured as"] == "inside the runtime, not apart").all()
    assert (table["point (batch × prompt)"] == "1 × 128").all()
