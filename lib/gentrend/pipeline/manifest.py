"""A run's manifest (reports/<run-id>/manifest.json): what went in, what ran, what was reused, what came out.

Written after every step, so an interrupted or failed run still says how far it got. It records the inputs
(data files, library code and notebooks by hash; library versions; the machine), every job with its input
key, its status (executed / reused / failed), its duration and the files it produced (with their hashes),
the rendering, the headline numbers, and the run's final status and exit code. Later runs use it to reuse
what did not change (gentrend.pipeline.runner) and to list the history (gentrend.pipeline.history).

A running run records its process (pid, host, the process's start time): a manifest still "running" whose
process is gone (killed, machine restarted) reads as "interrupted" (`status`). When a run finishes, its files
are made read-only: hard links share a file between runs, so an edit through one of them would silently change
the others (root ignores the mode; reuse still checks every file's hash).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from gentrend.core import __version__, paths
from gentrend.core.files import write_json
from gentrend.core.keys import digest, file_digest

MANIFEST = "manifest.json"
CODE_GLOBS = ("lib/gentrend/**/*.py", "lib/gentrend/report/templates/*")


def files_digest(files: list[Path], root: Path) -> dict[str, str]:
    """{path relative to root: sha256} of existing files."""
    return {str(f.relative_to(root)): file_digest(f) for f in sorted(files) if f.is_file()}


def code_digest() -> str:
    """The library's source and templates: a change to the code re-executes every notebook."""
    files = [f for pattern in CODE_GLOBS for f in paths.REPO_ROOT.glob(pattern)]
    return digest(files_digest(files, paths.REPO_ROOT))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """The manifest of one run folder; `save` writes it atomically."""

    run_dir: Path
    data: dict = field(default_factory=dict)

    @classmethod
    def start(cls, run_dir: Path, request: dict, inputs: dict) -> Manifest:
        m = cls(
            run_dir,
            {
                "run_id": run_dir.name,
                "gentrend": __version__,
                "started": now(),
                "finished": None,
                "status": "running",
                "process": _this_process(),
                "exit_code": None,
                "request": request,
                "inputs": inputs,
                "jobs": [],
                "render": {},
                "headlines": [],
                "failures": [],
            },
        )
        m.save()
        return m

    @classmethod
    def load(cls, run_dir: Path) -> Manifest | None:
        """The manifest of a run folder, or None if it has none or it cannot be read."""
        try:
            return cls(run_dir, json.loads((run_dir / MANIFEST).read_text()))
        except (OSError, ValueError):
            return None

    def save(self) -> None:
        write_json(self.run_dir / MANIFEST, self.data)

    def job(self, name: str) -> dict | None:
        return next((j for j in self.data.get("jobs", []) if j["name"] == name), None)

    def record_job(self, entry: dict) -> None:
        self.data["jobs"] = [j for j in self.data["jobs"] if j["name"] != entry["name"]] + [entry]
        self.save()

    def finish(self, status: str, exit_code: int, **extra) -> None:
        self.data.update(status=status, exit_code=exit_code, finished=now(), **extra)
        self.save()
        read_only(self.run_dir)

    @property
    def complete(self) -> bool:
        return self.data.get("status") == "complete"

    @property
    def status(self) -> str:
        """The recorded status, except that a "running" run whose process is gone is "interrupted"."""
        status = str(self.data.get("status"))
        if status == "running" and not _alive(self.data.get("process") or {}):
            return "interrupted"
        return status

    def outputs_present(self, entry: dict, root: Path | None = None) -> bool:
        """Every file a job produced is still in `root` (default: this run) with the hash it had."""
        root = root or self.run_dir
        return all((root / f).is_file() and file_digest(root / f) == h for f, h in entry.get("files", {}).items())


def _this_process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": psutil.Process().create_time()}


def _alive(process: dict) -> bool:
    """Whether the process a manifest names still runs (on another host: assumed so, it cannot be checked)."""
    if not process or process.get("host") != socket.gethostname():
        return bool(process)  # a manifest without a process comes from an older gentrend: not judged
    try:
        return psutil.Process(process["pid"]).create_time() == process.get("started")
    except (psutil.Error, KeyError, TypeError):
        return False


def read_only(run_dir: Path) -> None:
    """Take write permission off every file of a finished run (folders stay writable, so it can be removed)."""
    for root, _, names in os.walk(run_dir):
        for name in names:
            path = Path(root) / name
            with contextlib.suppress(OSError):
                mode = path.lstat().st_mode
                if stat.S_ISREG(mode):
                    path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
