"""The environment a measurement was taken in, saved on every result row (no hostname, no user names)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import lru_cache

import torch
import transformers

from .. import __version__ as gentrend_version


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvml_driver() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # no NVML (CPU machine, or driver too old): not an error
        return ""


def _installed(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


@lru_cache(maxsize=8)
def environment(device: str = "cpu") -> dict:
    """Flat dict of everything that can change a timing: device, driver, CUDA, library versions, CPU, threads,
    and whether the fast linear-attention kernels are installed."""
    dev = torch.device(device)
    env = {
        "device": dev.type,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_model(),
        "driver": _nvml_driver() if dev.type == "cuda" else "",
        "cuda": torch.version.cuda or "" if dev.type == "cuda" else "",
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gentrend": gentrend_version,
        "flash_linear_attention": _installed("fla"),
        "causal_conv1d": _installed("causal_conv1d"),
    }
    if dev.type == "cuda":
        env["device_memory_gib"] = torch.cuda.get_device_properties(dev).total_memory / 2**30
    return env


def fingerprint(env: dict) -> str:
    """A short hash of the environment: results are reused only on the same machine and software."""
    return hashlib.sha256(json.dumps(env, sort_keys=True, default=str).encode()).hexdigest()[:16]
