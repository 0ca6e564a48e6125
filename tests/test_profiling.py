"""The profiler on the CPU with tiny architectures: end to end, OOM handling, errors, caching, settings."""

import socket

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from gentrend.core import environment as env_module
from gentrend.core.errors import SettingError
from gentrend.models.catalogue import load_catalogue
from gentrend.models.memory_model import memory_curve
from gentrend.plots.profiling import latency_vs_batch, measured_vs_roofline, memory_vs_context, speed_vs_size
from gentrend.profiling import (
    ProfileSettings,
    ProfileSettingsError,
    defaults_for,
    is_oom,
    load_run_results,
    measure,
    memory_validation,
    profile,
    save_results,
    summary_table,
    wide,
)

FAST = dict(batch_sizes=(1, 2), prompt_lengths=(8,), new_tokens=4, warmup=0, min_runs=2, max_runs=2, device="cpu")


@pytest.fixture
def counted(monkeypatch):
    """Count measure_point calls; optionally fail at chosen (batch, prompt) points."""
    real = measure.measure_point
    state = {"calls": [], "fail": {}}

    def wrapper(loaded, settings, batch, prompt, runner=None, probe=None):
        state["calls"].append((batch, prompt))
        if (batch, prompt) in state["fail"]:
            raise state["fail"][(batch, prompt)]
        return real(loaded, settings, batch, prompt, runner=runner, probe=probe)

    monkeypatch.setattr(measure, "measure_point", wrapper)
    return state


def test_cpu_end_to_end(tmp_path, counted):
    rows = profile("qwen3-0.6b", settings=ProfileSettings(**FAST), tiny=True, cache_dir=tmp_path, progress=False)
    assert counted["calls"] == [(1, 8), (2, 8)]
    assert not rows["from_cache"].any()
    assert set(rows["weights"]) == {"synthetic"} and rows["tiny"].all()
    for column in (
        "device",
        "device_name",
        "torch",
        "transformers",
        "cpu_model",
        "dtype",
        "attn_implementation",
        "linear_attention_kernels",
        "settings_json",
        "env_fingerprint",
        "measured_at",
    ):
        assert rows[column].notna().all(), column
    assert set(rows["host"]) == {socket.gethostname()} and set(rows["gpu_index"]) == {""}  # the node, on the CPU
    points = wide(rows)
    assert list(zip(points["batch_size"], points["prompt_length"])) == [(1, 8), (2, 8)]
    assert (points["status"] == "ok").all()
    assert (points["n_runs"] if "n_runs" in points else rows.loc[rows["metric"] == "e2e_s", "n_runs"]).ge(2).all()
    assert (points["ttft_s"] < points["e2e_s"]).all()
    assert (points["decode_tokens_per_s"] > 0).all() and (points["roofline_fraction"] > 0).all()
    assert (points["peak_memory_gib"] > 0).all() and set(rows.loc[rows["metric"] == "peak_memory_gib", "unit"]) == {
        "GiB"
    }
    model_metrics = set(rows.loc[rows["scope"] == "model", "metric"])
    assert {
        "load_s",
        "weights_gib",
        "weights_measured_gib",
        "memory_bandwidth_gb_s",
        "process_baseline_gib",
    } <= model_metrics

    # the run-folder round trip and the tables and charts built on it
    save_results(rows, "qwen3-0.6b", tmp_path / "run")
    gathered = load_run_results(tmp_path / "run")
    assert len(gathered) == len(rows) and set(gathered["gpu_index"]) == {""}
    summary = summary_table(gathered)
    # the node a row ran on splits no group: one point measured on another host and GPU changes no table
    elsewhere = gathered.assign(
        host=np.where(gathered["batch_size"] == 2, "another-node", gathered["host"]),
        gpu_index=np.where(gathered["batch_size"] == 2, "3", gathered["gpu_index"]),
    )
    pd.testing.assert_frame_equal(wide(elsewhere), wide(gathered))
    pd.testing.assert_frame_equal(summary_table(elsewhere), summary)
    assert summary.iloc[0]["points ok/oom/error"] == "2/0/0" and "(tiny)" in summary.iloc[0]["weights"]
    first = summary.iloc[0]  # numbers as numbers beside the display columns (page one reads these)
    assert first["device_type"] == "cpu" and first["torch_threads"] >= 1
    assert first["decode_tokens_per_s_p10"] <= first["decode_tokens_per_s"] <= first["decode_tokens_per_s_p90"]
    validation = memory_validation(gathered)
    assert len(validation) == 2 and (validation["total_predicted_gib"] > 0).all()
    w = wide(gathered)
    curve = memory_curve([load_catalogue().get("qwen3-0.6b")], "fp32", tiny=True)
    for fig in (
        latency_vs_batch(w, "t"),
        speed_vs_size(w, "t"),
        measured_vs_roofline(w, "t"),
        memory_vs_context(curve, "t", validation),
    ):
        assert "GiB" in fig.texts[-1].get_text()
        matplotlib.pyplot.close(fig)


