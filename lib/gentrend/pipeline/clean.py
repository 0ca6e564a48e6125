"""`gentrend clean`: remove old run folders and profiling cache entries from the reports folder.

What may go: what gentrend created, recognised by its own record, never by a name pattern alone: run folders
(<reports>/<run-id>/ with a valid run id and a manifest naming that run), profiling cache entries
(<reports>/cache/profiling/<model>-<key>.csv with its index record <model>-<key>.json naming the key: those two files
and nothing else) and compile caches (<reports>/cache/compile/<key>/, one per torch, triton and device: kind
"compile", kept by `--force` runs; gentrend.profiling.compile_cache). A symlink is never followed: a linked run folder
or cache folder is left alone, and a path that resolves outside the reports folder is refused
(gentrend.core.files.contained). What never goes: the run `latest` points to, the newest complete run (one with
trend_report.html), anything that is not a run (reports/interactive, other files), and nothing at all while another
gentrend run holds the reports folder: clean takes the same lock as a report run.

Which: `older_than` (seconds since the run or entry was last written) and `keep` (all but the newest N runs, and all but
the newest N cache entries of each model); given both, an item goes only when both select it. A run folder is renamed to
a hidden name before it is deleted, so a half-deleted run is never taken for a run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gentrend.core import paths
from gentrend.core.errors import GentrendError, SettingError
from gentrend.core.files import contained
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.rundir import check_run_id, reports_lock
from gentrend.profiling.cache import cache_path
from gentrend.profiling.compile_cache import FOLDER as COMPILE_FOLDER

AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
REMOVING = ".removing"


@dataclass(frozen=True)
class Item:
    """A run folder or a cache entry (its files), with its age and the bytes removing it alone frees."""

    kind: str  # "run" | "cache" | "compile"
    path: Path
    files: tuple[Path, ...]
    age_s: float
    size: int
    group: str = ""  # cache: the model id (keep N applies per model)


def parse_age(text: str) -> float:
    """'30d', '12h', '2w', '90m', '45s' (a bare number is days) → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text))
    if not match:
        raise SettingError(f"cannot read the age {text!r}", "write a number and a unit: 30d, 12h, 2w, 90m or 45s")
    return float(match.group(1)) * AGE_UNITS[match.group(2) or "d"]


def _tree(folder: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(folder) for name in names]


def freed_size(files) -> int:
    """Bytes that removing `files` frees: each file (inode) counted once however many of its hard links are
    listed, and only when all its links are (a step reused by a later run is hard-linked into it: removing
    the older run frees nothing of it)."""
    seen: dict[tuple[int, int], list[int]] = {}
    for f in files:
        try:
            st = f.lstat()
        except FileNotFoundError:
            continue
        seen.setdefault((st.st_dev, st.st_ino), [st.st_size, st.st_nlink, 0])[2] += 1
    return sum(size for size, links, listed in seen.values() if listed >= links)


def _item(kind: str, path: Path, files: list[Path], group: str = "") -> Item:
    stats = [f.lstat() for f in files] or [path.lstat()]
    age = time.time() - max(s.st_mtime for s in stats)
    return Item(kind, path, tuple(files), age, freed_size(files), group)


def run_folders(reports: Path) -> list[Item]:
    """The run folders of `reports`, newest first."""

    found = []
    for folder in reports.iterdir() if reports.is_dir() else ():
        try:
            check_run_id(folder.name)
        except SettingError:
            continue
        if folder.is_dir() and not folder.is_symlink() and _own_run(folder):
            found.append(_item("run", folder, _tree(folder)))
    return sorted(found, key=lambda item: item.age_s)


def _own_run(folder: Path) -> bool:
    manifest = Manifest.load(folder)
    return manifest is not None and manifest.data.get("run_id") == folder.name


def _indexed(entry: Path) -> bool:
    """A cache entry written by gentrend: a plain file whose index record (the JSON beside it) names its key."""
    record = entry.with_suffix(".json")
    if entry.is_symlink() or record.is_symlink() or not record.is_file():
        return False
    try:
        return json.loads(record.read_text()).get("key") == entry.stem.rsplit("-", 1)[-1]
    except (OSError, ValueError, AttributeError):
        return False


