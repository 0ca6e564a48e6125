"""The GPU profiling logic, tested on the CPU: default grids and models, the time estimate, compile-once
bookkeeping, warm-up until stable, recompile / graph-break / fallback recording, kernel truth per op, the
reference loop, the CLI down to the notebook parameters. GPU numbers themselves need a GPU (make gpu-check)."""

import types
from types import SimpleNamespace

import pytest
import torch

from gentrend.cli import build_parser
from gentrend.core.vocab import backend_label
from gentrend.models.loading import build_synthetic, kernel_paths, linear_attention_kernels, load_model
from gentrend.models.planner import device_speed
from gentrend.pipeline import plan
from gentrend.pipeline.request import ReportRequest
from gentrend.profiling import (
    ProfileSettings,
    ProfileSettingsError,
    StaticDecoder,
    backends,
    defaults_for,
    measure,
    measure_point,
    profile_plan,
    quantized_models,
    quantized_precisions,
    run_sweep,
    sweep_seconds,
)
from gentrend.profiling.estimate import SWEEP_BUDGET_S
from gentrend.profiling.settings import CACHE_ROUNDING

FAST = dict(batch_sizes=(1,), prompt_lengths=(8,), new_tokens=4, warmup=0, min_runs=2, max_runs=2, device="cpu")


