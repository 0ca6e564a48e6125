"""`gentrend report --executor ray` on the session's two-node Ray cluster on loopback (tests/ray_cluster.py): the
same tables as the local executor (one job of each notebook run here too), profiling jobs on the node declaring the resource they ask for and their rows
naming it, a killed job retried, a job that dies on every retry failed alone (exit 4), Ctrl-C cancelling the
remote jobs, reused steps kept on the driver. tests/ray_executor_driver.py runs each report into one reports
folder, so the later runs reuse the published-data steps of the first. A node with other package versions is
refused: tests/test_ray_cluster.py."""

import json
import re
import sys
from pathlib import Path

import pytest
from fixtures.run_files import assert_run_files_complete
from ray_cluster import HEAD_HOST, WORKER_HOST

from gentrend.pipeline.executors.local import LocalExecutor
from gentrend.pipeline.executors.ray_executor import MAX_RETRIES
from gentrend.pipeline.executors.transfer import folder_files
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.notebooks import kernel_environment
from gentrend.pipeline.plan import plan
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.runner import EXIT_PARTIAL
from gentrend.profiling import load_run_results

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
INTERRUPTED = "gentrend: interrupted; finished notebooks are kept in the run folder"


class Driver:
    """tests/ray_executor_driver.py on the cluster, every scenario into one folder (`out`)."""

    def __init__(self, cluster, out: Path):
        self.cluster, self.out = cluster, out

    def submit(self, scenario: str, *args: str, timeout: float = 900):
        """Start a scenario; returns the function that waits for it and returns what the driver recorded."""
        wait = self.cluster.submit(
            [sys.executable, ROOT / "tests" / "ray_executor_driver.py", scenario, *args],
            self.out,
            cwd=ROOT,
            timeout=timeout,
            env={"RT_WORKER_TMP": str(self.cluster.worker_tmp)},
        )

        def result() -> dict:
            proc = wait()
            assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            return json.loads((self.out / f"{scenario}.json").read_text())

        return result


@pytest.fixture(scope="module")
def driver(ray_cluster, tmp_path_factory):
    return Driver(ray_cluster, tmp_path_factory.mktemp("ray-executor"))


def _here(job, folder: Path, inputs: dict[str, bytes]) -> set[str]:
    """Run `job` with the local executor in `folder` holding `inputs` ({run file: bytes}); the tables it published."""
    for name, content in inputs.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    with LocalExecutor() as executor, kernel_environment():
        executor.start(folder, log=None)
        executor.submit(0, job)
        for _, action in executor.finished():
            action()
    return {str(p.relative_to(folder)) for p in (folder / "tables").glob("*.csv")} - set(inputs)


@pytest.fixture(scope="module")
def tables(driver, tmp_path_factory, catalogue, scores):
    """The published-data stage on the cluster, and one job of each of its notebooks here with the local executor
    (the other jobs of a notebook differ only in parameters): meanwhile those that read only the data files, then
    the trend report on the files the cluster's run gave it."""
    wait = driver.submit("tables")
    local = tmp_path_factory.mktemp("local")
    jobs = plan(catalogue, scores, ReportRequest(profile_models=()))
    first = {job.notebook: job for job in reversed(jobs)}
    compared = [job for job in jobs if job is first[job.notebook]]
    here = {}
    try:
        for job in compared:
            if not job.reads:
                here[job.output_name] = _here(job, local / job.output_name, {})
    finally:  # the cluster takes the next driver only once this one ended
        rc = wait()["rc"]
    ray_run = driver.out / "reports" / "cluster-tables"
    assert rc == 0, (driver.out / "cluster-tables.out").read_text()
    outputs = {j["name"]: set(j["files"]) for j in Manifest.load(ray_run).data["jobs"]}
    for job in compared:
        if job.reads:
            inputs = {n: c for n, c in folder_files(ray_run, job.reads).items() if n not in outputs[job.output_name]}
            here[job.output_name] = _here(job, local / job.output_name, inputs)
    return {"run": ray_run, "local": local, "here": here, "plan": jobs}


@pytest.fixture(scope="module")
def faults(driver, tables, catalogue):
    failed, retried = (m.id for m in catalogue.smallest_per_generation()[:2])
    result = driver.submit("faults", failed, retried)()
    return result | {"run": driver.out / "reports" / "cluster-faults", "failed": failed, "retried": retried}


def _ran_on(run_dir: Path) -> dict[str, str]:
    """{notebook: host} from the run's log ("ran <notebook> on <host> (node ...)")."""
    return dict(re.findall(r"ran (\S+\.ipynb) on (\S+) \(node", (run_dir / "run.log").read_text()))


def _latest(run_dir: Path) -> str:
    return (run_dir.parent / "latest").readlink().name


