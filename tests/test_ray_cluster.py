"""A two-node Ray cluster on loopback (tests/ray_cluster.py: network and PID namespaces of its own, the session's
one cluster): two nodes at 127.0.0.1 with host names of their own, GPU-bound tasks on the worker only, a killed
task retried, a node with other packages detected.

tests/ray_cluster_driver.py runs (a)-(c) and leaves what it saw in checks.json; (d) is a `gentrend report
--executor ray` while the worker node reports another transformers version, which must refuse the cluster
(gentrend.pipeline.executors.nodes)."""

import importlib.metadata
import json
import shutil
import sys
from pathlib import Path

import pytest
from ray_cluster import HEAD_HOST, WORKER_HOST

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
FAKE_VERSION = "0.0.1"


@pytest.fixture(scope="module")
def cluster_run(ray_cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray-checks")
    proc = ray_cluster.run([sys.executable, "tests/ray_cluster_driver.py"], out, cwd=ROOT, timeout=240)
    checks = json.loads((out / "checks.json").read_text()) if (out / "checks.json").exists() else {}
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\nchecks: {checks}"
    return {"checks": checks, "out": out}


def test_two_nodes_on_loopback_only(cluster_run):
    checks = cluster_run["checks"]
    assert checks["interfaces"] == ["lo"]
    assert checks["outside"] == "ENETUNREACH"
    nodes = [n for n in checks["nodes"] if n["alive"]]
    assert len(nodes) == 2 and {n["address"] for n in nodes} == {"127.0.0.1"}
    assert sum(n["head"] for n in nodes) == 1
    worker = next(n for n in nodes if not n["head"])
    assert worker["resources"]["GPU"] == 1 and worker["resources"]["gpu_slot"] == 1
    assert {(n["head"], n["host"]) for n in nodes} == {(True, HEAD_HOST), (False, WORKER_HOST)}


def test_gpu_tasks_run_on_the_worker_only(cluster_run):
    checks = cluster_run["checks"]
    worker = next(n["node_id"] for n in checks["nodes"] if n["alive"] and not n["head"])
    head = next(n["node_id"] for n in checks["nodes"] if n["alive"] and n["head"])
    for task in checks["gpu_tasks"] + checks["slot_tasks"]:
        assert (task["node_id"], task["role"], task["host"]) == (worker, "worker", WORKER_HOST)
    # A declared GPU is just a number to Ray, yet it still points CUDA at device 0 for tasks holding it (harmless
    # for CPU torch: cuda.is_available() stays False); tasks without GPUs get no CUDA_VISIBLE_DEVICES at all.
    assert {(t["CUDA_VISIBLE_DEVICES"], tuple(t["gpu_ids"])) for t in checks["gpu_tasks"]} == {("0", (0,))}
    assert {(t["CUDA_VISIBLE_DEVICES"], tuple(t["gpu_ids"])) for t in checks["slot_tasks"]} == {(None, ())}
    head_task = checks["head_task"]
    assert (head_task["node_id"], head_task["role"], head_task["host"]) == (head, "head", HEAD_HOST)
    assert head_task["CUDA_VISIBLE_DEVICES"] is None


def test_a_task_whose_worker_process_is_killed_is_retried(cluster_run):
    checks = cluster_run["checks"]
    retried = checks["retried"]
    assert retried["role"] == "worker" and retried["pid"] != retried["killed_pid"]
    assert (cluster_run["out"] / "attempt-not-retried").exists()  # that task was killed too, and not rerun:
    assert checks["not_retried"] == {"error": "WorkerCrashedError"}


def test_the_ray_executor_refuses_a_node_with_other_package_versions_before_work(ray_cluster, tmp_path):
    # while the worker node's PYTHONPATH starts with this, importlib.metadata finds this transformers there first
    fake = ray_cluster.shadow / f"transformers-{FAKE_VERSION}.dist-info"
    fake.mkdir()
    (fake / "METADATA").write_text(f"Metadata-Version: 2.1\nName: transformers\nVersion: {FAKE_VERSION}\n")
    try:
        argv = [sys.executable, "-m", "gentrend.cli", "report", "--executor", "ray", "--ray-address", "auto"]
        proc = ray_cluster.run(
            [*argv, "--no-profile", "--no-pdf", "--run-id", "refused"],
            tmp_path,
            cwd=ROOT,
            env={"GENTREND_REPORTS": str(tmp_path / "reports")},
        )
    finally:
        shutil.rmtree(fake)
    message = proc.stderr
    assert proc.returncode == 2, message
    assert f"packages.transformers {FAKE_VERSION} (driver: {importlib.metadata.version('transformers')})" in message
    assert WORKER_HOST in message and HEAD_HOST not in message  # the node that differs, by name
    assert "How to fix" in message and "Traceback" not in message
    assert not list((tmp_path / "reports" / "refused" / "notebooks").glob("*.ipynb"))  # no notebook ran
