"""Measurements that stop when they know enough, survive a busy machine, and pay compiles once per machine: the
stopping rule on constructed timings, the compile cache's key and state, contention detected, retried, flagged
and never reused."""

import datetime as dt
import os
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from gentrend.profiling import ProfileSettings, compile_cache, guard, measure, measure_point, profile
from gentrend.profiling import cache as result_cache
from gentrend.profiling.stopping import relative_ci, stop_reason

FAST = dict(batch_sizes=(1, 2), prompt_lengths=(8,), new_tokens=4, warmup=0, min_runs=2, max_runs=2, device="cpu")
LOADED = SimpleNamespace(
    model=SimpleNamespace(config=SimpleNamespace(vocab_size=100)),
    device=torch.device("cpu"),
    catalogue_id="fake",
    precision="fp32",
)


class ScriptedRunner:
    """Returns scripted end-to-end times (TTFT a quarter of each); counts inductor cache hits or misses on its
    first call, as a compile from a warm or a cold cache would."""

    backend = "compiled"

    def __init__(self, times, counters, cache_event=None):
        self.times, self.counters, self.cache_event, self.calls = list(times), counters, cache_event, 0
        self.fallback, self.sdpa = "", "not observed"

    def __call__(self, inputs):
        self.calls += 1
        if self.calls == 1 and self.cache_event:
            self.counters["graphs"] += 1
            self.counters[self.cache_event] += 1
        t = self.times.pop(0)
        return t / 4, t, 4


@pytest.fixture
def counters(monkeypatch):
    state = {"graphs": 0, "graph_breaks": 0, "compile_s": 0.0, "cudagraph_skips": 0, "cache_hits": 0, "cache_misses": 0}
    monkeypatch.setattr(measure, "compile_counters", lambda: dict(state))
    return state


def test_the_stopping_rule_stops_at_the_floor_when_runs_agree_and_at_the_cap_when_they_do_not():
    steady = [100.0, 101.0, 99.5]
    assert relative_ci(steady) <= 0.05 and stop_reason(steady, 3, 8, 0.05) == "bound"
    assert stop_reason(steady[:2], 3, 8, 0.05) == ""  # below the floor, however close
    noisy = [100.0, 140.0, 80.0, 130.0, 70.0]
    assert relative_ci(noisy) > 0.05 and stop_reason(noisy, 3, 8, 0.05) == ""
    assert stop_reason(noisy + [120.0, 90.0, 135.0], 3, 8, 0.05) == "cap"
    assert relative_ci(noisy) == relative_ci(list(noisy))  # a fixed seed: the same runs, the same interval


def test_a_point_runs_until_its_median_is_known_and_says_how_it_stopped(counters):
    settings = ProfileSettings(**{**FAST, "min_runs": 3, "max_runs": 8, "ci_bound": 0.05})
    quiet = measure_point(LOADED, settings, 1, 8, runner=ScriptedRunner([0.10, 0.101, 0.099, 0.5], counters))
    assert quiet["e2e_s"]["n_runs"] == 3 and quiet.run["stopped_on"] == "bound"
    assert quiet.run["ci_rel"] <= settings.ci_bound
    # a noisy first half settles: more runs than the floor, stopped on the bound once the median is pinned down
    settling = [0.10, 0.16, 0.07, 0.10, 0.10, 0.10, 0.10, 0.10]
    point = measure_point(LOADED, settings, 1, 8, runner=ScriptedRunner(settling, counters))
    assert settings.min_runs < point["e2e_s"]["n_runs"] <= settings.max_runs
    noisy = [0.10, 0.20] * 4
    capped = measure_point(LOADED, settings, 1, 8, runner=ScriptedRunner(noisy, counters))
    assert capped["e2e_s"]["n_runs"] == settings.max_runs and capped.run["stopped_on"] == "cap"
    assert capped.run["ci_rel"] > settings.ci_bound


def test_the_run_that_shows_stability_is_the_first_measured_run(counters):
    settings = ProfileSettings(**{**FAST, "warmup": 1, "min_runs": 3, "max_runs": 3})
    # the second run is within the tolerance of the first: it ends the warm-up and counts as measured
    runner = ScriptedRunner([0.100, 0.101, 0.100, 0.099, 9.9], counters)
    metrics = measure_point(LOADED, settings, 1, 8, runner=runner)
    assert runner.calls == 4 and metrics["warmup_runs"]["value"] == 1 and metrics["e2e_s"]["n_runs"] == 3