def test_hybrid_model_records_its_kernel_path(tmp_path):
    from transformers.utils.import_utils import is_causal_conv1d_available, is_flash_linear_attention_available

    settings = ProfileSettings(**{**FAST, "batch_sizes": (1,)})
    rows = profile("qwen3.5-0.8b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    fast = is_flash_linear_attention_available() and is_causal_conv1d_available()
    assert set(rows["linear_attention_kernels"]) == {"fast" if fast else "torch-fallback"}
    assert rows["kernel_fallback"].all() == (not fast)
    assert "FALLBACK" in summary_table(rows).iloc[0]["kernel path"] or fast


def test_oom_point_is_recorded_and_the_sweep_goes_on(tmp_path, counted):
    counted["fail"][(2, 8)] = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
    settings = ProfileSettings(**{**FAST, "batch_sizes": (1, 2, 4)})
    partial = tmp_path / "partial.csv"
    rows = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False, partial_path=partial)
    assert counted["calls"] == [(1, 8), (2, 8), (4, 8)]  # the point after the OOM still ran
    points = wide(rows).set_index("batch_size")
    assert points.loc[1, "status"] == "ok" and points.loc[1, "decode_tokens_per_s"] > 0  # kept
    assert points.loc[2, "status"] == "oom" and "OutOfMemoryError" in points.loc[2, "error"]
    assert pd.isna(points.loc[2, "decode_tokens_per_s"])
    assert points.loc[4, "status"] == "ok"
    failed = rows[(rows["scope"] == "point") & (rows["batch_size"] == 2)]
    assert list(failed["metric"]) == ["status"]  # one row for the failed point
    assert set(pd.read_csv(partial)["batch_size"].dropna()) == {1, 2, 4}  # written point by point
    assert summary_table(rows).iloc[0]["points ok/oom/error"] == "2/1/0"


def test_other_failures_become_error_rows(tmp_path, counted):
    counted["fail"][(1, 8)] = ValueError("something broke")
    rows = profile("qwen3-0.6b", settings=ProfileSettings(**FAST), tiny=True, cache_dir=tmp_path, progress=False)
    points = wide(rows).set_index("batch_size")
    assert points.loc[1, "status"] == "error" and "something broke" in points.loc[1, "error"]
    assert points.loc[2, "status"] == "ok"


def test_cpu_allocator_failure_counts_as_oom():
    assert is_oom(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert not is_oom(RuntimeError("shape mismatch"))


def test_results_are_cached_unless_forced(tmp_path, counted):
    settings = ProfileSettings(**{**FAST, "batch_sizes": (1,)})
    first = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert len(counted["calls"]) == 1
    again = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert len(counted["calls"]) == 1 and again["from_cache"].all()
    pd.testing.assert_frame_equal(
        first.drop(columns=["from_cache", "age_days"]),
        again.drop(columns=["from_cache", "age_days"]),
        check_dtype=False,
    )
    profile("qwen3-0.6b", settings=settings.replace(new_tokens=5), tiny=True, cache_dir=tmp_path, progress=False)
    assert len(counted["calls"]) == 2  # other settings: measured
    forced = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False, force=True)
    assert len(counted["calls"]) == 3 and not forced["from_cache"].any()


@pytest.fixture
def fresh_environment():
    """environment() looked up anew in the test, and again after it (it is cached per device)."""
    env_module.environment.cache_clear()
    yield
    env_module.environment.cache_clear()


