"""A hermetic two-node Ray cluster for tests: nothing of it is reachable from, or reaches, outside loopback.

`Cluster(out)` starts it, once for a whole test session (the `ray_cluster` fixture of tests/conftest.py, started
when the first test asking for it runs); `run(argv, out)` runs a driver command in it and returns a
CompletedProcess (text), `submit` starts one and returns the function that waits for it; `stop()` stops it.
It is ONE bash script in fresh network, PID and mount namespaces (`unshare --net --pid --fork --mount-proc
--kill-child`): it brings `lo` up (the only interface there), starts a head node (`ray start --head
--node-ip-address=127.0.0.1`) and a worker node on the same loopback address, then runs the driver commands it
is sent (one at a time, through a FIFO), and always stops the cluster (`ray stop --force`, a trap) when told to
or killed.

Why the namespaces:
* network: the only interface is a private `lo`, so cluster traffic cannot leave loopback, and the fixed ports Ray
  uses (GCS 6379, dashboard 8265, agents 52365...) never clash with other runs or with the host;
* PID: `ray stop --force` kills *every* Ray process it can see (it matches process names host-wide); in a PID
  namespace of its own it sees only this cluster. And when the namespace's first process dies (`stop` kills
  `unshare` if the script does not end, `--kill-child` SIGKILLs its child), the kernel kills everything left in
  it: no stray raylets;
* UTS: each node starts in a UTS namespace of its own, with its own host name (HEAD_HOST, WORKER_HOST), so what a
  job records as its host names the node that ran it. Drivers keep the machine's host name.
Ray's temp dir is a short `/tmp/rt-XXXXXXXX` (Unix socket paths are limited to 107 bytes) set both as `--temp-dir`
and as RAY_TMPDIR, so nothing touches /tmp/ray; it is removed afterwards.

The worker node: one GPU and one custom `gpu_slot` declared (only numbers for the scheduler), TMPDIR `worker_tmp`
(so its tasks' temporary folders are told apart from the head's), and `shadow` first on its PYTHONPATH (empty; a
test may put a package's metadata there to make the node report another version). Each node's `ray start` runs
with RT_NODE_ROLE=head|worker, which its worker processes inherit: a per-node marker.
A driver gets RAY_ADDRESS=127.0.0.1:<port> (so `ray.init()` and `ray.init(address="auto")` both find the
cluster), RT_OUT (the folder for its results) and RT_NODE_ROLE=driver. Timestamps of the start-up go to
`out/cluster_timeline.txt`; `cluster_timings(out)` turns them into seconds (on a shared 2-core box: head ~9 s,
worker ~6 s, `ray stop` ~2 s, each driver ~2 s to import ray and connect).
Kept light: one CPU per node, a 80 MiB object store, no dashboard, no log monitor (so a task's prints stay in the
session logs instead of reaching the driver's stdout: return results, or write them under RT_OUT), no usage stats,
token authentication with a fresh token (RAY_AUTH_MODE/RAY_AUTH_TOKEN, exported to every process inside).

Needs root (or unprivileged user namespaces: then `--map-root-user` is added, see `unshare_argv`), `ip`
(iproute2) and `ray` in the interpreter's bin folder. `cluster_unavailable()` says why not, or None.
"""

from __future__ import annotations

import errno
import functools
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
PORT = 6379  # every port is free in a network namespace of our own
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's minimum is 75 MiB; the default would be 30% of RAM per node
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]
HEAD_HOST, WORKER_HOST = "gentrend-head", "gentrend-worker"
START_S = 300  # the most the two nodes may take to start