@pytest.fixture
def on_cuda(monkeypatch):
    """Plan as on a machine with one CUDA GPU (nothing runs on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")


def test_a_rows_gpu_index_is_the_one_its_host_numbers(monkeypatch):
    from gentrend.core.environment import gpu_index

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_index(torch.device("cuda", 1)) == "1" and gpu_index(torch.device("cpu")) == ""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")  # what Ray gives a task holding the host's GPUs 4 and 6
    assert gpu_index(torch.device("cuda", 0)) == "4" and gpu_index(torch.device("cuda", 1)) == "6"


def test_cuda_defaults_are_the_compiled_backend_with_one_compile_per_model():
    cuda, cpu = defaults_for("cuda"), defaults_for("cpu")
    assert cuda.backend == "compiled" and cpu.backend == "eager"
    assert (
        len(cuda.batch_sizes) == 1 and len(cuda.prompt_lengths) > 1
    )  # a prompt length costs seconds, a batch a compile
    assert cuda.cache_len % CACHE_ROUNDING == 0 and cuda.cache_len >= max(cuda.prompt_lengths) + cuda.new_tokens
    q = cuda.quantized("int4")
    assert (q.dtype, q.batch_sizes, q.prompt_lengths) == ("int4", (1,), (min(cuda.prompt_lengths),))
    with pytest.raises(ProfileSettingsError, match="'bf16' is not a weight-only precision"):
        cuda.quantized("bf16")
    with pytest.raises(ProfileSettingsError, match="bad repetition settings"):
        ProfileSettings(warmup=5, max_warmup=2)


def test_the_sweep_of_every_model_fits_the_budget_on_paper(catalogue):
    speed = device_speed("cuda")  # no GPU here: an H100's datasheet
    table = sweep_seconds(catalogue.models, defaults_for("cuda"), speed)
    assert table["total"].sum() <= SWEEP_BUDGET_S
    assert table["compiles"].tolist() == [len(defaults_for("cuda").batch_sizes)] * len(catalogue.models)
    # every extra batch size is one more compile per model, and costs more than an extra prompt length
    two = sweep_seconds(catalogue.models, defaults_for("cuda", batch_sizes=[1, 16]), speed)
    three = sweep_seconds(catalogue.models, defaults_for("cuda", prompt_lengths=[128, 512, 1024]), speed)
    assert (two["compiles"] == 2 * table["compiles"]).all()
    assert two["total"].sum() - table["total"].sum() > three["total"].sum() - table["total"].sum() > 0
    # int8/int4 rows only where they keep the sweep within the budget
    chosen = quantized_models(catalogue.models, defaults_for("cuda"), catalogue)
    quantized = {m: quantized_precisions("cuda") for m in chosen}
    assert sweep_seconds(catalogue.models, defaults_for("cuda"), speed, quantized)["total"].sum() <= SWEEP_BUDGET_S


def test_default_gpu_models_and_their_quantized_rows(catalogue, on_cuda):
    models = plan.default_profile_models(catalogue, "cuda")
    newest = catalogue.generations[-1]
    largest = {g: max(catalogue.in_generation(g), key=lambda m: m.params.total) for g in catalogue.generations}
    assert models[:-1] == list(largest.values()) and models[-1].generation == newest
    assert models[-1] == min(catalogue.in_generation(newest), key=lambda m: m.params.total)
    assert plan.default_profile_models(catalogue, "cpu") == catalogue.smallest_per_generation()
    chosen = quantized_models(models, defaults_for("cuda"), catalogue)
    newest_first = [catalogue.get(m).generation == newest for m in chosen]  # the claims are about the newest
    assert chosen and newest_first == sorted(newest_first, reverse=True) and newest_first[0]
    params = plan.profile_parameters(ReportRequest(device="cuda"), catalogue)
    assert params["backend"] == "compiled" and params["dtype"] == "bf16" and params["quantized_models"] == chosen
    text, seconds = profile_plan([{**params, "model": m.id} for m in models], catalogue)
    assert list(seconds) == [m.id for m in models] and all(s > 0 for s in seconds.values())
    assert f"profiling {len(models)} model(s) on cuda:0" in text and "estimated time" in text
    assert "int8/int4 weights for " + ", ".join(chosen) in text


def test_cli_options_reach_the_profiling_notebook(catalogue, scores):
    args = build_parser().parse_args(
        [
            "report",
            "--device",
            "cpu",
            "--backend",
            "compiled",
            "--batch-sizes",
            "1,4",
            "--prompt-lengths",
            "16 64",
            "--new-tokens",
            "8",
            "--models",
            "qwen3-0.6b",
            "--tiny",
        ]
    )
    request = ReportRequest(
        profile_models=tuple(args.models),
        device=args.device,
        backend=args.backend,
        batch_sizes=tuple(args.batch_sizes),
        prompt_lengths=tuple(args.prompt_lengths),
        new_tokens=args.new_tokens,
        tiny=args.tiny,
    )
    (job,) = [j for j in plan.plan(catalogue, scores, request) if j.notebook == plan.PROFILE_NB]
    assert {
        k: job.parameters[k] for k in ("backend", "batch_sizes", "prompt_lengths", "new_tokens", "quantized_models")
    } == {
        "backend": "compiled",
        "batch_sizes": [1, 4],
        "prompt_lengths": [16, 64],
        "new_tokens": 8,
        "quantized_models": [],
    }


class FakeRunner:
    """Returns scripted end-to-end times; optionally 'compiles' a graph on its first calls."""

    backend = "compiled"

    def __init__(self, times, compile_calls=0, counters=None):
        self.times, self.calls, self.compile_calls, self.counters = list(times), 0, compile_calls, counters
        self.fallback = ""

    def __call__(self, inputs):
        self.calls += 1
        if self.calls <= self.compile_calls:
            self.counters["graphs"] += 1
            self.counters["compile_s"] += 2.0
        t = self.times.pop(0) if self.times else 0.1
        return t / 4, t, 4


@pytest.fixture
def counters(monkeypatch):
    state = {"graphs": 0, "graph_breaks": 0, "compile_s": 0.0, "cudagraph_skips": 0, "cache_hits": 0, "cache_misses": 0}
    monkeypatch.setattr(measure, "compile_counters", lambda: dict(state))
    return state


LOADED = SimpleNamespace(
    model=SimpleNamespace(config=SimpleNamespace(vocab_size=100)),
    device=torch.device("cpu"),
    catalogue_id="fake",
    precision="fp32",
)


def test_warm_up_runs_until_nothing_compiles_and_timings_settle(counters):
    settings = ProfileSettings(**{**FAST, "warmup": 1, "max_warmup": 10})
    # compile (slow), CUDA graph record, then settling: 0.30 -> 0.12 -> 0.101 -> 0.100: the 5th run is within 5 %
    # of the 4th, so it is the first measured run: 4 warm-up runs
    run = FakeRunner([5.0, 0.3, 0.12, 0.101, 0.100, 0.1, 0.1], compile_calls=1, counters=counters)
    metrics = measure_point(LOADED, settings, 1, 8, runner=run)
    assert metrics["warmup_runs"]["value"] == 4 and "until stable" in metrics["warmup_runs"]["note"]
    assert metrics["e2e_s"]["n_runs"] == settings.min_runs
    assert metrics["compile_s"]["value"] == 2.0 and metrics["graphs_compiled"]["value"] == 1
    assert metrics["recompiles"]["value"] == 0
    unsettled = FakeRunner([1.0, 2.0] * 10, counters=counters)
    capped = measure_point(LOADED, settings.replace(max_warmup=3), 1, 8, runner=unsettled)
    assert capped["warmup_runs"]["value"] == 3 and "NOT STABLE" in capped["warmup_runs"]["note"]


def test_recompiles_and_skipped_cuda_graphs_during_measured_runs_are_recorded(counters):
    class Recompiling(FakeRunner):
        def __call__(self, inputs):
            counters["graphs"] += 1  # every measured run compiles: a guard keeps failing
            counters["cudagraph_skips"] += 1
            return super().__call__(inputs)

    run = Recompiling([0.1] * 10, counters=counters)
    metrics = measure_point(LOADED, ProfileSettings(**{**FAST, "min_runs": 3, "max_runs": 3}), 1, 8, runner=run)
    assert metrics["recompiles"]["value"] == 3
    assert "CUDA graphs skipped" in run.fallback


def test_the_compiled_backend_makes_one_runner_per_batch_size(monkeypatch):
    made = []
    monkeypatch.setattr(
        backends, "make_runner", lambda loaded, settings, batch: made.append(batch) or SimpleNamespace(fallback="")
    )
    monkeypatch.setattr(
        measure, "measure_point", lambda loaded, settings, batch, prompt, runner=None, probe=None: {"ok": batch}
    )
    settings = ProfileSettings(**{**FAST, "batch_sizes": (4, 1), "prompt_lengths": (64, 8, 32), "backend": "compiled"})
    records = run_sweep(LOADED, settings, progress=False)
    assert made == [1, 4]  # once per batch size, whatever the number of prompt lengths
    assert [(r["batch_size"], r["prompt_length"]) for r in records] == settings.points
    resumed = run_sweep(LOADED, settings, progress=False, done={(1, 8), (1, 32), (1, 64)})
    assert [(r["batch_size"], r["prompt_length"]) for r in resumed] == [(4, 8), (4, 32), (4, 64)]


def test_static_decoder_generates_what_generate_does_and_falls_back_when_compile_fails(catalogue, monkeypatch):
    loaded = load_model(catalogue.get("qwen3-0.6b"), tiny=True)
    settings = ProfileSettings(**{**FAST, "prompt_lengths": (8, 16), "backend": "compiled"})
    ids = torch.randint(0, 500, (2, 8), generator=torch.Generator().manual_seed(0))
    decoder = StaticDecoder(loaded, 2, settings, compile=False)
    tokens = []
    decoder.step = lambda token, position: tokens.append(token) or decoder._step(token, position)
    ttft, e2e, n = decoder({"input_ids": ids})
    assert n == settings.new_tokens and 0 < ttft < e2e
    expected = loaded.model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=settings.new_tokens, do_sample=False, pad_token_id=0
    )[:, 8:]
    assert torch.equal(torch.cat(tokens, dim=1), expected[:, :-1])  # the inputs of each decode step

    def broken(fn, **kwargs):
        return lambda *a, **k: (_ for _ in ()).throw(RuntimeError("inductor exploded"))

    monkeypatch.setattr(torch, "compile", broken)
    failing = StaticDecoder(loaded, 2, settings)
    assert failing({"input_ids": ids})[2] == settings.new_tokens  # measured anyway, eagerly
    assert "torch.compile failed (RuntimeError: inductor exploded)" in failing.fallback


def _fake_fla_wrapper():
    """What transformers' hub-kernel decorator leaves when flash-linear-attention imported: a closure whose
    `implementation` cell is fla's function."""
    fla = types.ModuleType("fla.ops.gated_delta_rule")

    def chunk_gated_delta_rule(*a, **k):
        return None

    chunk_gated_delta_rule.__module__ = fla.__name__
    implementation, is_new_implementation = chunk_gated_delta_rule, True

    def wrapped(*a, **k):
        return implementation(*a, **k) if is_new_implementation else None

    return wrapped


