"""A hermetic two-node Ray cluster for tests: nothing of it is reachable from, or reaches, outside loopback.

`run_in_cluster(driver_argv, out)` runs ONE bash script in fresh network, PID and mount namespaces
(`unshare --net --pid --fork --mount-proc --kill-child`): it brings `lo` up (the only interface there), starts a
head node (`ray start --head --node-ip-address=127.0.0.1`) and a worker node on the same loopback address (its
own environment and declared resources: by default one GPU and one custom `gpu_slot`, both only numbers for the
scheduler), runs the driver command under `timeout`, and always stops the cluster (`ray stop --force`, a trap).

Why the namespaces:
* network: the only interface is a private `lo`, so cluster traffic cannot leave loopback, and the fixed ports Ray
  uses (GCS 6379, dashboard 8265, agents 52365...) never clash with other runs or with the host;
* PID: `ray stop --force` kills *every* Ray process it can see (it matches process names host-wide); in a PID
  namespace of its own it sees only this cluster. And when the namespace's first process dies (a timeout kills
  `unshare`, `--kill-child` SIGKILLs its child), the kernel kills everything left in it: no stray raylets.
Ray's temp dir is a short `/tmp/rt-XXXXXXXX` (Unix socket paths are limited to 107 bytes) set both as `--temp-dir`
and as RAY_TMPDIR, so nothing touches /tmp/ray; it is removed afterwards.

The driver gets RAY_ADDRESS=127.0.0.1:<port> (so `ray.init()` and `ray.init(address="auto")` both find the
cluster), RT_OUT (the folder for its results: `out`, outside the namespaces' lifetime) and RT_NODE_ROLE=driver.
Each node's `ray start` runs with RT_NODE_ROLE=head|worker, which its worker processes inherit: a per-node marker.
Timestamps of the phases go to `out/cluster_timeline.txt`; `cluster_timings(out)` turns them into seconds (on a
shared 2-core box: head ~9 s, worker ~6 s, `ray stop` ~2 s, each driver ~2 s to import ray and connect).
Kept light: one CPU per node, a 80 MiB object store, no dashboard, no log monitor (so a task's prints stay in the
session logs instead of reaching the driver's stdout: return results, or write them under RT_OUT), no usage stats,
token authentication with a fresh token (RAY_AUTH_MODE/RAY_AUTH_TOKEN, exported to every process inside).

Needs root (or unprivileged user namespaces: then `--map-root-user` is added, see `unshare_argv`), `ip`
(iproute2) and `ray` in the interpreter's bin folder. `cluster_unavailable()` says why not, or None.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")
PORT = 6379  # every port is free in a network namespace of our own
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's minimum is 75 MiB; the default would be 30% of RAM per node
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]

_SCRIPT = r"""
set -u
out=$RT_OUT; ray=$RT_RAY; port=$RT_PORT
mark() { echo "$1 $EPOCHREALTIME" >> "$out/cluster_timeline.txt"; }
stop_cluster() {
  rc=$?
  mark stop_begin
  timeout 60 "$ray" stop --force > "$out/ray_stop.log" 2>&1
  mark stop_end
  exit $rc
}
mark namespace
ip link set lo up || { echo "ray_cluster: cannot bring lo up" >&2; exit 90; }
ip -o link show > "$out/interfaces.txt"
trap stop_cluster EXIT
trap 'exit 143' TERM INT
common=(--node-ip-address=127.0.0.1 --num-cpus=1 --object-store-memory="$RT_OBJECT_STORE" --disable-usage-stats
        --include-log-monitor=false --log-style=record)
mark head_begin
RT_NODE_ROLE=head timeout 120 "$ray" start --head --port="$port" --temp-dir="$RT_DIR/ray" --num-gpus=0 \
  --include-dashboard=false "${common[@]}" > "$out/ray_head.log" 2>&1 \
  || { echo "ray_cluster: the head did not start, see $out/ray_head.log" >&2; tail -n 30 "$out/ray_head.log" >&2; exit 91; }
mark head_end
( if [ -n "${RT_WORKER_ENV:-}" ]; then . "$RT_WORKER_ENV"; fi
  export RT_NODE_ROLE=worker
  exec timeout 120 "$ray" start --address="127.0.0.1:$port" --num-gpus="$RT_WORKER_GPUS" \
    --resources="$RT_WORKER_RESOURCES" "${common[@]}" ) > "$out/ray_worker.log" 2>&1 \
  || { echo "ray_cluster: the worker did not start, see $out/ray_worker.log" >&2; tail -n 30 "$out/ray_worker.log" >&2; exit 92; }
