"""`gentrend report --executor ray` on a two-node Ray cluster on loopback (tests/ray_cluster.py): the same tables as
the local executor, profiling jobs on the node declaring the resource they ask for, a job whose worker process is
killed retried, reused steps kept on the driver. One cluster start; tests/ray_executor_driver.py runs both reports.
A node with other package versions is refused: tests/test_ray_cluster.py (its cluster has one)."""

import json
import re
import sys
from pathlib import Path

import pytest
from ray_cluster import hermetic_cluster  # noqa: F401 (a fixture)

from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.runner import run_report

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster(hermetic_cluster, tmp_path_factory, catalogue):  # noqa: F811
    out = tmp_path_factory.mktemp("ray-executor")
    worker_tmp = out / "worker-tmp"
    worker_tmp.mkdir()
    models = [m.id for m in catalogue.smallest_per_generation()[:2]]
    proc = hermetic_cluster(
        [sys.executable, str(ROOT / "tests" / "ray_executor_driver.py"), str(worker_tmp), *models],
        out,
        worker_env={"TMPDIR": str(worker_tmp)},
        cwd=ROOT,
        timeout=1500,
    )
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    nodes = json.loads((out / "nodes.json").read_text())
    return {
        "out": out,
        "codes": json.loads((out / "codes.json").read_text()),
        "models": models,
        "worker": next(n["node_id"] for n in nodes if n["resources"].get("gpu_slot")),
        "nodes": [n["node_id"] for n in nodes],
    }


def _ran_on(run_dir: Path) -> dict[str, str]:
    """{notebook: node id prefix} from the run's log."""
    lines = (run_dir / "run.log").read_text()
    return dict(re.findall(r"ran (\S+\.ipynb) on \S+ \(node (\w+)", lines))


def test_the_cluster_gives_the_local_executors_tables(cluster, tmp_path):
    assert cluster["codes"]["tables"] == 0
    ray_run = cluster["out"] / "reports" / "cluster-tables"
    local = run_report("local", ReportRequest(profile_models=()), reports_dir=tmp_path, pdf=False)
    assert local.status == "complete"
    tables = sorted(p.name for p in (local.run_dir / "tables").glob("*.csv"))
    assert tables and tables == sorted(p.name for p in (ray_run / "tables").glob("*.csv"))
    for name in set(tables) - {"run.csv"}:  # run.csv: the run's own id and time
        assert (ray_run / "tables" / name).read_bytes() == (local.run_dir / "tables" / name).read_bytes(), name
    ran = _ran_on(ray_run)  # every notebook went out to the cluster, and both nodes took some
    assert set(ran) == {p.name for p in (ray_run / "notebooks").glob("*.ipynb")}
    assert {node for node in ran.values()} == {n[:12] for n in cluster["nodes"]}


def test_every_profiling_job_runs_on_the_node_with_the_resource_and_a_killed_one_is_retried(cluster):
    assert cluster["codes"]["profile"] == 0
    run_dir = cluster["out"] / "reports" / "cluster-profile"
    manifest = Manifest.load(run_dir)
    assert manifest.data["status"] == "complete"
    profiling = {f"04_profile-{m}.ipynb" for m in cluster["models"]}
    ran = _ran_on(run_dir)
    assert profiling <= set(ran) and {ran[name] for name in profiling} == {cluster["worker"][:12]}
    for m in cluster["models"]:
        rows = (run_dir / "results" / f"profile_{m}.csv").read_text()
        assert ",cpu," in rows  # measured on the CPU, though the node declares a GPU
    assert json.loads((cluster["out"] / "killed.json").read_text())["worker"]  # a job's process was killed mid-run
    # the published-data steps are those of the first run: reused on the driver, never sent out
    reused = {j["name"] for j in manifest.data["jobs"] if j["status"] == "reused"}
    assert any(name.startswith("02_density") for name in reused) and not reused & set(ran)
