"""What software and data each node of a Ray cluster has, so a run can refuse (or note) nodes that differ.

A draft for lib/gentrend/pipeline/ that depends on nothing of gentrend: `node_environments(packages, data_files)`
runs one probe task pinned to each alive node (NodeAffinitySchedulingStrategy, soft=False) and returns
{node_id: {...}}; `environment_differences(envs)` keeps what is not the same on every node. As a script it connects
to a running cluster and prints both (tests/test_ray_cluster.py runs it as a driver in the hermetic cluster):

    python benchmarks/ray_node_environments.py transformers torch ray --data-file data/models.yaml [--json out.json]

Relative data-file paths are resolved on each node against its workers' working directory; pass absolute paths
(or paths the nodes share, e.g. inside the installed package) to compare the same file everywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys


def _probe(packages: list[str], data_files: list[str], env_vars: list[str]) -> dict:
    """Runs on one node: versions of `packages` (None where not installed), sha256 of `data_files` (None where
    missing), selected environment variables."""
    import importlib.metadata
    import platform
    import socket

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    def digest(path):
        try:
            sha = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    sha.update(block)
            return sha.hexdigest()
        except OSError:
            return None

    return {"hostname": socket.gethostname(), "python": platform.python_version(), "executable": sys.executable,
            "packages": {name: version(name) for name in packages},
            "data_files": {path: digest(path) for path in data_files},
            "env": {name: os.environ.get(name) for name in env_vars}}


def node_environments(packages, data_files=(), *, env_vars=(), timeout_s: float = 120.0) -> dict[str, dict]:
    """{node_id: {"address", "head", "resources", "hostname", "python", "executable", "packages", "data_files",
    "env"}} for every alive node of the connected cluster (ray.init() first). A node whose probe fails or does not
    answer within timeout_s gets {"error": ...} instead of the probe's keys: a dead or unschedulable node is a
    finding, not an exception."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)  # num_cpus=0: answers even while the node's CPUs are busy
    nodes = [node for node in ray.nodes() if node["Alive"]]
    refs = {node["NodeID"]: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
            .remote(list(packages), [str(path) for path in data_files], list(env_vars)) for node in nodes}
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
    envs = {}
    for node in nodes:
        entry = {"address": node["NodeManagerAddress"], "head": "node:__internal_head__" in node["Resources"],
                 "resources": {k: v for k, v in node["Resources"].items() if not k.startswith("node:")}}
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


def environment_differences(envs: dict[str, dict], keys=("python", "packages", "data_files", "env")) -> dict[str, dict]:
    """{"packages.transformers": {node_id: "5.23.0", other: "0.0.1"}, ...}: each probed value that is not the same
    on every node (a node with an error counts as differing: {"error": {node_id: message}})."""
    flat = {}
    for node_id, entry in envs.items():
        if "error" in entry:
            flat.setdefault("error", {})[node_id] = entry["error"]
            continue
        for key in keys:
            values = entry.get(key)
            for name, value in (values.items() if isinstance(values, dict) else [(None, values)]):
                flat.setdefault(key if name is None else f"{key}.{name}", {})[node_id] = value
    probed = [node_id for node_id, entry in envs.items() if "error" not in entry]
    return {key: by_node for key, by_node in flat.items()
            if key == "error" or len(by_node) != len(probed) or len({json.dumps(v) for v in by_node.values()}) > 1}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=["ray", "torch", "transformers"])
    parser.add_argument("--data-file", action="append", default=[], dest="data_files")
    parser.add_argument("--env", action="append", default=[], dest="env_vars", help="environment variable to compare")
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS", "auto"), help="default: $RAY_ADDRESS or auto")
    parser.add_argument("--json", help="also write {nodes, differences} to this file")
    args = parser.parse_args(argv)

    import ray

    ray.init(address=args.address, logging_level="warning", log_to_driver=False)
    envs = node_environments(args.packages, args.data_files, env_vars=args.env_vars)
    result = {"nodes": envs, "differences": environment_differences(envs)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    for node_id, entry in envs.items():
        role = "head" if entry["head"] else "node"
        print(f"{role} {node_id[:12]} {entry['address']}: " +
              (entry["error"] if "error" in entry else
               " ".join(f"{name}={version}" for name, version in entry["packages"].items())))
    for key, by_node in result["differences"].items():
        print(f"DIFFERS {key}: " + ", ".join(f"{node_id[:12]}={value}" for node_id, value in by_node.items()))
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
