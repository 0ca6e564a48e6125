"""Driver that tests/test_ray_executor.py runs in the hermetic cluster (tests/ray_cluster.py): one `gentrend report
--executor ray` per call, into $RT_OUT/reports (the calls share it), its output in $RT_OUT/<run>.out and what the
driver did in $RT_OUT/<run>.json ({"rc": exit code, ...}).

* `tables`: `--no-profile --no-pdf` (its tables are compared with a local run's).
* `faults FAILED RETRIED`: `--tiny` profiling of two models, every profiling job pinned to the node with the custom
  resource `gpu_slot` (GENTREND_RAY_MEASURE_RESOURCE). Every attempt of FAILED's job is held before its notebook
  (gentrend.core.markers: the held process writes its pid into the marker) and SIGKILLed there, so it fails on its
  retries too; the first Ray worker process seen running a notebook under the worker node's TMPDIR (RETRIED's job:
  FAILED's never gets that far) is SIGKILLed once, so Ray retries it.
* `cuda MODEL`: `--device cuda --tiny` profiling of MODEL from this driver without a GPU: planned here, the
  measuring machine asked of the node that declares a GPU (the worker, whose torch has no CUDA).
* `interrupt MODEL`: `--tiny` profiling of MODEL, held before its notebook on the worker; then Ctrl-C (SIGINT to the
  driver's process group, as a terminal sends it), and the time until the held task's process is gone.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(os.environ["RT_OUT"])
WORKER_TMP = Path(os.environ["RT_WORKER_TMP"])
GENTREND = [sys.executable, "-m", "gentrend.cli", "report", "--executor", "ray", "--ray-address", "auto"]
TINY_PROFILE = ["--device", "cpu", "--tiny", "--batch-sizes", "1", "--prompt-lengths", "8", "--new-tokens", "2"]
CANCEL_S = 60  # the most a cancelled task may take to end (held, it would wait gentrend.core.markers.HOLD_S)


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


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, killed and not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def report(run: str, *args: str, held_at: str = "", resource: bool = False) -> subprocess.Popen:
    """`gentrend report` in a process group of its own with Ctrl-C live, as from a terminal."""
    env = {**os.environ, "GENTREND_REPORTS": str(OUT / "reports")}
    if resource:
        env["GENTREND_RAY_MEASURE_RESOURCE"] = "gpu_slot"
    if held_at:
        env |= {"GENTREND_HOLD_AT": f"notebook:{held_at}", "GENTREND_HOLD_MARKER": str(OUT / f"{run}.held")}
    with open(OUT / f"{run}.out", "w") as log:
        return subprocess.Popen(
            [*GENTREND, "--run-id", run, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def tables() -> dict:
    return {"rc": report("cluster-tables", "--no-profile", "--no-pdf").wait()}


def faults(failed: str, retried: str) -> dict:
    marker = OUT / "cluster-faults.held"
    proc = report(
        "cluster-faults",
        *TINY_PROFILE,
        "--models",
        failed,
        retried,
        "--no-pdf",
        held_at=f"04_profile-{failed}.ipynb",
        resource=True,
    )
    held, killed = [], None
    while proc.poll() is None:
        if marker.exists():  # an attempt of FAILED's job: killed every time
            pid = int(marker.read_text())
            marker.unlink()
            os.kill(pid, signal.SIGKILL)
            held.append(pid)
        elif killed is None and (pid := task_under(WORKER_TMP)):  # RETRIED's job, mid-notebook: killed once
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.2)
    return {"rc": proc.returncode, "held_killed": held, "running_killed": killed}


def interrupt(model: str) -> dict:
    marker = OUT / "cluster-interrupted.held"
    proc = report(
        "cluster-interrupted",
        *TINY_PROFILE,
        "--models",
        model,
        "--no-pdf",
        held_at=f"04_profile-{model}.ipynb",
        resource=True,
    )
    while not marker.exists() and proc.poll() is None:
        time.sleep(0.2)
    if proc.poll() is not None:
        return {"rc": proc.returncode, "held": None}
    held = int(marker.read_text())
    os.killpg(proc.pid, signal.SIGINT)
    rc = proc.wait(timeout=120)
    deadline = time.monotonic() + CANCEL_S
    while alive(held) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {"rc": rc, "held": held, "held_alive": alive(held)}


def cuda(model: str) -> dict:
    grid = TINY_PROFILE[2:]  # the tiny grid, on --device cuda
    return {"rc": report("cluster-cuda", "--device", "cuda", *grid, "--models", model, "--no-pdf").wait()}


if __name__ == "__main__":
    scenario, *args = sys.argv[1:]
    result = {"tables": tables, "faults": faults, "interrupt": interrupt, "cuda": cuda}[scenario](*args)
    (OUT / f"{scenario}.json").write_text(json.dumps(result))