def cache_entries() -> list[Item]:
    """The profiling cache entries, newest first; each with its index record. A linked cache folder (or one on a
    linked path) is not gentrend's: nothing in it is listed."""

    folder = cache_path("model", "key").parent
    if any(p.is_symlink() for p in (folder, folder.parent)) or not folder.is_dir():
        return []
    found = [
        _item("cache", entry, [entry, entry.with_suffix(".json")], group=entry.stem.rsplit("-", 1)[0])
        for entry in sorted(folder.glob("*.csv"))
        if _indexed(entry)
    ]
    return sorted(found, key=lambda item: item.age_s)


def compile_entries() -> list[Item]:
    """The compile caches (one folder per torch, triton and device), newest first."""
    folder = paths.cache_dir() / COMPILE_FOLDER
    found = [
        _item("compile", entry, _tree(entry), group="compile")
        for entry in (sorted(folder.iterdir()) if folder.is_dir() else ())
        if entry.is_dir() and not entry.is_symlink()
    ]
    return sorted(found, key=lambda item: item.age_s)


def protected_runs(reports: Path, found: list[Item]) -> dict[Path, str]:
    """Runs that are never removed, with why: latest's target and the newest complete run."""
    keep = {}
    latest = reports / "latest"
    if latest.is_symlink() and latest.exists():
        keep[latest.resolve()] = "latest points to it"
    complete = [item for item in found if (item.path / "trend_report.html").is_file()]
    if complete:
        newest = max(complete, key=lambda item: (item.path / "trend_report.html").stat().st_mtime)
        keep.setdefault(newest.path.resolve(), "the newest complete report")
    return keep


def _selected(items: list[Item], older_than: float | None, keep: int | None) -> list[Item]:
    """Items (newest first, one group) that the age and count rules both select."""
    return [
        item
        for i, item in enumerate(items)
        if (older_than is None or item.age_s > older_than) and (keep is None or i >= keep)
    ]


def _check_request(older_than: float | None, keep: int | None) -> None:
    if older_than is None and keep is None:
        raise SettingError(
            "gentrend clean needs to know what to remove",
            "pass --older-than AGE (e.g. 30d) and/or --keep N (add --dry-run to see the list first)",
        )
    if keep is not None and keep < 0:
        raise SettingError(f"--keep must be 0 or more, got {keep}", "pass the number of newest runs to keep")


def removal_plan(older_than: float | None = None, keep: int | None = None) -> tuple[list[Item], dict[Path, str]]:
    """(what would be removed, the runs kept because they are protected) in the reports folder."""
    _check_request(older_than, keep)
    reports = paths.reports_dir()
    found = run_folders(reports)
    protected = protected_runs(reports, found)
    doomed = [item for item in _selected(found, older_than, keep) if item.path.resolve() not in protected]
    entries = cache_entries() + compile_entries()
    for group in dict.fromkeys(item.group for item in entries):
        doomed += _selected([item for item in entries if item.group == group], older_than, keep)
    return doomed, protected


def remove(item: Item) -> None:
    """Delete a run folder (renamed to a hidden name first) or a cache entry's files."""
    reports = paths.reports_dir()
    try:
        if item.kind in ("run", "compile"):
            hidden = contained(item.path.with_name(f".{item.path.name}{REMOVING}"), reports)
            os.replace(contained(item.path, reports), hidden)
            shutil.rmtree(hidden)  # never follows a link inside (it removes the link)
        else:
            for f in item.files:
                contained(f, reports).unlink(missing_ok=True)
    except OSError as e:
        raise GentrendError(
            f"cannot remove {item.path}: {os.strerror(e.errno) if e.errno else e}",
            "make the reports folder writable, then run gentrend clean again",
        ) from None


def leftovers(reports: Path) -> list[Path]:
    """Run folders an interrupted clean left half-deleted (hidden, named *.removing)."""
    return sorted(reports.glob(f".*{REMOVING}")) if reports.is_dir() else []


def clean(
    older_than: float | None = None, keep: int | None = None, dry_run: bool = False
) -> tuple[list[Item], dict[Path, str]]:
    """Remove (or with dry_run only list) what `plan` selects, holding the reports folder's lock."""

    _check_request(older_than, keep)
    reports = paths.reports_dir()
    if not reports.is_dir():
        return [], {}
    with reports_lock(reports):
        doomed, protected = removal_plan(older_than, keep)
        if not dry_run:
            for folder in leftovers(reports):
                shutil.rmtree(folder, ignore_errors=True)
            for item in doomed:
                remove(item)
    return doomed, protected


def size_text(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def age_text(seconds: float) -> str:
    for unit, span in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f} {unit}"
    return f"{seconds:.0f} seconds"
