"""The Ray executor: each notebook job a Ray task on a cluster (or a local Ray instance), outputs back as bytes.

* Connect: `ray.init(address)` with "auto", "HOST:PORT" or "ray://HOST:10001"; without an address, a local
  instance on this machine's cores and GPUs (its temp folder and authentication token kept out of $HOME).
* Before any work: every alive node is compared with the driver (gentrend.pipeline.executors.nodes); a difference
  stops the run with one message naming the node.
* Resources: a job that measures (profiling, evaluation) on CUDA asks for one whole GPU, so a GPU measures one
  model at a time; every other job, and a measuring job on the CPU, one CPU. GENTREND_RAY_MEASURE_RESOURCE=<name>
  adds one unit of a custom resource to every measuring job (to keep them on nodes declaring it, e.g.
  `ray start --resources='{"<name>": 1}'`).
* Step keys: a measuring step's key holds the fingerprint of the machine that measures (`machine`), asked of a
  node with the job's resources by a probe task, so the driver needs no GPU of its own for a --device cuda report
  (with several kinds of node, the first that answers stands for all: their rows name each one).
* Faults: a task whose worker process or node dies is retried by Ray (MAX_RETRIES times, on any node with the
  resources); a notebook that fails is not retried (it would fail again) and comes back with its error.
  Ctrl-C (or any error) on the driver cancels the tasks still out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import socket
import tempfile
from pathlib import Path

from gentrend.core.environment import environment, fingerprint
from gentrend.core.errors import NotebookError, SettingError
from gentrend.pipeline.executors.nodes import check_nodes, node_environments, probe
from gentrend.pipeline.executors.transfer import apply_result, data_files, driver_variables, job_inputs, run_job
from gentrend.pipeline.notebooks import NotebookJob

MAX_RETRIES = 2
MEASURE_RESOURCE = "GENTREND_RAY_MEASURE_RESOURCE"
MACHINE_WAIT_S = 600  # how long a node with a measuring job's resources may take to appear (an autoscaler's start)


def resources(job: NotebookJob) -> dict:
    """The Ray resources a job asks for (see the module docstring)."""
    if not job.measures:
        return {"num_cpus": 1}
    asked = {"num_gpus": 1, "num_cpus": 0} if job.parameters.get("device", "").startswith("cuda") else {"num_cpus": 1}
    custom = os.environ.get(MEASURE_RESOURCE)
    return {**asked, "resources": {custom: 1}} if custom else asked


def remote_job(job: NotebookJob, inputs: dict, data: dict, variables: dict) -> dict:
    """The Ray task: run_job (on the device the task holds), and which node and GPUs ran it."""
    import ray

    gpus = ray.get_gpu_ids()
    job = _on_device(job, gpus)
    node = ray.get_runtime_context().get_node_id()
    return {**run_job(job, inputs, data, variables), "node": node, "gpus": [str(g) for g in gpus]}


def _on_device(job: NotebookJob, gpus: list) -> NotebookJob:
    """A task holding a GPU sees only that one (Ray sets CUDA_VISIBLE_DEVICES): a job planned for cuda:N runs on
    "cuda" there."""
    if gpus and str(job.parameters.get("device", "")).startswith("cuda"):
        return dataclasses.replace(job, parameters={**job.parameters, "device": "cuda"})
    return job


def remote_machine(job: NotebookJob) -> dict:
    """The Ray task behind RayExecutor.machine: this node's host and the fingerprint of its environment for the
    job's device, or why it has none."""
    import ray

    device = _on_device(job, ray.get_gpu_ids()).parameters["device"]
    try:
        return {"host": socket.gethostname(), "fingerprint": fingerprint(environment(device))}
    except (AssertionError, RuntimeError) as e:  # torch without CUDA, or no such GPU
        return {"host": socket.gethostname(), "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}


class RayExecutor:
    """Jobs out to Ray tasks, finished ones back in the order they finish."""

    def __init__(self, address: str = ""):
        self.address = address
        self._out: dict = {}  # ObjectRef -> (index, job)
        self._machines: dict[str, str] = {}  # the job's device and resources -> fingerprint
        self._temp: tempfile.TemporaryDirectory | None = None

    def __enter__(self):
        if not self.address:  # a local instance: a token of its own (else Ray writes ~/.ray/auth_token); read at import
            os.environ.setdefault("RAY_AUTH_MODE", "token")
            os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
        try:
            import ray
        except ImportError:
            raise SettingError(
                "--executor ray needs the ray package", "pip install -r requirements.txt (it pins ray)"
            ) from None
        self._ray = ray
        return self

    def __exit__(self, *exc):
        self.cancel()
        if self._ray.is_initialized():
            self._ray.shutdown()
        if self._temp:
            self._temp.cleanup()

    def start(self, run_dir: Path, log) -> None:
        """Connect, compare every node with this machine, and send the data folder once."""
        ray = self._ray
        options = {"logging_level": "warning", "log_to_driver": False}
        if self.address:
            options["address"] = self.address
        else:  # a local instance, with a temp folder of its own (short: Unix socket paths are limited)
            self._temp = tempfile.TemporaryDirectory(prefix="rt-", dir="/tmp")
            options |= {"include_dashboard": False, "_temp_dir": self._temp.name}
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as e:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise SettingError(
                f"cannot connect to {where}: {type(e).__name__}: {str(e).splitlines()[0]}",
                "start the cluster first (`ray start --head` on one machine, `ray start --address HEAD:6379` on "
                "the others) and pass its address: --ray-address auto | HOST:PORT | ray://HOST:10001; with token "
                "authentication, the token must be in ~/.ray/auth_token or RAY_AUTH_TOKEN",
            ) from None
        envs = node_environments()
        check_nodes(envs, probe())
        log.info(
            "ray executor: %d node(s): %s; resources %s",
            len(envs),
            ", ".join(f"{node[:12]} {e['hostname']} {e['address']}" for node, e in envs.items()),
            ray.cluster_resources(),
        )
        self._data = ray.put(data_files())
        self._run_dir, self._log = run_dir, log
        self._task = ray.remote(max_retries=MAX_RETRIES)(remote_job)

    @property
    def running(self) -> int:
        return len(self._out)

    def pending(self) -> int:
        return len(self._out)

    def machine(self, job: NotebookJob) -> str:
        """The fingerprint of the machine that measures `job`: asked once per device and resources of a node that
        has them (a probe task with the job's resources; see the module docstring)."""
        asked = resources(job)
        key = json.dumps([job.parameters["device"], asked], sort_keys=True)
        if key not in self._machines:
            ref = self._ray.remote(remote_machine).options(**asked).remote(job)
            try:
                found = self._ray.get(ref, timeout=MACHINE_WAIT_S)
            except self._ray.exceptions.GetTimeoutError:
                self._ray.cancel(ref, force=True)
                raise SettingError(
                    f"no node of the Ray cluster took a job asking for {asked} within {MACHINE_WAIT_S} s",
                    "start a node with those resources (`ray start --num-gpus N` on a GPU machine; "
                    f"`--resources` for {MEASURE_RESOURCE}), or choose another --device",
                ) from None
            if "error" in found:
                raise SettingError(
                    f"node {found['host']} takes the {job.parameters['device']} jobs but cannot measure on "
                    f"{job.parameters['device']}: {found['error']}",
                    "install torch with CUDA there (a node started with --num-gpus needs GPUs torch can see), "
                    "or choose another --device",
                )
            self._machines[key] = found["fingerprint"]
        return self._machines[key]

    def submit(self, index: int, job: NotebookJob) -> None:
        inputs = job_inputs(job, self._run_dir)
        ref = self._task.options(**resources(job)).remote(job, inputs, self._data, driver_variables())
        self._out[ref] = (index, job)

    def finished(self) -> list[tuple[int, object]]:
        """[(index, action)] of the tasks done (at least one; waits): the action writes the job's files into the
        run folder and raises its error."""
        ready, _ = self._ray.wait(list(self._out), num_returns=1)
        return [(self._out[ref][0], self._action(ref, *self._out.pop(ref))) for ref in ready]

    def _action(self, ref, index: int, job: NotebookJob):
        def action():
            try:
                result = self._ray.get(ref)
            except self._ray.exceptions.RayError as e:
                raise NotebookError(
                    f"{job.output_name} was lost on the Ray cluster ({type(e).__name__}) after {MAX_RETRIES} retries",
                    "check the nodes' logs (`ray logs`), memory and health; run again to redo the missing jobs",
                ) from None
            self._log.info(
                "ran %s on %s (node %s) in %.1f s",
                job.output_name,
                result["host"],
                result["node"][:12],
                result["seconds"],
            )
            apply_result(self._run_dir, job, result)

        return action

    def cancel(self) -> None:
        for ref in list(self._out):
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        self._out.clear()
