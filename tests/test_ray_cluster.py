"""A two-node Ray cluster on loopback (tests/ray_cluster.py: network and PID namespaces of its own): two nodes at
127.0.0.1, GPU-bound tasks on the worker only, a killed task retried, a node with other packages detected.

One cluster start serves all four tests (it takes most of the time): the worker node runs with a PYTHONPATH that
shadows transformers' version, and two drivers run one after the other, tests/ray_cluster_driver.py ((a)-(c)) and
benchmarks/ray_node_environments.py ((d))."""

import importlib.metadata
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from ray_cluster import cluster_timings, hermetic_cluster  # noqa: F401 (hermetic_cluster is a fixture)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
FAKE_VERSION = "0.0.1"


@pytest.fixture(scope="module")
def cluster_run(hermetic_cluster, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("ray-cluster")
    shadow = out / "shadow"  # on the worker's PYTHONPATH: importlib.metadata finds this transformers first
    (shadow / f"transformers-{FAKE_VERSION}.dist-info").mkdir(parents=True)
    (shadow / f"transformers-{FAKE_VERSION}.dist-info" / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: transformers\nVersion: {FAKE_VERSION}\n")
    python, models = shlex.quote(sys.executable), shlex.quote(str(ROOT / "data" / "models.yaml"))
    drivers = (f"{python} tests/ray_cluster_driver.py && "
               f"{python} benchmarks/ray_node_environments.py transformers ray --data-file {models}"
               f" --env RT_NODE_ROLE --json {shlex.quote(str(out / 'environments.json'))}")
    pythonpath = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    proc = hermetic_cluster(["bash", "-c", drivers], out, worker_env={"PYTHONPATH": pythonpath}, cwd=ROOT, timeout=240)
    timings = cluster_timings(out)
    print(f"cluster phases (s): {timings}")
    (out / "timings.json").write_text(json.dumps(timings))
    checks = json.loads((out / "checks.json").read_text()) if (out / "checks.json").exists() else {}
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\nchecks: {checks}"
    assert "stop" in timings, "the cluster was not stopped by the script's trap"
    return {"checks": checks, "environments": json.loads((out / "environments.json").read_text()), "out": out,
            "stdout": proc.stdout}


def test_two_nodes_on_loopback_only(cluster_run):
    checks = cluster_run["checks"]
    assert checks["interfaces"] == ["lo"]
    assert checks["outside"] == "ENETUNREACH"
    nodes = [n for n in checks["nodes"] if n["alive"]]
    assert len(nodes) == 2 and {n["address"] for n in nodes} == {"127.0.0.1"}
    assert sum(n["head"] for n in nodes) == 1
    worker = next(n for n in nodes if not n["head"])
    assert worker["resources"]["GPU"] == 1 and worker["resources"]["gpu_slot"] == 1


def test_gpu_tasks_run_on_the_worker_only(cluster_run):
    checks = cluster_run["checks"]
    worker = next(n["node_id"] for n in checks["nodes"] if n["alive"] and not n["head"])
    head = next(n["node_id"] for n in checks["nodes"] if n["alive"] and n["head"])
    for task in checks["gpu_tasks"] + checks["slot_tasks"]:
        assert (task["node_id"], task["role"]) == (worker, "worker")
    # A declared GPU is just a number to Ray, yet it still points CUDA at device 0 for tasks holding it (harmless
    # for CPU torch: cuda.is_available() stays False); tasks without GPUs get no CUDA_VISIBLE_DEVICES at all.
    assert {(t["CUDA_VISIBLE_DEVICES"], tuple(t["gpu_ids"])) for t in checks["gpu_tasks"]} == {("0", (0,))}
    assert {(t["CUDA_VISIBLE_DEVICES"], tuple(t["gpu_ids"])) for t in checks["slot_tasks"]} == {(None, ())}
    assert (checks["head_task"]["node_id"], checks["head_task"]["role"]) == (head, "head")
    assert checks["head_task"]["CUDA_VISIBLE_DEVICES"] is None


def test_a_task_whose_worker_process_is_killed_is_retried(cluster_run):
    checks = cluster_run["checks"]
    retried = checks["retried"]
    assert retried["role"] == "worker" and retried["pid"] != retried["killed_pid"]
    assert (cluster_run["out"] / "attempt-not-retried").exists()  # that task was killed too, and not rerun:
    assert checks["not_retried"] == {"error": "WorkerCrashedError"}


def test_a_node_with_other_package_versions_is_detected(cluster_run):
    result = cluster_run["environments"]
    nodes = result["nodes"]
    assert len(nodes) == 2 and not any("error" in entry for entry in nodes.values())
    by_role = {entry["env"]["RT_NODE_ROLE"]: entry for entry in nodes.values()}
    assert by_role["head"]["packages"]["transformers"] == importlib.metadata.version("transformers")
    assert by_role["worker"]["packages"]["transformers"] == FAKE_VERSION
    assert by_role["head"]["packages"]["ray"] == by_role["worker"]["packages"]["ray"] == importlib.metadata.version("ray")
    assert set(result["differences"]) == {"packages.transformers", "env.RT_NODE_ROLE"}
    data_file = str(ROOT / "data" / "models.yaml")
    assert by_role["head"]["data_files"][data_file] == by_role["worker"]["data_files"][data_file] is not None
    assert "DIFFERS packages.transformers" in cluster_run["stdout"]