def test_kernel_truth_comes_from_what_transformers_resolved(catalogue, monkeypatch):
    from transformers.models.qwen3_5 import modeling_qwen3_5

    net = build_synthetic(catalogue.get("qwen3.5-0.8b"), torch.device("meta"), torch.float32, tiny=True)
    assert kernel_paths(net) == {"attention": "sdpa", "gated_delta_rule": "torch", "causal_conv1d": "torch"}
    assert linear_attention_kernels(kernel_paths(net)) == "torch-fallback"
    # the H100 case: fla importable, causal-conv1d not: the delta rule is fast, conv1d is not
    monkeypatch.setattr(modeling_qwen3_5, "torch_chunk_gated_delta_rule", _fake_fla_wrapper())
    monkeypatch.setattr(modeling_qwen3_5, "torch_recurrent_gated_delta_rule", _fake_fla_wrapper())
    paths = kernel_paths(net)
    assert paths["gated_delta_rule"] == "fla" and paths["causal_conv1d"] == "torch"
    assert linear_attention_kernels(paths) == "partial"
    monkeypatch.setattr(modeling_qwen3_5, "torch_recurrent_gated_delta_rule", modeling_qwen3_5.causal_conv1d_fn)
    assert kernel_paths(net)["gated_delta_rule"].startswith("mixed: ")  # prefill fla, decode torch
    dense = build_synthetic(catalogue.get("qwen3-0.6b"), torch.device("meta"), torch.float32, tiny=True)
    assert kernel_paths(dense) == {"attention": "sdpa", "gated_delta_rule": "none", "causal_conv1d": "none"}
    assert linear_attention_kernels(kernel_paths(dense)) == "none"


