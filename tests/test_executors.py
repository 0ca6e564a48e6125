"""Executors of a report's notebook jobs: the dependency graph, the job loop (local: the plan's order; any
executor: a job starts only after what it reads is written), moving a job's files to and from a worker, the node
comparison and the resources a job asks Ray for. The Ray cluster itself: tests/test_ray_executor.py."""

import logging
import subprocess
import sys

import nbformat
import pytest
import torch

from gentrend.core.environment import environment, fingerprint
from gentrend.core.errors import NotebookError, SettingError
from gentrend.pipeline.executors import local, make_executor
from gentrend.pipeline.executors.graph import dependencies
from gentrend.pipeline.executors.local import LocalExecutor
from gentrend.pipeline.executors.nodes import NodeMismatchError, check_nodes, environment_differences, probe
from gentrend.pipeline.executors.ray_executor import MEASURE_RESOURCE, resources
from gentrend.pipeline.executors.transfer import apply_result, run_job, write_outputs
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.notebooks import NotebookJob
from gentrend.pipeline.plan import (
    CLAIMS_NB,
    DENSITY_NB,
    EVALUATE_NB,
    GENERATION_NB,
    PROFILE_NB,
    SPEED_MEMORY_NB,
    TREND_REPORT_NB,
    plan,
)
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.runner import run_jobs
from gentrend.pipeline.steps import Steps
from gentrend.report.publish import PublishError

CPU = ReportRequest(device="cpu", tiny=True)


def test_only_what_a_job_reads_makes_it_wait(catalogue, scores):
    jobs = plan(catalogue, scores, CPU)
    waits = dependencies(jobs)
    profiling = {i for i, job in enumerate(jobs) if job.notebook == PROFILE_NB}
    assert profiling
    for i, job in enumerate(jobs):
        if job.notebook in (SPEED_MEMORY_NB, CLAIMS_NB):  # they read results/profile_*.csv
            assert waits[i] == profiling
        elif job.notebook == TREND_REPORT_NB:  # it lays out everything published
            assert waits[i] == set(range(len(jobs))) - {i}
        else:
            assert waits[i] == set()


def test_measured_analyses_wait_for_the_evaluations_only():
    evaluations = [NotebookJob(EVALUATE_NB, {"model": m}, f"{m}-base", measures=True) for m in ("a", "b")]
    jobs = [
        NotebookJob(GENERATION_NB, {"generation": "3"}, "qwen3"),
        *evaluations,
        NotebookJob(PROFILE_NB, {"model": "a"}, "a", measures=True),
        NotebookJob(DENSITY_NB, {"track": "base"}, "measured-base", reads=("results/eval_*.csv",)),
    ]
    assert dependencies(jobs)[-1] == {1, 2}


class _Finishing(LocalExecutor):
    """Like Ray: every submitted job is out at once, and the last one submitted finishes first."""

    def finished(self):
        index = max(self._queue)
        job = self._queue.pop(index)
        return [(index, lambda: local.execute(job, self._run_dir))]


def _write(run_dir, job, order):
    """Stands for a notebook: checks that every file it reads exists, then writes what it produces."""
    for pattern in job.reads:
        assert list(run_dir.glob(pattern)), f"{job.output_name} started before {pattern} was written"
    order.append(job.output_name)
    (run_dir / "notebooks").mkdir(exist_ok=True)
    (run_dir / "notebooks" / job.output_name).write_text("done")
    if job.notebook == PROFILE_NB:
        (run_dir / "results").mkdir(exist_ok=True)
        (run_dir / "results" / f"profile_{job.label}.csv").write_text("rows")


def _toy_plan():
    profiled = ("a", "b")
    reads = tuple(f"results/profile_{m}.csv" for m in profiled)
    return [
        NotebookJob(GENERATION_NB, {"generation": "3"}, "qwen3"),
        *(NotebookJob(PROFILE_NB, {"model": m}, m) for m in profiled),
        NotebookJob(SPEED_MEMORY_NB, {"profiled_models": list(profiled)}, reads=reads),
        NotebookJob(TREND_REPORT_NB, reads=("notebooks/*.ipynb",)),
    ]


