"""deploy/ray/rayjob.yaml, the KubeRay RayJob that runs the report on a Ray cluster: its entrypoint is a `gentrend
report` on the Ray executor, a worker group has a GPU, every pod runs the same image and shares the reports
volume, and the cluster goes away after the job."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAYJOB = ROOT / "deploy" / "ray" / "rayjob.yaml"


@pytest.fixture(scope="module")
def rayjob():
    return yaml.safe_load(RAYJOB.read_text())


def _groups(rayjob):
    cluster = rayjob["spec"]["rayClusterSpec"]
    return [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]


def _options(words):
    """{"--flag": [values...]} of a command line's options (values: the words up to the next option)."""
    options, current = {}, None
    for word in words:
        if word.startswith("--"):
            current = options.setdefault(word, [])
        elif current is not None:
            current.append(word)
    return options


def test_it_is_a_rayjob_that_removes_its_cluster(rayjob):
    assert (rayjob["apiVersion"], rayjob["kind"]) == ("ray.io/v1", "RayJob")
    assert rayjob["spec"]["shutdownAfterJobFinishes"] is True
    assert rayjob["spec"]["ttlSecondsAfterFinished"] > 0


def test_the_entrypoint_is_a_report_on_the_ray_executor(rayjob):
    words = shlex.split(rayjob["spec"]["entrypoint"])
    assert words[:2] == ["gentrend", "report"]
    options = _options(words[2:])
    assert options["--executor"] == ["ray"] and options["--ray-address"] == ["auto"]
    assert options["--device"] == ["cuda"]
    catalogue = yaml.safe_load((ROOT / "data" / "models.yaml").read_text())
    known = {model["id"] for generation in catalogue["generations"] for model in generation["models"]}
    assert options["--models"] and set(options["--models"]) <= known


def test_a_worker_group_has_a_gpu_and_the_head_none(rayjob):
    head, *workers = _groups(rayjob)
    gpu_groups = [group for group in workers
                  if any(int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0)) >= 1
                         for c in group["template"]["spec"]["containers"])]
    assert gpu_groups
    assert all(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") is None
               for c in head["template"]["spec"]["containers"])
    for group in _groups(rayjob):  # KubeRay's rayStartParams is map[string]string: a bare 1 fails validation
        assert all(isinstance(value, str) for value in group["rayStartParams"].values())


def test_every_pod_runs_the_same_image_and_ray_version(rayjob):
    images = {c["image"] for group in _groups(rayjob) for c in group["template"]["spec"]["containers"]}
    submitter = rayjob["spec"].get("submitterPodTemplate")
    if submitter:
        images |= {c["image"] for c in submitter["spec"]["containers"]}
    assert len(images) == 1
    pinned = re.search(r"^ray==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned and rayjob["spec"]["rayClusterSpec"]["rayVersion"] == pinned.group(1)


def test_every_pod_writes_reports_to_one_shared_volume(rayjob):
    claims = set()
    for group in _groups(rayjob):
        spec = group["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            reports = {e["name"]: e.get("value") for e in container.get("env", [])}["GENTREND_REPORTS"]
            mount = next(m for m in container["volumeMounts"] if m["mountPath"] == reports)
            claims.add(volumes[mount["name"]]["persistentVolumeClaim"]["claimName"])
    assert len(claims) == 1