def test_the_compile_cache_key_follows_torch_triton_and_the_device(tmp_path):
    key = compile_cache.compile_key("AMD EPYC", "2.13.0", "3.5.0")
    assert key == compile_cache.compile_key("AMD EPYC", "2.13.0", "3.5.0")
    others = {
        compile_cache.compile_key("NVIDIA H100 80GB HBM3", "2.13.0", "3.5.0"),
        compile_cache.compile_key("AMD EPYC", "2.14.0", "3.5.0"),
        compile_cache.compile_key("AMD EPYC", "2.13.0", "3.6.0"),
    }
    assert key not in others and len(others) == 3
    folder = compile_cache.compile_cache_dir("AMD EPYC", tmp_path)
    assert folder.parent == tmp_path / "compile" and folder.name == compile_cache.compile_key("AMD EPYC")


def test_the_compile_cache_is_used_unless_the_user_chose_a_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    folder = compile_cache.use_compile_cache("cpu model", tmp_path)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(folder / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == str(folder / "triton")
    mine = str(tmp_path / "mine")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", mine)
    compile_cache.use_compile_cache("cpu model", tmp_path)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == mine


def test_a_warm_compile_cache_is_recorded_on_the_point_and_kept_by_the_next_points(counters):
    settings = ProfileSettings(**{**FAST, "warmup": 1})  # the compile happens in the warm-up
    warm = ScriptedRunner([0.1] * 6, counters, cache_event="cache_hits")
    assert measure_point(LOADED, settings, 1, 8, runner=warm).run["compile_cache"] == "warm"
    assert measure_point(LOADED, settings, 1, 16, runner=warm).run["compile_cache"] == "warm"  # graph reused
    cold = ScriptedRunner([0.1] * 3, counters, cache_event="cache_misses")
    assert measure_point(LOADED, settings, 1, 8, runner=cold).run["compile_cache"] == "cold"
    eager = ScriptedRunner([0.1] * 3, counters)
    assert measure_point(LOADED, settings, 1, 8, runner=eager).run["compile_cache"] == "none"


def test_the_probe_measures_other_processes_share_of_the_cpu(monkeypatch):
    monkeypatch.delenv("GENTREND_CONTENTION", raising=False)
    # the machine's busy CPU seconds grow by 3 in 2 s on 2 cores, this process's by 1: others used 50 %
    samples = iter([(10.0, 4.0), (13.0, 5.0)])
    clock = iter([100.0, 102.0])
    with guard.ContentionProbe(sample=lambda: next(samples), clock=lambda: next(clock), cores=2) as probe:
        pass
    assert probe.others_share == pytest.approx(0.5)
    assert guard.contention(probe.others_share, 0.01, "bound", 0.05)
    assert guard.contention(0.0, 0.3, "cap", 0.05)  # spread at the cap
    assert not guard.contention(0.0, 0.3, "bound", 0.05) and not guard.contention(0.1, 0.01, "bound", 0.05)


class ScriptedProbe:
    """A contention probe reporting scripted shares, one per measurement, in order."""

    shares: list = []

    def __init__(self):
        self.others_share = ScriptedProbe.shares.pop(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def judged(monkeypatch):
    """Contention judged (the suite turns it off for notebook runs), with scripted probes; counts measurements."""
    monkeypatch.delenv("GENTREND_CONTENTION", raising=False)
    monkeypatch.setattr(guard, "ContentionProbe", ScriptedProbe)
    calls = []
    real = measure.measure_point

    def counted(loaded, settings, batch, prompt, runner=None, probe=None):
        calls.append((batch, prompt))
        return real(loaded, settings, batch, prompt, runner=runner, probe=probe)

    monkeypatch.setattr(measure, "measure_point", counted)
    return calls


def test_a_contended_point_is_retried_flagged_and_never_reused(tmp_path, judged):
    settings = ProfileSettings(**{**FAST, "ci_bound": 10.0, "max_retries": 2})
    busy, quiet = 0.9, 0.0
    # batch 1: busy three times (retried twice, still contended); batch 2: busy once, then quiet
    ScriptedProbe.shares = [busy, busy, busy, busy, quiet]
    rows = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert judged == [(1, 8)] * 3 + [(2, 8)] * 2
    points = rows[rows["scope"] == "point"].drop_duplicates("batch_size").set_index("batch_size")
    assert bool(points.loc[1, "contended"]) and points.loc[1, "retries"] == settings.max_retries
    assert "other processes used 90%" in points.loc[1, "contention"]
    assert not bool(points.loc[2, "contended"]) and points.loc[2, "retries"] == 1
    # the next run measures the contended point again and keeps the other from the cache
    ScriptedProbe.shares = [quiet]
    again = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert judged[5:] == [(1, 8)] and not again["contended"].any() and not again["from_cache"].any()
    # now nothing is contended: the whole entry is reused
    third = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    assert len(judged) == 6 and third["from_cache"].all() and (third["age_days"] >= 0).all()


def test_an_expired_measurement_is_stale():
    now = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)
    rows = pd.DataFrame(
        {
            "scope": ["point", "point", "point"],
            "batch_size": [1, 2, 2],
            "prompt_length": [32, 32, 32],
            "contended": [False, False, False],
            "measured_at": [
                (now - dt.timedelta(days=result_cache.MAX_AGE_DAYS + 1)).isoformat(),
                (now - dt.timedelta(days=1)).isoformat(),
                (now - dt.timedelta(days=1)).isoformat(),
            ],
        }
    )
    assert result_cache.stale(rows, now).tolist() == [True, False, False]
    assert "batch 1 x prompt 32" in result_cache.stale_reason(rows, now)
    assert result_cache.reusable_points(rows, now)["batch_size"].tolist() == [2, 2]


@pytest.mark.slow
def test_a_real_load_beside_a_measurement_is_detected_retried_and_flagged(tmp_path, monkeypatch):
    """Two processes burning CPU (one per core of a 2-core machine, more on a larger one) beside a profile."""
    monkeypatch.delenv("GENTREND_CONTENTION", raising=False)
    burn = "import sys\nprint('ready', flush=True)\nwhile True:\n    pass\n"
    burners = [
        subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        for b in burners:
            assert b.stdout.readline().strip() == "ready"  # the load runs before the measurement starts
        settings = ProfileSettings(**{**FAST, "batch_sizes": (1,), "min_runs": 5, "max_runs": 5, "max_retries": 1})
        rows = profile("qwen3-0.6b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    point = rows[rows["scope"] == "point"].iloc[0]
    assert bool(point["contended"]) and point["retries"] == 1 and point["cpu_others_share"] >= guard.BUSY_SHARE


def test_gentrend_clean_knows_the_compile_caches(tmp_path, monkeypatch):
    from gentrend.pipeline import clean

    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path))
    old = compile_cache.compile_cache_dir("old cpu")
    new = compile_cache.compile_cache_dir("this cpu")
    for folder in (old, new):
        (folder / "inductor").mkdir(parents=True)
        (folder / "inductor" / "graph.py").write_text("compiled")
    week_ago = dt.datetime.now().timestamp() - 7 * 86400
    os.utime(old / "inductor" / "graph.py", (week_ago, week_ago))
    doomed, _ = clean.clean(older_than=clean.parse_age("3d"))
    assert [(item.kind, item.path) for item in doomed] == [("compile", old)]
    assert not old.exists() and (new / "inductor" / "graph.py").exists()


def test_an_evaluation_of_a_shrunken_checkpoint_is_planned_as_the_shrunken_model(tmp_path, catalogue):
    from gentrend.evaluation.estimate import Workload, estimate_seconds, shrunken_checkpoint
    from gentrend.models.architecture import text_config
    from gentrend.models.planner import Speed

    model = catalogue.get("qwen3-0.6b")
    for name, tiny in (("tiny", True), ("full", False)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text_config(model, tiny=tiny).to_json_string())
    assert shrunken_checkpoint(model, tmp_path / "tiny") and not shrunken_checkpoint(model, tmp_path / "full")
    cpu, work = Speed("cpu", 1e11, "test", 2e10, "test", 0.5, 0.5), Workload("t", 64, 20_000, 0)
    tiny = estimate_seconds(model, work, cpu, "fp32", 8, tiny=True)["prefill_s"]
    assert tiny < estimate_seconds(model, work, cpu, "fp32", 8)["prefill_s"] / 100


def test_a_cpu_decode_step_is_planned_at_the_rate_measured_for_its_batch_size(catalogue):
    """The CPU plan measures how fast a linear layer streams its weights for each row count (a BLAS serves one
    row and a few rows by different kernels); a step of batch b reads at the rate of the largest row count <= b."""
    from dataclasses import replace

    from gentrend.models.planner import DECODE_ROWS, Speed, device_speed, measure_decode_rates, step_seconds

    rates = measure_decode_rates("cpu")
    assert [rows for rows, _ in rates] == list(DECODE_ROWS) and all(rate > 0 for _, rate in rates)
    assert device_speed("cpu").decode_rates == rates
    model = catalogue.get("qwen2.5-0.5b")
    plain = Speed("cpu", 1e15, "test", 1e10, "test", 1.0, 1.0)  # compute never binds: a step is its read time
    measured = replace(plain, decode_rates=((1, 4e10), (2, 1e10)))
    assert step_seconds(model, 1, 32, "fp32", measured) == pytest.approx(step_seconds(model, 1, 32, "fp32", plain) / 4)
    for batch in (2, 3, 16):  # 2 and above: the rate measured for two rows
        assert step_seconds(model, batch, 32, "fp32", measured) == step_seconds(model, batch, 32, "fp32", plain)
