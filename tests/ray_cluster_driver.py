"""Driver that tests/test_ray_cluster.py runs in the hermetic cluster (tests/ray_cluster.py): it connects to
RAY_ADDRESS, looks at the nodes, places tasks and kills one mid-run; everything it sees goes to $RT_OUT/checks.json
(the test asserts on that file, so a failed check here still leaves evidence)."""

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def where() -> dict:
    """Which node and process ran this task, and what Ray put in its environment."""
    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "role": os.environ.get("RT_NODE_ROLE"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "gpu_ids": ray.get_gpu_ids(),
    }


def die_on_first_attempt(marker: str) -> dict:
    """The first attempt records its pid in `marker` and SIGKILLs its own worker process; a retry returns."""
    if not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), 9)
    return {**where(), "killed_pid": int(Path(marker).read_text())}


def outside_reachable() -> str:
    """Try a TCP connection to a public address: in the namespace it must fail at once (no route)."""
    try:
        socket.create_connection(("8.8.8.8", 53), timeout=3).close()
        return "reachable"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error)) if error.errno else type(error).__name__


def main(out: Path) -> None:
    checks = {}

    def save():
        (out / "checks.json").write_text(json.dumps(checks, indent=1))

    started = time.perf_counter()
    ray.init(address=os.environ["RAY_ADDRESS"], logging_level="warning", log_to_driver=False)
    checks["init_s"] = round(time.perf_counter() - started, 2)
    checks["interfaces"] = [name for _, name in socket.if_nameindex()]
    checks["outside"] = outside_reachable()
    checks["nodes"] = [
        {
            "node_id": n["NodeID"],
            "address": n["NodeManagerAddress"],
            "host": n["NodeManagerHostname"],
            "alive": n["Alive"],
            "head": "node:__internal_head__" in n["Resources"],
            "resources": n["Resources"],
        }
        for n in ray.nodes()
    ]
    save()
    head = next(n["node_id"] for n in checks["nodes"] if n["head"] and n["alive"])

    # (b) placement: tasks that need the declared GPU or the custom slot land on the worker; CPU tasks pinned
    # to the head run there (and see no CUDA_VISIBLE_DEVICES).
    t = time.perf_counter()
    gpu = ray.remote(num_cpus=0, num_gpus=1)(where)
    slot = ray.remote(num_cpus=0, resources={"gpu_slot": 1})(where)
    on_head = ray.remote(num_cpus=1)(where).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)
    )
    checks["gpu_tasks"] = ray.get([gpu.remote() for _ in range(3)])
    checks["slot_tasks"] = ray.get([slot.remote() for _ in range(3)])
    checks["head_task"] = ray.get(on_head.remote())
    checks["placement_s"] = round(time.perf_counter() - t, 2)
    save()

    # (c) a worker process killed mid-task: with max_retries=1 Ray reruns the task (in a new process) and the
    # driver gets its result; with max_retries=0 the driver gets WorkerCrashedError.
    t = time.perf_counter()
    task = ray.remote(num_cpus=0, resources={"gpu_slot": 1})(die_on_first_attempt)
    checks["retried"] = ray.get(task.options(max_retries=1).remote(str(out / "attempt-retried")), timeout=120)
    try:
        checks["not_retried"] = ray.get(
            task.options(max_retries=0).remote(str(out / "attempt-not-retried")), timeout=120
        )
    except ray.exceptions.RayError as error:
        checks["not_retried"] = {"error": type(error).__name__}
    checks["kill_s"] = round(time.perf_counter() - t, 2)
    checks["total_s"] = round(time.perf_counter() - started, 2)
    save()
    ray.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["RT_OUT"]))
