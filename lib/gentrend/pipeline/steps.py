"""Steps of a run, each done or reused: a step of a run (a notebook, or the runner's own publishing) is not done
again when its inputs are the same as in an earlier run.

A step's key hashes everything that can change what it produces: the notebook file, its parameters, the library code,
the data files, the library versions, the machine (for measurements), and the files of this run it reads (the upstream
artefacts, by hash). When an earlier run (the folder being resumed, the newest complete run, or a run that was
interrupted) has a step with the same key whose files are all still there with the hashes recorded, those files are
linked into the new run folder (hard links; a copy across file systems) and the step is marked "reused from <run>" (the
first run that did it, while its folder exists). Linked files are read-only once their run finishes
(gentrend.pipeline.manifest), and their hashes are checked before every reuse, so a changed file is never reused. A
forced run reuses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path

from gentrend.core.errors import GentrendError
from gentrend.core.files import OutputError, output_error
from gentrend.core.keys import digest, file_digest
from gentrend.pipeline.manifest import Manifest

BOOKKEEPING = {"manifest.json", "run.log"}


def snapshot(run_dir: Path) -> dict[str, int]:
    """{relative path: modification time} of the run's output files (bookkeeping and partial files left out)."""
    found = {}
    for path in run_dir.rglob("*"):
        relative = str(path.relative_to(run_dir))
        if (
            path.is_file()
            and relative not in BOOKKEEPING
            and ".partial" not in path.name
            and "/partial/" not in f"/{relative}"
        ):
            found[relative] = path.stat().st_mtime_ns
    return found


def produced(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Files a step created or rewrote."""
    return sorted(p for p, t in after.items() if before.get(p) != t)


def upstream(run_dir: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """{relative path: sha256} of the run's files matching `patterns`: what a step reads from earlier steps."""
    files = sorted({f for pattern in patterns for f in run_dir.glob(pattern) if f.is_file()})
    return {str(f.relative_to(run_dir)): file_digest(f) for f in files if ".partial" not in f.name}


def reusable(name: str, key: str, sources: list[Manifest], fresh=None) -> tuple[Manifest, dict] | None:
    """The first earlier run whose step `name` had this key and whose files are all still intact (and, given
    `fresh(run folder)`, still fresh: e.g. measurements neither contended nor expired)."""
    for source in sources:
        entry = source.job(name)
        if (
            entry
            and entry.get("key") == key
            and entry.get("status") in ("executed", "reused")
            and entry.get("files")
            and source.outputs_present(entry)
            and (fresh is None or fresh(source.run_dir))
        ):
            return source, entry
    return None


def link_files(files: list[str], source: Path, target: Path) -> None:
    """Put `files` of the source run folder at the same places in the target run folder."""
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.unlink(missing_ok=True)
        try:
            os.link(source / relative, destination)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(source / relative, destination)


class Steps:
    """The steps of one run in progress, each reused from an earlier run when its key is unchanged, else done."""

    def __init__(self, run_dir: Path, manifest: Manifest, sources: list[Manifest], base_key: str, log: logging.Logger):
        self.run_dir, self.manifest, self.sources, self.base_key, self.log = run_dir, manifest, sources, base_key, log
        self.failures: list[str] = []

    def key(self, key_parts: dict, reads: tuple[str, ...] = ()) -> str:
        return digest(self.base_key, key_parts, upstream(self.run_dir, reads))

    def reusable(self, name: str, key_parts: dict, reads: tuple[str, ...] = (), fresh=None) -> bool:
        """Whether step `name` would be reused (so it need not be sent anywhere)."""
        return reusable(name, self.key(key_parts, reads), self.sources, fresh) is not None

    def step(
        self,
        name: str,
        key_parts: dict,
        action,
        reads: tuple[str, ...] = (),
        estimate_s: float | None = None,
        fresh=None,
    ) -> str:
        """Reuse or do one step; returns its status (reused / executed / failed). Failures are recorded, not raised.
        `estimate_s`: the plan's estimate of the step, kept in its entry beside the seconds it took; `fresh`: see
        `reusable`."""
        key = self.key(key_parts, reads)
        found = reusable(name, key, self.sources, fresh)
        start = time.perf_counter()
        entry = {"name": name, "key": key} | ({"estimate_s": round(estimate_s, 1)} if estimate_s is not None else {})
        if found:
            source, old = found
            link_files(list(old["files"]), source.run_dir, self.run_dir)
            entry |= {
                "status": "reused",
                "reused_from": _origin(old, source),
                "files": old["files"],
                "seconds": round(time.perf_counter() - start, 2),
            }
            self.log.info("reused %s from run %s", name, entry["reused_from"])
        else:
            before = snapshot(self.run_dir)
            try:
                action()
                status = "executed"
            except OutputError as e:  # a full disk or an unwritable folder stops the whole run: nothing else can work
                self._failed(entry, str(e))
                raise
            except OSError as e:
                self._failed(entry, str(output_error(e)))
                raise output_error(e) from None
            except GentrendError as e:
                status = self._failed(entry, str(e))
            except Exception as e:
                self.log.exception("internal error in %s", name)
                status = self._failed(entry, f"{name}: internal error {type(e).__name__}: {e} (traceback in run.log)")
            files = produced(before, snapshot(self.run_dir))
            entry |= {
                "status": status,
                "files": {f: file_digest(self.run_dir / f) for f in files},
                "seconds": round(time.perf_counter() - start, 2),
            }
            if status == "executed":
                self.log.info("executed %s in %.1f s", name, entry["seconds"])
        self.manifest.record_job(entry)
        return entry["status"]

    def _failed(self, entry: dict, message: str) -> str:
        entry["error"] = message
        self.failures.append(message)
        with contextlib.suppress(OSError):
            self.log.error("FAILED %s", message)
        return "failed"


def _origin(old: dict, source: Manifest) -> str:
    """The run a reused step was first done in, if its folder still exists; else the run it is linked from."""
    first = old.get("reused_from")
    return first if first and (source.run_dir.parent / first).is_dir() else source.run_dir.name
