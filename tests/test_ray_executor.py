"""`gentrend report --executor ray` on the session's two-node Ray cluster on loopback (tests/ray_cluster.py): the
same tables as the local executor, profiling jobs on the node declaring the resource they ask for and their rows
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

from gentrend.pipeline.executors.ray_executor import MAX_RETRIES
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.runner import EXIT_PARTIAL, run_report
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


@pytest.fixture(scope="module")
def tables(driver, tmp_path_factory):
    """The published-data stage on the cluster and, meanwhile, here with the local executor."""
    ray_result = driver.submit("tables")
    local = run_report(
        "local", ReportRequest(profile_models=()), reports_dir=tmp_path_factory.mktemp("local"), pdf=False
    )
    return {"rc": ray_result()["rc"], "run": driver.out / "reports" / "cluster-tables", "local": local}


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
    assert tables["rc"] == 0 and tables["local"].status == "complete"
    ray_run, local_run = tables["run"], tables["local"].run_dir
    names = sorted(p.name for p in (local_run / "tables").glob("*.csv"))
    assert names and names == sorted(p.name for p in (ray_run / "tables").glob("*.csv"))
    for name in set(names) - {"run.csv"}:  # run.csv: the run's own id and time
        assert (ray_run / "tables" / name).read_bytes() == (local_run / "tables" / name).read_bytes(), name
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
