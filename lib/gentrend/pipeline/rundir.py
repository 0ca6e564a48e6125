"""A run folder's life: its id, the reports folder's lock (one run at a time), a reused id's old folder set aside,
the run's log, and `latest` pointing at the newest complete run."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
from pathlib import Path

from filelock import FileLock, Timeout

from gentrend.core.errors import GentrendError, RunLockedError, SettingError
from gentrend.core.files import lock_file

RESERVED_RUN_IDS = {"latest", "cache", "index", "interactive"}
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def new_run_id() -> str:
    """A timestamp and a random suffix: unique even for two runs started in the same second."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(6)


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id) or ".." in run_id or run_id.lower() in RESERVED_RUN_IDS:
        raise SettingError(
            f"invalid run id {run_id!r}",
            "use letters, digits, '.', '_' and '-' (up to 100, no path separators, no '..'), and not one of "
            + ", ".join(sorted(RESERVED_RUN_IDS)),
        )
    return run_id


@contextlib.contextmanager
def reports_lock(reports: Path):
    """One run at a time per reports folder; a second one stops at once with RunLockedError."""
    try:
        reports.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_file(reports / ".gentrend.lock"))
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLockedError(
            f"another gentrend run holds the lock on {reports}",
            "wait for it to finish (or point GENTREND_REPORTS elsewhere)",
        ) from None
    except OSError as e:
        raise GentrendError(
            f"cannot use the reports folder {reports}: {os.strerror(e.errno) if e.errno else e}",
            "make it writable, or set GENTREND_REPORTS to a writable folder",
        ) from None
    try:
        yield
    finally:
        lock.release()


def set_aside(run_dir: Path) -> Path | None:
    """A run id used before: its folder is moved aside (and reused from), so nothing stale stays in the new one."""
    if not run_dir.exists():
        return None
    aside = run_dir.with_name(f".{run_dir.name}.previous-{secrets.token_hex(3)}")
    os.replace(run_dir, aside)
    return aside


def run_logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"gentrend.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers = [handler]
    return log


def point_latest(run_dir: Path) -> None:
    """reports/latest -> the newest complete run (a relative symlink, replaced atomically)."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, latest)
