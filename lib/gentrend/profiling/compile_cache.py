"""Compiles paid once per machine: torch.compile's on-disk caches kept in the reports folder.

The compiled backend points inductor's cache folder (TORCHINDUCTOR_CACHE_DIR: its FX graph cache, autotuning
results and generated code) and triton's (TRITON_CACHE_DIR: compiled GPU kernels) at

    gentrend.core.paths.cache_dir() / "compile" / <key>

where the key hashes the torch version, the triton version ("none" without triton) and the device's name (the
GPU's, or the CPU model's on the CPU): what a compiled artefact depends on. A later run on the same machine finds
its graphs there (inductor's FX graph cache hits: the row's `compile_cache` says "warm") instead of compiling them
afresh ("cold"), and it survives the system's temporary folder being cleaned. `gentrend clean` lists these
folders as their own kind ("compile"); `--force` re-measures but keeps them. A TORCHINDUCTOR_CACHE_DIR set before
gentrend started wins (and TRITON_CACHE_DIR likewise).
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from gentrend.core import paths
from gentrend.core.environment import fingerprint

FOLDER = "compile"


def triton_version() -> str:
    try:
        return version("triton")
    except PackageNotFoundError:
        return "none"


def compile_key(device_name: str, torch_version: str | None = None, triton: str | None = None) -> str:
    """The compile cache's key: torch version, triton version, device name."""
    import torch  # here, not at the top: `gentrend clean` names this folder without torch

    return fingerprint(
        {"torch": torch_version or torch.__version__, "triton": triton or triton_version(), "device": device_name}
    )


def compile_cache_dir(device_name: str, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or paths.cache_dir()) / FOLDER / compile_key(device_name)


def use_compile_cache(device_name: str, cache_dir: str | Path | None = None) -> Path | None:
    """Point inductor's and triton's caches at this machine's compile cache folder (unless the user set them);
    returns the folder, or None when it cannot be made (torch then keeps its default, the temporary folder)."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    folder = compile_cache_dir(device_name, cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    # torch writes its default into the environment the first time it looks the folder up: that is not the user's
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR", default_cache_dir()) == default_cache_dir():
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "inductor")
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    return folder
