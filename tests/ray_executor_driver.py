"""Driver that tests/test_ray_executor.py runs inside the hermetic cluster (tests/ray_cluster.py): two reports on
the Ray executor, then the cluster's nodes; everything goes under $RT_OUT (reports/, *.out, killed.json, nodes.json).

1. `--no-profile --no-pdf` (its tables are compared with a local run's).
2. `--tiny` profiling of two models, every profiling job pinned to the node with the custom resource `gpu_slot`
   (GENTREND_RAY_MEASURE_RESOURCE); meanwhile the first notebook kernel seen under the worker node's TMPDIR has its
   Ray worker process (the kernel's parent) SIGKILLed, once: Ray must retry that job.
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
WORKER_TMP = Path(os.environ["RT_WORKER_TMP"])
GENTREND = [sys.executable, "-m", "gentrend.cli", "report", "--executor", "ray", "--ray-address", "auto"]
env = {**os.environ, "GENTREND_REPORTS": str(OUT / "reports")}


def kernel_under(folder: Path) -> tuple[int, int] | None:
    """(pid, parent pid) of a process whose working directory is under `folder` (a notebook kernel), or None."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                    ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    return int(proc.name), ppid
            except (OSError, ValueError):
                continue
    return None


def report(name: str, *args: str, kill: bool = False) -> int:
    with open(OUT / f"{name}.out", "w") as log:
        proc = subprocess.Popen([*GENTREND, "--run-id", name, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        while kill and proc.poll() is None:  # a marker: the kernel process appears under the worker's TMPDIR
            found = kernel_under(WORKER_TMP)
            if found:
                kernel, worker = found
                os.kill(worker, signal.SIGKILL)
                (OUT / "killed.json").write_text(json.dumps({"kernel": kernel, "worker": worker}))
                kill = False
            time.sleep(0.2)
        return proc.wait()


codes = {"tables": report("cluster-tables", "--no-profile", "--no-pdf")}
env["GENTREND_RAY_MEASURE_RESOURCE"] = "gpu_slot"
codes["profile"] = report(
    "cluster-profile", "--device", "cpu", "--tiny", "--models", *sys.argv[1:], "--no-pdf", kill=True
)
(OUT / "codes.json").write_text(json.dumps(codes))
ray.init(address="auto", logging_level="warning", log_to_driver=False)
nodes = [{"node_id": n["NodeID"], "resources": n["Resources"]} for n in ray.nodes() if n["Alive"]]
(OUT / "nodes.json").write_text(json.dumps(nodes))
ray.shutdown()
