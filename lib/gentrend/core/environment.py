"""Where a result came from: the code version, the library versions and the machine. Profiling and evaluation
rows carry `environment(device)` on every row; the run's manifest and the report carry `run_metadata`.

A row names the node it ran on (NODE_COLUMNS: host name, GPU index), but the node is in no key: `fingerprint`
leaves it out, and the profiling cache, evaluation score keys and the runner's step keys hash the fingerprint. So
a rerun on another GPU of the node, or on another host with the same hardware and software, reuses what was
measured (and the reused rows keep naming where it was measured), and a reports folder moved to such a host
keeps its steps. No user names are recorded."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec

import pandas as pd

from gentrend.core import __version__, paths
from gentrend.core.keys import digest

LIBRARIES = ("torch", "transformers", "accelerate", "pandas", "papermill")
NODE_COLUMNS = ("host", "gpu_index")  # which node a row ran on (see the module docstring)
# the environment columns every measured row carries, all text (profiling and evaluation results read them as such)
ROW_ENVIRONMENT_COLUMNS = (
    *NODE_COLUMNS,
    "device",
    "device_name",
    "driver",
    "cuda",
    "cpu_model",
    "python",
    "torch",
    "transformers",
    "gentrend",
)
EMPTY_ON_CPU = ("gpu_index", "driver", "cuda")  # text columns a CPU row leaves empty (read back as "", not NaN)


def git_commit() -> str:
    """The checkout's commit (with '+dirty' when it has uncommitted changes), or 'unknown'."""
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=10)
        sha = run("rev-parse", "--short", "HEAD").stdout.strip()
        dirty = bool(run("status", "--porcelain", "--untracked-files=no").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+dirty" if dirty else "")) if sha else "unknown"


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvml_driver() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        return driver.decode() if isinstance(driver, bytes) else str(driver)
    except Exception:  # no NVML (CPU machine, or driver too old): not an error
        return ""


def gpu_index(dev) -> str:
    """The GPU's CUDA index on its host: torch's index read through CUDA_VISIBLE_DEVICES when that is set (a Ray
    task holding a GPU sees only it, as torch's index 0); "" on the CPU."""
    import torch

    if dev.type != "cuda":
        return ""
    index = torch.cuda.current_device() if dev.index is None else dev.index
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return visible[index] if index < len(visible) else str(index)


@lru_cache(maxsize=8)
def environment(device: str = "cpu") -> dict:
    """Flat dict of where a measurement ran (NODE_COLUMNS) and of everything that can change it: device, driver,
    CUDA, library versions, CPU, threads, and whether the fast linear-attention kernels are installed."""
    import torch
    import transformers

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    env = {
        "host": socket.gethostname(),
        "gpu_index": gpu_index(dev),
        "device": dev.type,
        "device_name": torch.cuda.get_device_name(dev) if cuda else cpu_model(),
        "driver": _nvml_driver() if cuda else "",
        "cuda": (torch.version.cuda or "") if cuda else "",
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gentrend": __version__,
        "flash_linear_attention": find_spec("fla") is not None,
        "causal_conv1d": find_spec("causal_conv1d") is not None,
    }
    if cuda:
        env["device_memory_gib"] = torch.cuda.get_device_properties(dev).total_memory / 2**30
    return env


def fingerprint(env: dict) -> str:
    """A short hash of an environment: results are reused only on the same hardware and software (the node's
    identity, NODE_COLUMNS, left out)."""
    return digest({k: v for k, v in env.items() if k not in NODE_COLUMNS})


def run_metadata(run_name: str = "") -> pd.DataFrame:
    """A two-column table (item, value) describing this run."""
    items = {
        "run": run_name or "interactive",
        "generated (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "gentrend": f"{__version__} (commit {git_commit()})",
        "python": platform.python_version(),
        **library_versions(),
        "machine": f"{platform.system()} {platform.machine()}, {cpu_model()}",
    }
    return pd.DataFrame({"item": list(items), "value": list(items.values())})
