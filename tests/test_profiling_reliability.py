"""Nothing wrong reaches a report from the profiler's side (issue 8): a per-device lock and a busy note, cache
entries checked on read, interrupted sweeps resumed, a read-only cache survived, partial files never read as
finished profiles."""

import warnings

import pandas as pd
import pytest
import torch
from filelock import Timeout

from gentrend.profiling import (
    CacheWarning,
    ProfileSettings,
    cache,
    guard,
    load_run_results,
    measure,
    profile,
    save_results,
    wide,
)
from gentrend.profiling.results import partial_results_path

FAST = dict(batch_sizes=(1, 2), prompt_lengths=(8,), new_tokens=4, warmup=0, min_runs=1, max_runs=1, device="cpu")


@pytest.fixture
def counted(monkeypatch):
    real = measure.measure_point
    state = {"calls": [], "interrupt_at": None}

    def wrapper(loaded, settings, batch, prompt, runner=None, probe=None):
        if (batch, prompt) == state["interrupt_at"]:
            raise KeyboardInterrupt
        state["calls"].append((batch, prompt))
        return real(loaded, settings, batch, prompt, runner=runner, probe=probe)

    monkeypatch.setattr(measure, "measure_point", wrapper)
    return state


def _profile(tmp_path, **kwargs):
    return profile(
        "qwen3-0.6b", settings=ProfileSettings(**FAST), tiny=True, cache_dir=tmp_path, progress=False, **kwargs
    )


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["cut", "garbage", "no record"])
def test_a_damaged_cache_entry_is_reported_and_measured_again(tmp_path, counted, damage):
    _profile(tmp_path)
    (entry,) = (tmp_path / "profiling").glob("*.csv")
    text = entry.read_text()
    if damage == "cut":  # at a line boundary: a well-formed CSV with fewer points
        entry.write_text("\n".join(text.splitlines()[: len(text.splitlines()) // 2]) + "\n")
    elif damage == "garbage":
        entry.write_text("garbage,\x00\nnot a profile\n")
    else:
        entry.with_suffix(".json").unlink()
    with pytest.warns(CacheWarning, match=f"cache entry {entry} is damaged .*: re-measuring"):
        rows = _profile(tmp_path)
    assert len(counted["calls"]) == 4 and not rows["from_cache"].any()  # measured twice, never reused
    assert set(wide(rows)["batch_size"]) == {1, 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert _profile(tmp_path)["from_cache"].all()  # the re-measured entry is sound


@pytest.mark.slow
def test_points_measured_before_an_interrupt_are_reused(tmp_path, counted):
    counted["interrupt_at"] = (2, 8)
    run_partial = tmp_path / "run" / "results" / "partial" / "profile_qwen3-0.6b.csv"
    with pytest.raises(KeyboardInterrupt):
        _profile(tmp_path, partial_path=run_partial)
    assert counted["calls"] == [(1, 8)]
    assert set(pd.read_csv(run_partial)["batch_size"].dropna()) == {1}  # kept in the run folder, point by point
    assert load_run_results(tmp_path / "run").empty  # ... and never read as a finished profile
    counted["interrupt_at"] = None
    rows = _profile(tmp_path)
    assert counted["calls"] == [(1, 8), (2, 8)]  # only the missing point was measured
    points = wide(rows)
    assert list(points["batch_size"]) == [1, 2] and (points["status"] == "ok").all()
    assert not list((tmp_path / "profiling" / "partial").glob("*.csv"))  # checkpoint dropped once complete
    save_results(rows, "qwen3-0.6b", tmp_path / "run")
    assert not partial_results_path("qwen3-0.6b", tmp_path / "run").exists()
    assert len(load_run_results(tmp_path / "run")) == len(rows)


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_costs_one_warning_not_the_rows(tmp_path, counted):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with pytest.warns(CacheWarning) as caught:
        rows = _profile(blocked)
    assert len(caught) == 1 and "profiling cache not written" in str(caught[0].message)
    assert counted["calls"] == [(1, 8), (2, 8)] and (wide(rows)["status"] == "ok").all()
    save_results(rows, "qwen3-0.6b", tmp_path / "run")  # the measured rows reach the run folder
    assert len(load_run_results(tmp_path / "run")) == len(rows)


def test_one_profiling_run_per_device(tmp_path):
    device = torch.device("cpu")
    with guard.device_lock(device, tmp_path):
        with pytest.raises(Timeout, match="could not be acquired"):
            with guard.device_lock(device, tmp_path, timeout=0.1):
                pass
        with guard.device_lock(torch.device("cuda", 1), tmp_path, timeout=0.1):  # another device is free
            pass
    with guard.device_lock(device, tmp_path, timeout=0.1):  # released
        pass


def test_rows_say_when_the_device_was_busy(tmp_path, monkeypatch, counted):
    monkeypatch.setattr(guard.psutil, "cpu_percent", lambda interval: 93.0)
    monkeypatch.setattr(guard.os, "cpu_count", lambda: 2)
    assert guard.busy_note(torch.device("cpu")).startswith("CPU 93 % busy with other processes on 2 cores")
    rows = _profile(tmp_path)
    assert rows["device_busy"].str.startswith("CPU 93 % busy with other processes").all()
    monkeypatch.setattr(guard.psutil, "cpu_percent", lambda interval: 4.0)
    assert guard.busy_note(torch.device("cpu")) == ""


def test_a_busy_gpu_is_named(monkeypatch):
    """NVML's view: another process on the GPU, and the GPU busy while this run is idle."""
    import sys
    import types

    nvml = types.SimpleNamespace(
        nvmlDeviceGetComputeRunningProcesses=lambda h: [types.SimpleNamespace(pid=4242, usedGpuMemory=3 * 2**30)],
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=87),
    )
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(guard, "_nvml_handle", lambda device: "handle")
    monkeypatch.setattr(guard.time, "sleep", lambda s: None)
    note = guard.busy_note(torch.device("cuda", 0))
    assert note.startswith("other processes on the GPU: pid 4242 (3.0 GiB); GPU 87 % busy while this run was idle")


def test_a_resumed_point_must_have_the_same_key(tmp_path):
    """The checkpoint is found by the cache key: other settings never pick up its points."""
    frame = pd.DataFrame({"scope": ["point"], "batch_size": [1], "prompt_length": [8]})
    cache.save_cached(frame, "m", "key-a", tmp_path, partial=True)
    assert cache.load_cached("m", "key-b", tmp_path, partial=True) is None
    assert len(cache.load_cached("m", "key-a", tmp_path, partial=True)) == 1