def test_eager_is_labelled_as_the_transformers_reference():
    assert backend_label("eager") == "transformers eager (reference)"
    assert backend_label("compiled").startswith("compiled")


@pytest.mark.slow
@pytest.mark.long
def test_compiled_backend_compiles_once_per_batch_size_on_the_cpu(tmp_path):
    """Real torch.compile (mode "default" on the CPU): the first point of each batch size compiles, every other
    point reuses the graph, nothing recompiles during measured runs, no graph break, no fallback."""
    from gentrend.profiling import memory_validation, profile, wide

    settings = defaults_for(
        "cpu", backend="compiled", batch_sizes=[1, 2], prompt_lengths=[8, 16], new_tokens=4, min_runs=2, max_runs=2
    )
    rows = profile("qwen3.5-0.8b", settings=settings, tiny=True, cache_dir=tmp_path, progress=False)
    points = wide(rows)
    assert (memory_validation(rows)["context"] == settings.cache_len).all()  # the memory model sees the static cache
    assert list(points["status"]) == ["ok"] * 4, points["error"].tolist()
    first = points["prompt_length"] == 8
    assert (points.loc[first, "graphs_compiled"] >= 1).all() and (points.loc[first, "compile_s"] > 0).all()
    assert (points.loc[~first, "graphs_compiled"] == 0).all() and (points.loc[~first, "compile_s"] == 0).all()
    assert (points["recompiles"] == 0).all() and (points["graph_breaks"] == 0).all()
    assert (points["fallback"] == "").all() and (points["static_cache_len"] == settings.cache_len).all()
    assert (points["warmup_runs"] >= 2).all()