@pytest.mark.parametrize("executor", [LocalExecutor, _Finishing])
def test_every_job_runs_once_after_what_it_reads(executor, tmp_path, monkeypatch):
    order = []
    monkeypatch.setattr(local, "execute", lambda job, run_dir: _write(run_dir, job, order))
    jobs = _toy_plan()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    manifest = Manifest.start(run_dir, {}, {})
    log = logging.getLogger("test-executors")
    steps = Steps(run_dir, manifest, [], "base", log)
    run_jobs(jobs, executor(), steps, tmp_path, log)
    names = [job.output_name for job in jobs]
    assert sorted(order) == sorted(names) and not steps.failures
    if executor is LocalExecutor:  # today's behaviour: the plan's order
        assert order == names
    else:  # the profiling jobs finished in the other order, and 05 (checked by _write) after both
        assert order[:2] == [names[2], names[1]]
    recorded = [entry["name"] for entry in manifest.data["jobs"]]
    assert recorded.index("changes") == recorded.index(names[-1]) - 1  # "changed since" just before the report


def test_the_local_executor_does_not_import_ray():
    code = (
        "import sys; import gentrend.pipeline.runner; from gentrend.pipeline.executors import make_executor; "
        "make_executor('local'); print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_executor_choices_are_checked_when_the_request_is_made():
    with pytest.raises(SettingError, match="unknown executor"):
        ReportRequest(executor="dask")
    with pytest.raises(SettingError, match="--executor ray"):
        ReportRequest(ray_address="auto")
    with pytest.raises(SettingError, match="unknown executor"):
        make_executor("dask")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_a_cuda_report_is_planned_without_a_gpu_here_only_for_the_nodes_of_a_cluster(catalogue, scores):
    asked = dict(device="cuda", tiny=True, profile_models=("qwen2.5-0.5b",))
    with pytest.raises(SettingError, match="CUDA is not available on this machine"):
        plan(catalogue, scores, ReportRequest(**asked))
    jobs = plan(catalogue, scores, ReportRequest(**asked, executor="ray"))
    assert [job.parameters["device"] for job in jobs if job.notebook == PROFILE_NB] == ["cuda:0"]
    defaults = plan(catalogue, scores, ReportRequest(device="cuda", executor="ray"))
    largest = {max(catalogue.in_generation(g), key=lambda m: m.params.total).id for g in catalogue.generations}
    assert largest <= {job.parameters["model"] for job in defaults if job.notebook == PROFILE_NB}


def test_the_local_executor_keys_a_measuring_step_by_this_machine():
    job = NotebookJob(PROFILE_NB, {"model": "a", "device": "cpu"}, "a", measures=True)
    assert LocalExecutor().machine(job) == fingerprint(environment("cpu"))


def test_measuring_jobs_ask_for_a_whole_gpu_on_cuda_and_the_custom_resource(monkeypatch):
    monkeypatch.delenv(MEASURE_RESOURCE, raising=False)
    profile = NotebookJob(PROFILE_NB, {"model": "a", "device": "cuda:0"}, "a", measures=True)
    on_cpu = NotebookJob(PROFILE_NB, {"model": "a", "device": "cpu"}, "a", measures=True)
    analysis = NotebookJob(SPEED_MEMORY_NB)
    assert resources(profile) == {"num_gpus": 1, "num_cpus": 0}
    assert resources(on_cpu) == resources(analysis) == {"num_cpus": 1}
    monkeypatch.setenv(MEASURE_RESOURCE, "gpu_slot")
    assert resources(on_cpu) == {"num_cpus": 1, "resources": {"gpu_slot": 1}}
    assert resources(analysis) == {"num_cpus": 1}


def test_a_node_with_other_software_is_named_with_the_difference():
    driver = probe()
    same = {**driver, "address": "10.0.0.1"}
    other = {**driver, "address": "10.0.0.2", "packages": {**driver["packages"], "transformers": "0.0.1"}}
    envs = {"a" * 16: same, "b" * 16: other, "c" * 16: {"address": "10.0.0.3", "error": "no answer within 120 s"}}
    assert environment_differences(envs, driver) == {
        "b" * 16: {"packages.transformers": (driver["packages"]["transformers"], "0.0.1")},
        "c" * 16: {"error": (None, "no answer within 120 s")},
    }
    with pytest.raises(NodeMismatchError) as caught:
        check_nodes(envs, driver)
    message = str(caught.value)
    assert "10.0.0.2" in message and "packages.transformers 0.0.1" in message and "10.0.0.3" in message
    assert "10.0.0.1" not in message and "runtime environment" in caught.value.fix
    check_nodes({"a" * 16: same}, driver)


def test_outputs_never_overwrite_a_file_of_the_run(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "taken.csv").write_text("first owner")
    with pytest.raises(PublishError, match="taken.csv"):
        write_outputs(tmp_path, {"tables/new.csv": b"x", "tables/taken.csv": b"y"}, "02_density.ipynb")
    assert (tmp_path / "tables" / "taken.csv").read_text() == "first owner"
    assert not (tmp_path / "tables" / "new.csv").exists()  # nothing of a refused job is written
    write_outputs(tmp_path, {"tables/new.csv": b"x"}, "02_density.ipynb")
    assert (tmp_path / "tables" / "new.csv").read_bytes() == b"x"


def test_a_devices_bandwidth_record_is_kept_from_the_first_job_back(tmp_path):
    write_outputs(tmp_path, {"results/bandwidth_cpu.json": b"first", "results/profile_a.csv": b"a"}, "04 a")
    write_outputs(tmp_path, {"results/bandwidth_cpu.json": b"second", "results/profile_b.csv": b"b"}, "04 b")
    assert (tmp_path / "results" / "bandwidth_cpu.json").read_bytes() == b"first"
    assert (tmp_path / "results" / "profile_b.csv").read_bytes() == b"b"


def _notebook(*cells) -> bytes:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("output_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb).encode()


@pytest.mark.slow
def test_a_job_runs_away_from_the_run_folder_and_brings_back_what_it_made(tmp_path):
    job = NotebookJob("toy.ipynb", reads=("results/*.csv",))
    code = (
        "import os, pathlib; out = pathlib.Path(output_dir); rows = (out / 'results/in.csv').read_text(); "
        "data = pathlib.Path(os.environ['GENTREND_DATA'], 'models.yaml').read_text(); "
        "(out / 'tables').mkdir(exist_ok=True); "
        "(out / 'tables/out.csv').write_text(rows + data + ';' + os.environ['OMP_NUM_THREADS'])"
    )
    inputs = {"run/results/in.csv": b"rows;", "notebooks/toy.ipynb": _notebook(code)}
    result = run_job(job, inputs, {"models.yaml": b"catalogue"}, variables={"OMP_NUM_THREADS": "3"})
    assert result["error"] is None
    assert set(result["files"]) == {"tables/out.csv", "notebooks/toy.ipynb"}  # the input it read stays behind
    assert result["files"]["tables/out.csv"] == b"rows;catalogue;3"  # the driver's variables reach the kernel
    apply_result(tmp_path, job, result)
    assert (tmp_path / "tables" / "out.csv").read_bytes() == b"rows;catalogue;3"


@pytest.mark.slow
def test_a_failed_job_comes_back_with_its_partial_notebook_and_error(tmp_path):
    job = NotebookJob("toy.ipynb")
    result = run_job(job, {"notebooks/toy.ipynb": _notebook("raise ValueError('broken')")}, {}, variables={})
    assert result["error"] and "broken" in result["error"][0]
    assert set(result["files"]) == {"notebooks/toy.partial.ipynb"}
    with pytest.raises(NotebookError, match="broken") as caught:
        apply_result(tmp_path, job, result)
    assert result["folder"] not in str(caught.value) and str(tmp_path) in str(caught.value)
    assert (tmp_path / "notebooks" / "toy.partial.ipynb").exists()
