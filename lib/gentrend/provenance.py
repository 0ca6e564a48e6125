"""Where a run came from: code version, library versions, machine. Shown at the top of every report."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from . import __version__, paths

LIBRARIES = ("torch", "transformers", "accelerate", "pandas", "papermill")


def git_commit() -> str:
    """The checkout's commit (with '+dirty' when it has uncommitted changes), or 'unknown'."""
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=10)  # noqa: E731
        sha = run("rev-parse", "--short", "HEAD").stdout.strip()
        dirty = bool(run("status", "--porcelain", "--untracked-files=no").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+dirty" if dirty else "")) if sha else "unknown"


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_metadata(run_name: str = "") -> pd.DataFrame:
    """A two-column table (item, value) describing this run."""
    items = {
        "run": run_name or "interactive",
        "generated (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "gentrend": f"{__version__} (commit {git_commit()})",
        "python": platform.python_version(),
        **library_versions(),
        "machine": f"{platform.system()} {platform.machine()}, {platform.processor() or 'cpu'}",
    }
    return pd.DataFrame({"item": list(items), "value": list(items.values())})
