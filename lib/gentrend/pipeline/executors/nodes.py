"""What software each node of a Ray cluster has, so a run refuses a cluster whose nodes differ from the driver.

`node_environments()` runs one probe task pinned to each alive node (NodeAffinitySchedulingStrategy, soft=False,
num_cpus=0 so it answers even while the node's CPUs are busy) and returns {node_id: {...}}; a node whose probe
fails or does not answer in time gets {"error": ...}. `environment_differences(envs, reference)` keeps each value
that differs from the reference (the driver's `probe()`); `check_nodes` turns them into one NodeMismatchError.

Compared: the gentrend version and code digest (gentrend.pipeline.manifest.code_digest: the library's source and
templates), torch, transformers, lm-eval and Python. The data files need no comparison: each job takes the
driver's data folder with it (gentrend.pipeline.executors.transfer).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import socket

from gentrend.core import __version__
from gentrend.core.errors import GentrendError
from gentrend.pipeline.manifest import code_digest

PACKAGES = ("torch", "transformers", "lm_eval")


class NodeMismatchError(GentrendError):
    """A node of the Ray cluster has other software than the driver."""


def probe(packages: tuple[str, ...] = PACKAGES) -> dict:
    """This process's host name, Python, package versions (None where not installed) and gentrend code digest."""

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "packages": {"gentrend": __version__, **{name: version(name) for name in packages}},
        "code": code_digest(),
    }


def node_environments(timeout_s: float = 120.0) -> dict[str, dict]:
    """{node_id: {"address", "hostname", "python", "packages", "code"} or {"address", "error"}} of every alive
    node of the connected cluster."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0, max_retries=0)(probe)
    nodes = [node for node in ray.nodes() if node["Alive"]]
    refs = {
        node["NodeID"]: task.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote()
        for node in nodes
    }
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
    envs = {}
    for node in nodes:
        entry = {"address": node["NodeManagerAddress"]}
        ref = refs[node["NodeID"]]
        if ref in ready:
            try:
                entry.update(ray.get(ref))
            except ray.exceptions.RayError as error:
                entry["error"] = f"{type(error).__name__}: {error}"
        else:
            ray.cancel(ref, force=True)
            entry["error"] = f"no answer within {timeout_s:g} s"
        envs[node["NodeID"]] = entry
    return envs


def _flat(entry: dict) -> dict[str, object]:
    flat = {}
    for key in ("python", "packages", "code"):
        values = entry.get(key)
        for name, value in values.items() if isinstance(values, dict) else [(None, values)]:
            flat[key if name is None else f"{key}.{name}"] = value
    return flat


def environment_differences(envs: dict[str, dict], reference: dict) -> dict[str, dict]:
    """{node_id: {"packages.transformers": (driver's, node's), ...}} for each node that differs from the reference;
    a node whose probe failed: {"error": (None, message)}."""
    wanted = _flat(reference)
    found = {}
    for node_id, entry in envs.items():
        if "error" in entry:
            found[node_id] = {"error": (None, entry["error"])}
            continue
        have = _flat(entry)
        differ = {
            key: (value, have.get(key))
            for key, value in wanted.items()
            if json.dumps(value) != json.dumps(have.get(key))
        }
        if differ:
            found[node_id] = differ
    return found


def check_nodes(envs: dict[str, dict], reference: dict) -> None:
    """Raise one NodeMismatchError naming every node that differs from the driver, and how."""
    differences = environment_differences(envs, reference)
    if not differences:
        return
    lines = []
    for node_id, differ in differences.items():
        where = f"node {node_id[:12]} ({envs[node_id].get('hostname', '?')} at {envs[node_id]['address']})"
        what = "; ".join(
            value if key == "error" else f"{key} {value} (driver: {driver})" for key, (driver, value) in differ.items()
        )
        lines.append(f"{where}: {what}")
    raise NodeMismatchError(
        "the Ray cluster's nodes differ from this machine: " + " | ".join(lines),
        "install the same gentrend checkout and `pip install -r requirements.txt` on every node (or start the "
        "cluster's nodes from one image), or give the job a Ray runtime environment with the same packages; "
        "then restart the nodes (`ray stop`, `ray start ...`)",
    )
