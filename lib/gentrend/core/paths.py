"""The one module that knows where things live. Override the roots with GENTREND_DATA / GENTREND_REPORTS.

The roots are read when asked for (not frozen at import), so a runner can point its notebook kernels at the
same folders it uses itself (see `environment`).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RUN_SUBFOLDERS = ("results", "tables", "figures")


def data_dir() -> Path:
    return Path(os.environ.get("GENTREND_DATA", REPO_ROOT / "data"))


def reports_dir() -> Path:
    return Path(os.environ.get("GENTREND_REPORTS", REPO_ROOT / "reports"))


def data_file(name: str) -> Path:
    """A file of the data folder: models.yaml, published_scores.csv, claims.yaml, benchmarks.yaml, gpus.yaml."""
    return data_dir() / name


def cache_dir() -> Path:
    return reports_dir() / "cache"


def environment() -> dict[str, str]:
    """The variables that make a child process (a notebook kernel) use this process's folders."""
    return {"GENTREND_DATA": str(data_dir().resolve()), "GENTREND_REPORTS": str(reports_dir().resolve())}


def run_dir(output_dir: str | os.PathLike | None = None) -> Path:
    """Where a notebook writes what it produces: the runner passes reports/<run-id>; interactively (None)
    it is reports/interactive. Sub-folders: results/ (measured rows), tables/ (CSV of every report table),
    figures/ (PNG of every chart)."""
    out = reports_dir() / "interactive" if output_dir is None else Path(output_dir)
    for sub in RUN_SUBFOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out