def test_the_node_is_in_no_key_a_rerun_on_another_host_reuses_the_measurement(tmp_path, monkeypatch, fresh_environment):
    here, env = socket.gethostname(), env_module.environment("cpu")
    assert env_module.fingerprint({**env, "host": "another-node", "gpu_index": "3"}) == env_module.fingerprint(env)
    assert env_module.fingerprint({**env, "device_name": "another CPU"}) != env_module.fingerprint(env)
    settings = ProfileSettings(**{**FAST, "batch_sizes": (1,)})
    first = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    monkeypatch.setattr(socket, "gethostname", lambda: "another-node")
    env_module.environment.cache_clear()
    assert env_module.environment("cpu")["host"] == "another-node"
    again = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert again["from_cache"].all()  # the same hardware and software: reused, and it names where it was measured
    assert set(again["host"]) == set(first["host"]) == {here}


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(batch_sizes=(0, 1)), "batch_sizes"),
        (dict(batch_sizes=(-2,)), "batch_sizes"),
        (dict(prompt_lengths=()), "prompt_lengths"),
        (dict(new_tokens=1), "new_tokens"),
        (dict(backend="vllm"), "backend"),
        (dict(dtype="int3"), "unknown precision 'int3'"),
        (dict(min_runs=5, max_runs=2), "repetition"),
        (dict(device="tpu"), "device"),
    ],
)
def test_settings_validation(bad, match):
    with pytest.raises(SettingError, match=match):
        ProfileSettings(**bad)


def test_defaults_per_device():
    cpu = defaults_for("cpu")
    assert cpu.batch_sizes == (1, 2) and cpu.backend == "eager"
    assert defaults_for("cuda").new_tokens > cpu.new_tokens
    # a notebook's None parameters keep the defaults, given ones override; an empty grid is no default
    assert defaults_for("cpu", batch_sizes=None, prompt_lengths=None, new_tokens=None, backend=None) == cpu
    assert defaults_for("cpu", batch_sizes=[4], new_tokens=8).batch_sizes == (4,)
    with pytest.raises(ProfileSettingsError, match="batch_sizes is empty"):
        defaults_for("cpu", batch_sizes=[])
    with pytest.raises(ProfileSettingsError, match="new_tokens must be an integer >= 2, got 0"):
        defaults_for("cpu", new_tokens=0)
    with pytest.raises(ProfileSettingsError, match="unknown backend 'fast'"):
        defaults_for("cpu", backend="fast")


def test_the_kernel_probe_is_outside_the_memory_window(monkeypatch):
    """The torch.profiler run that names the SDPA kernel keeps host memory of its own: it must not be counted as
    the model's. A stand-in probe that holds 256 MiB while it runs leaves the point's measured runtime below it."""
    from gentrend.models.loading import load_model
    from gentrend.profiling import backends

    held = 256 * 2**20
    monkeypatch.setattr(measure, "attention_kernels", lambda run: len(bytearray(held)) and "probe")
    loaded = load_model(load_catalogue().get("qwen3-0.6b"), "synthetic", device="cpu", dtype="fp32", tiny=True)
    settings = ProfileSettings(**FAST)
    runner = backends.make_runner(loaded, settings, 1)
    metrics = measure.measure_point(loaded, settings, 1, 8, runner=runner)
    assert runner.sdpa == "probe"  # the probe ran, once, for this runner
    assert metrics["runtime_memory_gib"]["value"] < held / 2**30 / 2


def test_a_profile_run_by_hand_finds_what_the_report_measured(tmp_path):
    """The notebook's defaults ("auto" device and dtype) and the runner's resolved values key the same entry."""
    from gentrend.profiling import defaults_for, profile

    resolved = defaults_for("cpu", batch_sizes=[1], prompt_lengths=[8], new_tokens=2, dtype="fp32")
    by_hand = defaults_for("auto", batch_sizes=[1], prompt_lengths=[8], new_tokens=2)
    first = profile("qwen2.5-0.5b", settings=resolved, tiny=True, cache_dir=tmp_path, progress=False)
    again = profile("qwen2.5-0.5b", settings=by_hand, tiny=True, cache_dir=tmp_path, progress=False)
    assert not first["from_cache"].any() and again["from_cache"].all()
