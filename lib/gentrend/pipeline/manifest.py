"""A run's manifest (reports/<run-id>/manifest.json): what went in, what ran, what was reused, what came out.

Written after every step, so an interrupted or failed run still says how far it got. It records the inputs
(data files, library code and notebooks by hash; library versions; the machine), every job with its input
key, its status (executed / reused / failed), its duration and the files it produced (with their hashes),
the rendering, the headline numbers, and the run's final status and exit code. Later runs use it to reuse
what did not change (gentrend.pipeline.runner) and to list the history (gentrend.pipeline.history).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from gentrend.core import __version__
from gentrend.core import paths
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

    @property
    def complete(self) -> bool:
        return self.data.get("status") == "complete"

    def outputs_present(self, entry: dict, root: Path | None = None) -> bool:
        """Every file a job produced is still in `root` (default: this run) with the hash it had."""
        root = root or self.run_dir
        return all((root / f).is_file() and file_digest(root / f) == h for f, h in entry.get("files", {}).items())
