"""Decode roofline and the GPU table."""

import pytest

from gentrend.core.errors import GentrendError
from gentrend.models.roofline import (
    bytes_per_decode_step,
    decode_roofline_tokens_per_s,
    gpu,
    gpu_for_device_name,
    load_gpus,
    measure_bandwidth,
)


def test_roofline_by_hand(catalogue):
    m = catalogue.get("qwen3-0.6b")  # tied embeddings: every weight is read each step
    step = 596_049_920 * 2 + 1024 * 114_688
    assert bytes_per_decode_step(m, 1, 1024, "bf16") == step
    assert decode_roofline_tokens_per_s(m, 717e9, 1, 1024, "bf16") == pytest.approx(717e9 / step)
    # batch 4 reads the weights once and four caches
    assert decode_roofline_tokens_per_s(m, 717e9, 4, 1024, "bf16") == pytest.approx(
        4 * 717e9 / (596_049_920 * 2 + 4 * 1024 * 114_688)
    )


def test_untied_input_embedding_is_not_read_per_step(catalogue):
    m = catalogue.get("qwen2.5-7b")  # untied: vocab 152064 x hidden 3584 input embedding, one row per token
    assert bytes_per_decode_step(m, 1, 1, "bf16") == pytest.approx(
        (7_615_616_512 - 152_064 * 3_584) * 2 + 2 * 28 * 4 * 128 * 2
    )


def test_hybrid_model_reads_fixed_state(catalogue):
    m = catalogue.get("qwen3.5-0.8b")
    short, long = bytes_per_decode_step(m, 1, 0), bytes_per_decode_step(m, 1, 1000)
    assert long - short == 1000 * 12_288
    assert short > 752_393_024 * 2  # weights + the Gated DeltaNet state


def test_gpu_table():
    gpus = load_gpus()
    assert {
        "H100 SXM",
        "H100 PCIe",
        "H200",
        "A100 40GB",
        "A100 80GB",
        "L4",
        "L40S",
        "A10G",
        "RTX 3060",
        "RTX 3090",
        "RTX 4080",
        "RTX 4090",
        "RTX 5090",
        "T4",
        "V100",
    } <= {g.name for g in gpus}
    assert all(g.source and g.bandwidth_gb_s > 0 and g.memory_gib > 0 for g in gpus)
    assert abs(gpu("RTX 4080").bandwidth_gb_s - 256 / 8 * 22.4) < 1  # its datasheet: 256-bit GDDR6X at 22.4 Gbps
    assert gpu("NVIDIA GeForce RTX 4080").name == "RTX 4080"
    assert gpu_for_device_name("NVIDIA H100 80GB HBM3").name == "H100 SXM"
    assert gpu_for_device_name("NVIDIA H100 PCIe").name == "H100 PCIe"
    assert gpu_for_device_name("Some Unknown Accelerator") is None
    # whole-word matches only: an L40S is not an L4, a GH200 not an H200, a 3060 Ti not a 3060
    assert gpu_for_device_name("NVIDIA L40S").name == "L40S"
    assert gpu_for_device_name("NVIDIA L4").name == "L4"
    assert gpu_for_device_name("NVIDIA GH200 480GB") is None
    assert gpu_for_device_name("NVIDIA GeForce RTX 3060 Ti") is None


def test_unknown_gpu_lists_known_ones():
    with pytest.raises(GentrendError, match="RTX 4090"):
        gpu("Voodoo 5")


def test_bad_bandwidth(catalogue):
    with pytest.raises(GentrendError, match="bandwidth must be positive, got 0"):
        decode_roofline_tokens_per_s(catalogue.get("qwen3-0.6b"), 0)


def test_measure_bandwidth_on_cpu():
    test = measure_bandwidth("cpu", size_mib=8, samples=5)
    assert test["p10"] <= test["median"] <= test["p90"] and test["median"] > 1e8  # any machine copies > 100 MB/s
    assert test["samples"] == 5


def test_bandwidth_is_measured_once_per_run_and_device(tmp_path, monkeypatch):
    from gentrend.models import roofline

    calls = []
    monkeypatch.setattr(
        roofline, "measure_bandwidth", lambda d: calls.append(d) or {"median": 2e10, "p10": 1.8e10, "p90": 2.1e10}
    )
    store = tmp_path / "bandwidth_cpu.json"
    first = roofline.device_bandwidth("cpu", "Some CPU", store=store)
    again = roofline.device_bandwidth("cpu", "Some CPU", store=store)
    assert len(calls) == 1 and first == again
    assert first.datasheet is None and first.measured == 2e10 and "[18-21]" in first.measured_note
    roofline.device_bandwidth("cpu", "Another CPU", store=store)  # a different machine's record is not reused
    assert len(calls) == 2


def test_decode_regime_from_batch_scaling():
    import pandas as pd

    from gentrend.models.roofline import decode_regime, regime_text

    points = pd.DataFrame(
        {
            "model": ["A"] * 2 + ["B"] * 2 + ["C"],
            "backend": "eager",
            "dtype": "fp32",
            "device": "cpu",
            "status": "ok",
            "batch_size": [1, 2, 1, 2, 1],
            "prompt_length": 32,
            "decode_tokens_per_s": [10.0, 19.0, 10.0, 10.5, 7.0],
            "roofline_fraction": [0.6, 0.6, 0.5, 0.3, 0.5],
        }
    )
    regime = decode_regime(points).set_index("model")
    assert regime.loc["A", "regime"] == "bandwidth-bound" and regime.loc["B", "regime"] == "compute-bound"
    assert regime.loc["C", "regime"] == "one batch size"
    text = regime_text(regime.reset_index())
    assert "B (eager, fp32, cpu): batch 2 decoded 1.05x" in text and text.count("only an upper bound") == 1
    slow = decode_regime(points.assign(roofline_fraction=0.02)).set_index("model")  # scales, far below the roofline
    assert slow.loc["A", "regime"] == "overhead-bound" and "fixed cost per step" in regime_text(slow.reset_index())