_SCRIPT = r"""
set -u
out=$RT_OUT; ray=$RT_RAY; port=$RT_PORT; jobs=$RT_DIR/jobs
mark() { echo "$1 $EPOCHREALTIME" >> "$out/cluster_timeline.txt"; }
stop_cluster() {
  rc=$?
  mark stop_begin
  timeout 60 "$ray" stop --force > "$out/ray_stop.log" 2>&1
  mark stop_end
  exit $rc
}
# as_host NAME COMMAND...: COMMAND in a UTS namespace of its own, whose host name is NAME
as_host() { unshare --uts sh -c 'hostname "$0" && exec "$@"' "$@"; }
mark namespace
ip link set lo up || { echo "ray_cluster: cannot bring lo up" >&2; exit 90; }
ip -o link show > "$out/interfaces.txt"
trap stop_cluster EXIT
trap 'exit 143' TERM INT
common=(--node-ip-address=127.0.0.1 --num-cpus=1 --object-store-memory="$RT_OBJECT_STORE" --disable-usage-stats
        --include-log-monitor=false --log-style=record)
mark head_begin
as_host "$RT_HEAD_HOST" env RT_NODE_ROLE=head timeout 120 "$ray" start --head --port="$port" \
  --temp-dir="$RT_DIR/ray" --num-gpus=0 --include-dashboard=false "${common[@]}" > "$out/ray_head.log" 2>&1 \
  || { echo "ray_cluster: the head did not start, see $out/ray_head.log" >&2; tail -n 30 "$out/ray_head.log" >&2; exit 91; }
mark head_end
as_host "$RT_WORKER_HOST" env RT_NODE_ROLE=worker TMPDIR="$RT_WORKER_TMP" PYTHONPATH="$RT_WORKER_PYTHONPATH" \
  timeout 120 "$ray" start --address="127.0.0.1:$port" --num-gpus=1 --resources='{"gpu_slot": 1}' "${common[@]}" \
  > "$out/ray_worker.log" 2>&1 \
  || { echo "ray_cluster: the worker did not start, see $out/ray_worker.log" >&2; tail -n 30 "$out/ray_worker.log" >&2; exit 92; }
mark worker_end
mkfifo "$jobs" && : > "$RT_DIR/ready"
# each line is a job folder (run.sh, timeout); its exit status goes to <job>/rc; "stop" ends the script
while IFS= read -r job < "$jobs"; do
  [ "$job" = stop ] && exit 0
  RAY_ADDRESS="127.0.0.1:$port" RT_NODE_ROLE=driver timeout --kill-after=10 "$(cat "$job/timeout")" \
    bash "$job/run.sh" > "$job/stdout" 2> "$job/stderr"
  echo $? > "$job/rc.part" && mv "$job/rc.part" "$job/rc"
done
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
        probe = subprocess.run(
            [*argv, "sh", "-c", "ip link set lo up && ip -o link show && unshare --uts hostname probe"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
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


class Cluster:
    """The running cluster (see the module docstring): `run` drivers in it, one at a time, then `stop` it."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.worker_tmp, self.shadow = self.out / "worker-tmp", self.out / "shadow"
        for folder in (self.out, self.worker_tmp, self.shadow):
            folder.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
        (self._dir / "cluster.sh").write_text(_SCRIPT)
        env = {
            **os.environ,
            "RT_OUT": str(self.out),
            "RT_RAY": str(RAY),
            "RT_PORT": str(PORT),
            "RT_DIR": str(self._dir),
            "RT_OBJECT_STORE": str(OBJECT_STORE_BYTES),
            "RT_HEAD_HOST": HEAD_HOST,
            "RT_WORKER_HOST": WORKER_HOST,
            "RT_WORKER_TMP": str(self.worker_tmp),
            "RT_WORKER_PYTHONPATH": os.pathsep.join(filter(None, [str(self.shadow), os.environ.get("PYTHONPATH")])),
            "RAY_TMPDIR": str(self._dir),
            "RAY_USAGE_STATS_ENABLED": "0",
            # Token authentication, with a token of this cluster's own: without these, `ray start` turns it on or
            # off depending on whether ~/.ray/auth_token exists (which a local ray.init() writes).
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
        }
        for name in ("RAY_ADDRESS", "RT_NODE_ROLE", "RAY_AUTH_TOKEN_PATH"):
            env.pop(name, None)
        (self.out / "cluster_timeline.txt").unlink(missing_ok=True)
        with open(self.out / "cluster.log", "w") as log:
            self._proc = subprocess.Popen(
                [*unshare_argv(), "bash", str(self._dir / "cluster.sh")], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait(lambda: (self._dir / "ready").exists(), START_S, "to start")
        except RuntimeError:
            self.stop()
            raise

    def _wait(self, done, timeout: float, what: str) -> None:
        """Wait for `done()`; a RuntimeError (with the cluster's output) if the cluster ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not done():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                ended = "ended" if self._proc.poll() is not None else f"took over {timeout:g} s"
                raise RuntimeError(f"the Ray test cluster {ended} {what}:\n{(self.out / 'cluster.log').read_text()}")
            time.sleep(0.1)

    def _send(self, line: str) -> None:
        """One line to the script's FIFO, once the script is reading it (it opens the FIFO again per job)."""
        fd = None

        def opened() -> bool:
            nonlocal fd
            try:
                fd = os.open(self._dir / "jobs", os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:  # ENXIO: no reader yet (the script is finishing the previous job)
                if error.errno != errno.ENXIO:
                    raise
            return fd is not None

        self._wait(opened, 60, "before reading the next command")
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)

    def run(self, *args, **kwargs) -> subprocess.CompletedProcess:
        """`submit`, and wait for the driver to end."""
        return self.submit(*args, **kwargs)()

    def submit(
        self, argv: list, out: Path, *, timeout: float = 180, cwd: Path | None = None, env: dict | None = None
    ) -> Callable[[], subprocess.CompletedProcess]:
        """Start `argv` as a driver of the cluster (in `cwd`, with `env` added; RT_OUT=`out`), killed after `timeout`
        seconds; returns a function that waits for it to end. On failure, the nodes' logs are copied to
        out/ray-logs. Drivers run one at a time: wait for one before submitting the next."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        job = Path(tempfile.mkdtemp(prefix="job-", dir=self._dir))
        variables = {"RT_OUT": str(out), **(env or {})}
        (job / "run.sh").write_text(
            f"cd {shlex.quote(str(cwd or Path.cwd()))}\n"
            + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())
            + f"exec {shlex.join(map(str, argv))}\n"
        )
        (job / "timeout").write_text(str(int(timeout)))
        self._send(str(job))

        def wait() -> subprocess.CompletedProcess:
            self._wait(lambda: (job / "rc").exists(), timeout + 30, f"while running {shlex.join(map(str, argv))}")
            proc = subprocess.CompletedProcess(
                argv, int((job / "rc").read_text()), (job / "stdout").read_text(), (job / "stderr").read_text()
            )
            logs = self._dir / "ray" / "session_latest" / "logs"
            if proc.returncode != 0 and logs.is_dir():
                shutil.copytree(
                    logs,
                    out / "ray-logs",
                    ignore=shutil.ignore_patterns("events", "export_events", "old"),
                    dirs_exist_ok=True,
                )
            return proc

        return wait

    def stop(self) -> dict[str, float]:
        """Stop the cluster (`ray stop` in the script's trap; if the script does not end, killing `unshare` takes
        the whole namespace down) and remove its temp folder; the phases' seconds (`cluster_timings`)."""
        try:
            if (self._dir / "ready").exists():  # else it is still starting: killed below
                self._send("stop")
                self._proc.wait(timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            shutil.rmtree(self._dir, ignore_errors=True)
        return cluster_timings(self.out)


def cluster_timings(out: Path) -> dict[str, float]:
    """Seconds per phase of the cluster started into `out`: namespace_to_head (lo up etc.), head_start,
    worker_start, stop (absent where it did not get there)."""
    stamps = {}
    for line in (Path(out) / "cluster_timeline.txt").read_text().splitlines():
        name, stamp = line.split()
        stamps[name] = float(stamp)
    phases = {
        "namespace_to_head": ("namespace", "head_begin"),
        "head_start": ("head_begin", "head_end"),
        "worker_start": ("head_end", "worker_end"),
        "stop": ("stop_begin", "stop_end"),
    }
    return {
        name: round(stamps[end] - stamps[begin], 2)
        for name, (begin, end) in phases.items()
        if begin in stamps and end in stamps
    }