@pytest.mark.slow
def test_reference_loop_runs_beside_the_profiler():
    import importlib.util

    from gentrend.core import paths

    spec = importlib.util.spec_from_file_location(
        "reference_loop", paths.REPO_ROOT / "benchmarks" / "reference_loop.py"
    )
    loop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loop)
    r = loop.compare("qwen3-0.6b", "cpu", batch=2, prompt=8, new_tokens=6, runs=3, tiny=True, compile=False)
    assert r["loop_tokens_per_s"] > 0 and r["profiler_tokens_per_s"] > 0
    assert r["profiler_vs_loop"] == pytest.approx(r["profiler_tokens_per_s"] / r["loop_tokens_per_s"])
    assert set(r["roofline_tokens_per_s"]) == {"measured"}  # no datasheet figure for a CPU


@pytest.mark.slow
def test_int8_rows_beside_the_float_ones_and_int4_skipped_on_the_cpu(tmp_path, catalogue):
    """The notebook's path for weight-only precisions: int8 measured (torchao works on the CPU), int4 cannot be
    (CUDA-only kernel): a warning with the reason, and the float profile stands."""
    from gentrend.profiling import ProfilingWarning, precision_table, profile_precisions, save_results, wide

    settings = defaults_for("cpu", batch_sizes=[1, 2], prompt_lengths=[8], new_tokens=4, min_runs=1, max_runs=1)
    with pytest.warns(
        ProfilingWarning,
        match="int4 weights of qwen3-0.6b not profiled: ModelLoadError: int4 weight-only runs on CUDA only",
    ):
        rows = profile_precisions(
            "qwen3-0.6b",
            settings=settings,
            precisions=("int8", "int4"),
            output_dir=tmp_path / "run",
            tiny=True,
            cache_dir=tmp_path / "cache",
            progress=False,
        )
    points = wide(rows)
    assert sorted(points["dtype"].unique()) == ["fp32", "int8"]
    assert points.loc[points["dtype"] == "int8", "batch_size"].tolist() == [1]  # the quantized point only
    table = precision_table(rows, catalogue).set_index("dtype")
    assert table.loc["int8", "weights GiB (measured)"] < table.loc["fp32", "weights GiB (measured)"] / 2
    assert table.loc["fp32", "speed vs float weights"] == 1 and table.loc["int8", "decode tok/s"] > 0
    save_results(rows, "qwen3-0.6b", tmp_path / "run")  # what the notebook does next: no partial file is left
    assert not list((tmp_path / "run" / "results" / "partial").glob("profile_*.csv"))


def test_the_attention_kernel_that_ran_is_named_by_the_profiler(catalogue):
    from gentrend.profiling.backends import attention_kernels

    loaded = load_model(catalogue.get("qwen3-0.6b"), tiny=True)
    ids = torch.randint(0, 500, (1, 8))
    assert attention_kernels(lambda: loaded.model(ids)) == "flash"  # the CPU's flash_attention_for_cpu
    assert attention_kernels(lambda: torch.ones(3) + 1) == "not observed"


def test_an_error_outside_the_compiled_step_is_not_called_a_compile_failure(catalogue):
    loaded = load_model(catalogue.get("qwen3-0.6b"), tiny=True)
    decoder = StaticDecoder(loaded, 1, ProfileSettings(**{**FAST, "backend": "compiled"}))
    with pytest.raises(ValueError, match="exceed the static cache"):
        decoder({"input_ids": torch.randint(0, 500, (1, decoder.cache_len))})
    assert decoder.fallback == "" and decoder.step != decoder._step


def test_one_progress_line_per_point():
    from gentrend.profiling.sweep import point_line

    ok = {
        "batch_size": 1,
        "prompt_length": 1024,
        "status": "ok",
        "error": "",
        "fallback": "",
        "metrics": {
            "decode_tokens_per_s": {"value": 104.24},
            "ttft_s": {"value": 0.0312},
            "compile_s": {"value": 95.2},
        },
    }
    assert (
        point_line("qwen3-8b bf16", 2, 4, ok)
        == "  qwen3-8b bf16 [2/4] batch 1 x prompt 1024: 104.2 tok/s decode, TTFT 31 ms (compile 95 s)"
    )
    oom = {**ok, "status": "oom", "error": "OutOfMemoryError: CUDA out of memory", "metrics": {}}
    assert point_line("qwen3-8b bf16", 3, 4, oom).endswith("OOM (OutOfMemoryError: CUDA out of memory)")