mark worker_end
RAY_ADDRESS="127.0.0.1:$port" RT_NODE_ROLE=driver timeout --kill-after=10 "$RT_DRIVER_TIMEOUT" "$@"
rc=$?
mark driver_end
exit $rc
"""


@functools.cache
def unshare_argv() -> list[str]:
    """The `unshare` command line that works here: as root the plain one; without root, unprivileged user
    namespaces may still allow it with `--map-root-user` (the caller's uid becomes root inside). Raises
    RuntimeError saying what was refused."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        raise RuntimeError("needs unshare (util-linux) and ip (iproute2: apt-get install iproute2)")
    errors = []
    for argv in (NAMESPACES, NAMESPACES[:1] + ["--map-root-user"] + NAMESPACES[1:]):
        probe = subprocess.run([*argv, "sh", "-c", "ip link set lo up && ip -o link show"],
                               capture_output=True, text=True, timeout=30, check=False)
        if probe.returncode == 0:
            return argv
        errors.append(f"{shlex.join(argv)}: {probe.stderr.strip()}")
    raise RuntimeError("cannot make network namespaces: " + "; ".join(errors))


def cluster_unavailable() -> str | None:
    """Why a hermetic cluster cannot start here, or None."""
    if not RAY.exists():
        return f"needs ray ({RAY} is missing: pip install ray)"
    try:
        unshare_argv()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return None


def run_in_cluster(driver_argv: list[str], out: Path, *, worker_env: dict[str, str] | None = None,
                   worker_resources: dict[str, float] | None = None, worker_num_gpus: int = 1,
                   port: int = PORT, timeout: float = 180, cwd: Path | str | None = None) -> subprocess.CompletedProcess:
    """Start the two-node cluster, run `driver_argv` as its driver, stop it; return the CompletedProcess (text).

    out: a folder for results (the driver's RT_OUT), logs of `ray start`/`ray stop` and the timeline;
    worker_env: variables set for the worker node only (its raylet and so every task process on it);
    worker_resources: the worker's custom resources (default {"gpu_slot": 1}); worker_num_gpus: declared GPUs;
    timeout: the driver's limit in seconds (the whole run gets 300 s more for starting and stopping).
    On failure, the nodes' logs are copied to out/ray-logs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rt_dir = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    script = rt_dir / "cluster.sh"
    script.write_text(_SCRIPT)
    env = {**os.environ, "RT_OUT": str(out), "RT_RAY": str(RAY), "RT_PORT": str(port), "RT_DIR": str(rt_dir),
           "RT_OBJECT_STORE": str(OBJECT_STORE_BYTES), "RT_WORKER_GPUS": str(worker_num_gpus),
           "RT_WORKER_RESOURCES": json.dumps(worker_resources if worker_resources is not None else {"gpu_slot": 1}),
           "RT_DRIVER_TIMEOUT": str(int(timeout)), "RAY_TMPDIR": str(rt_dir), "RAY_USAGE_STATS_ENABLED": "0",
           # Token authentication, with a token of this cluster's own: without these, `ray start` turns it on or
           # off depending on whether ~/.ray/auth_token exists (which a local ray.init() writes).
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    for name in ("RAY_ADDRESS", "RT_WORKER_ENV", "RT_NODE_ROLE", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    if worker_env:
        env_file = rt_dir / "worker.env"
        env_file.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in worker_env.items()))
        env["RT_WORKER_ENV"] = str(env_file)
    (out / "cluster_timeline.txt").unlink(missing_ok=True)
    try:
        # On timeout subprocess.run SIGKILLs unshare; --kill-child then kills the namespace's init, and with it
        # every process of the cluster.
        proc = subprocess.run([*unshare_argv(), "bash", str(script), *map(str, driver_argv)], env=env, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout + 300, check=False)
        if proc.returncode != 0:
            logs = rt_dir / "ray" / "session_latest" / "logs"
            if logs.is_dir():
                shutil.copytree(logs, out / "ray-logs", ignore=shutil.ignore_patterns("events", "export_events", "old"),
                                dirs_exist_ok=True)
        return proc
    finally:
        shutil.rmtree(rt_dir, ignore_errors=True)


def cluster_timings(out: Path) -> dict[str, float]:
    """Seconds per phase of the last run_in_cluster into `out`: namespace_to_head (lo up etc.), head_start,
    worker_start, driver, stop (absent where the run did not get there)."""
    stamps = {}
    for line in (Path(out) / "cluster_timeline.txt").read_text().splitlines():
        name, stamp = line.split()
        stamps[name] = float(stamp)
    phases = {"namespace_to_head": ("namespace", "head_begin"), "head_start": ("head_begin", "head_end"),
              "worker_start": ("head_end", "worker_end"), "driver": ("worker_end", "driver_end"),
              "stop": ("stop_begin", "stop_end")}
    return {name: round(stamps[end] - stamps[begin], 2) for name, (begin, end) in phases.items()
            if begin in stamps and end in stamps}


@pytest.fixture(scope="session")
def hermetic_cluster():
    """`run_in_cluster`, or a skip (a failure under CI=1) where this machine cannot make the namespaces or lacks
    ray. Usage in a test module: `from ray_cluster import hermetic_cluster  # noqa: F401` and then
    `def test_x(hermetic_cluster, tmp_path): proc = hermetic_cluster([sys.executable, "driver.py"], tmp_path)`."""
    reason = cluster_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return run_in_cluster