def test_the_cluster_gives_the_local_executors_tables(tables):
    ray_run, local, here = tables["run"], tables["local"], tables["here"]
    published = {
        j["name"]: {f for f in j["files"] if f.startswith("tables/")} for j in Manifest.load(ray_run).data["jobs"]
    }
    notebook = {job.output_name: job.notebook for job in tables["plan"]}
    # every notebook that published tables on the cluster published them here too, the same bytes
    assert {notebook[n] for n, files in published.items() if files and n in notebook} == {
        notebook[n] for n, files in here.items() if files
    }
    for name, files in here.items():
        assert files == published[name], name
        for table in files:
            assert (ray_run / table).read_bytes() == (local / name / table).read_bytes(), table
    ran = _ran_on(ray_run)  # every notebook went out to the cluster, and both nodes took some
    assert set(ran) == {p.name for p in (ray_run / "notebooks").glob("*.ipynb")}
    assert set(ran.values()) == {HEAD_HOST, WORKER_HOST}


def test_profiling_jobs_run_on_the_node_with_the_resource_and_their_rows_name_it(faults):
    run_dir = faults["run"]
    assert _ran_on(run_dir)[f"04_profile-{faults['retried']}.ipynb"] == WORKER_HOST
    rows = load_run_results(run_dir)
    assert set(rows["model_id"]) == {faults["retried"]}
    # measured on the worker node's CPU, though the node declares a GPU: its host, no GPU index
    assert set(rows["host"]) == {WORKER_HOST} and set(rows["device"]) == {"cpu"} and set(rows["gpu_index"]) == {""}


def test_a_killed_job_is_retried_and_one_killed_on_every_retry_fails_alone(faults):
    run_dir = faults["run"]
    assert faults["rc"] == EXIT_PARTIAL, (run_dir.parent / "cluster-faults.out").read_text()
    jobs = {j["name"]: j for j in Manifest.load(run_dir).data["jobs"]}
    failed, retried = (f"04_profile-{faults[m]}.ipynb" for m in ("failed", "retried"))
    # every attempt of the failing job died: the first and each retry, in a process of its own
    assert len(set(faults["held_killed"])) == MAX_RETRIES + 1
    assert jobs[failed]["status"] == "failed" and "lost on the Ray cluster" in jobs[failed]["error"]
    assert faults["running_killed"] and jobs[retried]["status"] == "executed"  # killed mid-notebook, retried
    # the rest of the graph went on, the report included; `latest` stays on the last complete run
    assert {j["status"] for name, j in jobs.items() if name != failed} <= {"executed", "reused"}
    assert (run_dir / "trend_report.html").exists() and _latest(run_dir) == "cluster-tables"
    assert not (run_dir / "results" / f"profile_{faults['failed']}.csv").exists()


def test_reused_steps_never_leave_the_driver(faults):
    jobs = Manifest.load(faults["run"]).data["jobs"]
    reused = {j["name"] for j in jobs if j["status"] == "reused"}
    assert any(name.startswith("02_density") for name in reused) and not reused & set(_ran_on(faults["run"]))


def test_ctrl_c_cancels_the_remote_jobs_and_leaves_no_half_written_file(driver, tables, catalogue):
    model = catalogue.smallest_per_generation()[-1].id
    result = driver.submit("interrupt", model)()
    run_dir = driver.out / "reports" / "cluster-interrupted"
    output = (driver.out / "cluster-interrupted.out").read_text()
    assert result["held"], output  # Ctrl-C came while the profiling job was out on the worker
    assert result["rc"] == 130 and output.rstrip().endswith(INTERRUPTED) and "Traceback" not in output, output
    assert not result["held_alive"]  # the remote job was cancelled, not left holding its node
    assert Manifest.load(run_dir).data["status"] == "interrupted" and _latest(run_dir) == "cluster-tables"
    assert_run_files_complete(run_dir)
    assert not list(run_dir.rglob("*.partial*")) and not (run_dir / "results" / f"profile_{model}.csv").exists()


def test_a_cuda_report_is_planned_on_a_driver_without_a_gpu_and_its_measuring_node_is_asked(driver, tables, catalogue):
    """The driver (no CUDA here) plans a --device cuda report; the node that declares the GPU is asked for its
    machine before any step is keyed, and its torch without CUDA is one clear message naming it (exit 2)."""
    model = catalogue.smallest_per_generation()[0].id
    result = driver.submit("cuda", model)()
    output = (driver.out / "cluster-cuda.out").read_text()
    assert result["rc"] == 2 and "Traceback" not in output, output
    assert f"node {WORKER_HOST} takes the cuda:0 jobs but cannot measure on cuda:0" in output, output
    assert "CUDA is not available on this machine" not in output
