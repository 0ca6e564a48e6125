"""Driver that tests/test_ray_executor.py runs inside the hermetic cluster (tests/ray_cluster.py): two reports on
the Ray executor, then the cluster's nodes; everything goes under $RT_OUT (reports/, *.out, killed.json, nodes.json).

1. `--no-profile --no-pdf` (its tables are compared with a local run's).
2. `--tiny` profiling of two models, every profiling job pinned to the node with the custom resource `gpu_slot`
   (GENTREND_RAY_MEASURE_RESOURCE); meanwhile the first Ray worker process seen running a notebook under the worker
   node's TMPDIR is SIGKILLed, once: Ray must retry that job.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ray

OUT = Path(os.environ["RT_OUT"])
WORKER_TMP = Path(sys.argv[1])  # then the models to profile
GENTREND = [sys.executable, "-m", "gentrend.cli", "report", "--executor", "ray", "--ray-address", "auto"]
env = {**os.environ, "GENTREND_REPORTS": str(OUT / "reports")}


def task_under(folder: Path) -> int | None:
    """The Ray worker process running a job in `folder`: titled "ray::remote_job", and (papermill changes into the
    notebook's folder while it runs it) with its working directory under `folder`; None while there is none."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(b"ray::remote_job") and Path(
                    os.readlink(proc / "cwd")
                ).is_relative_to(folder):
                    return int(proc.name)
            except OSError:
                continue
    return None


def report(name: str, *args: str, kill: bool = False) -> int:
    with open(OUT / f"{name}.out", "w") as log:
        proc = subprocess.Popen([*GENTREND, "--run-id", name, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        while kill and proc.poll() is None:  # the marker: a task running a notebook under the worker's TMPDIR
            worker = task_under(WORKER_TMP)
            if worker:
                os.kill(worker, signal.SIGKILL)
                (OUT / "killed.json").write_text(json.dumps({"worker": worker}))
                kill = False
            time.sleep(0.2)
        return proc.wait()


codes = {"tables": report("cluster-tables", "--no-profile", "--no-pdf")}
env["GENTREND_RAY_MEASURE_RESOURCE"] = "gpu_slot"
codes["profile"] = report(
    "cluster-profile", "--device", "cpu", "--tiny", "--models", *sys.argv[2:], "--no-pdf", kill=True
)
(OUT / "codes.json").write_text(json.dumps(codes))
ray.init(address="auto", logging_level="warning", log_to_driver=False)
nodes = [{"node_id": n["NodeID"], "resources": n["Resources"]} for n in ray.nodes() if n["Alive"]]
(OUT / "nodes.json").write_text(json.dumps(nodes))
ray.shutdown()
