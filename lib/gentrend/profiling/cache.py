"""Result cache: a rerun with the same model, weights, settings and environment reuses the stored rows.

Files: gentrend.core.paths.cache_dir() / "profiling" / "<model>-<key>.csv", and beside it "<model>-<key>.json"
with the entry's row count and the SHA-256 of the CSV's bytes. The key hashes the model id, the loading mode
and source, tiny, the settings, the environment fingerprint, the code's commit and the results schema version.

Interrupted sweeps: the rows measured so far are checkpointed after every point under "partial/<model>-<key>.csv"
(same sidecar), so the next run with the same key measures only the missing points; the checkpoint is dropped
when the full entry is written.

What is never reused (`stale`): a point flagged `contended` (gentrend.profiling.guard), and a measurement older
than MAX_AGE_DAYS (its `measured_at`): an entry holding one is measured again where it is stale, its other points
kept, so a scheduled run re-measures what a busy or distant day produced. Rows carry their age (`age_days`).

An entry is reused only when its sidecar matches the file (a file cut short, or garbage, does not): a bad entry
is reported ("cache entry X is damaged: re-measuring", a CacheWarning) and measured again, never reused. A
cache that cannot be written is reported once and the measured rows are still returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from pathlib import Path

import pandas as pd

from gentrend.core import paths
from gentrend.core.errors import DataError
from gentrend.core.files import OutputError, write_bytes, write_json
from gentrend.core.keys import digest
from gentrend.profiling.results import read_rows

SCHEMA_VERSION = 3
MAX_AGE_DAYS = 30  # a measurement older than this is measured again: the machine, its load and its software drift


class CacheWarning(UserWarning):
    """A profiling cache entry that cannot be used or written; the profiler carries on without it."""


def cache_key(**parts) -> str:
    return digest({"schema": SCHEMA_VERSION, **parts})


def cache_folder(cache_dir: Path | str | None = None) -> Path:
    return Path(cache_dir or paths.cache_dir()) / "profiling"


def cache_path(model_id: str, key: str, cache_dir: Path | str | None = None, partial: bool = False) -> Path:
    folder = cache_folder(cache_dir) / ("partial" if partial else "")
    return folder / f"{model_id}-{key}.csv"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def load_cached(
    model_id: str, key: str, cache_dir: Path | str | None = None, partial: bool = False
) -> pd.DataFrame | None:
    """The cached rows (partial: the checkpoint of an interrupted sweep), or None when there is no entry or it is
    damaged (then with a CacheWarning)."""

    path = cache_path(model_id, key, cache_dir, partial)
    if not path.exists():
        return None
    try:
        data = path.read_bytes()
        seal = json.loads(_sidecar(path).read_text())
        if seal.get("sha256") != hashlib.sha256(data).hexdigest():
            raise DataError("its checksum does not match")
        rows = read_rows(path)
        if len(rows) != seal.get("rows") or "scope" not in rows:
            raise DataError(f"it holds {len(rows)} rows, its record says {seal.get('rows')}")
    except (DataError, OSError, ValueError, AttributeError) as e:
        reason = e.problem if isinstance(e, DataError) else f"{type(e).__name__}: {e}"
        warnings.warn(f"cache entry {path} is damaged ({reason}): re-measuring", CacheWarning, stacklevel=2)
        return None
    return rows


def save_cached(
    rows: pd.DataFrame, model_id: str, key: str, cache_dir: Path | str | None = None, partial: bool = False
) -> Path | None:
    """Write the entry (partial: the checkpoint) and its sidecar atomically (gentrend.core.files); a cache that cannot
    be written gives a CacheWarning and None (the rows are not lost: the caller still has them)."""
    path = cache_path(model_id, key, cache_dir, partial)
    data = rows.to_csv(index=False).encode()
    try:
        write_bytes(path, data)
        write_json(_sidecar(path), {"rows": len(rows), "sha256": hashlib.sha256(data).hexdigest(), "key": key})
    except OutputError as e:
        warnings.warn(
            f"profiling cache not written ({e.problem}): the rows reach the run folder, "
            "but the next run measures again",
            CacheWarning,
            stacklevel=2,
        )
        return None
    return path


def drop_partial(model_id: str, key: str, cache_dir: Path | str | None = None) -> None:
    path = cache_path(model_id, key, cache_dir, partial=True)
    for p in (path, _sidecar(path)):
        p.unlink(missing_ok=True)


def age_days(rows: pd.DataFrame, now: dt.datetime | None = None) -> pd.Series:
    """Days since each row was measured (`measured_at`, UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return (now - pd.to_datetime(rows["measured_at"], utc=True)).dt.total_seconds() / 86400


def stale(rows: pd.DataFrame, now: dt.datetime | None = None) -> pd.Series:
    """Rows that must not be reused: contended, or older than MAX_AGE_DAYS."""
    contended = rows["contended"].astype(str).str.lower().eq("true") if "contended" in rows else False
    return contended | (age_days(rows, now) > MAX_AGE_DAYS)


def stale_reason(rows: pd.DataFrame, now: dt.datetime | None = None) -> str:
    """Why a cached entry cannot be reused as it is ("" when it can)."""
    bad = rows[stale(rows, now)]
    if bad.empty:
        return ""
    points = bad[bad["scope"] == "point"][["batch_size", "prompt_length"]].drop_duplicates()
    where = ", ".join(f"batch {int(b)} x prompt {int(p)}" for b, p in points.itertuples(index=False)) or "its load"
    return f"{where}: contended or older than {MAX_AGE_DAYS} days"


def fresh_results(path: Path) -> bool:
    """Whether a run's results file may be reused by a later run: present, and nothing in it stale."""
    try:
        return not stale(read_rows(path)).any()
    except (DataError, OSError, KeyError, ValueError):
        return False


def reusable_points(rows: pd.DataFrame, now: dt.datetime | None = None) -> pd.DataFrame:
    """The point rows of an entry that a new measurement may keep: every row of a point that has no stale row."""
    points = rows[rows["scope"] == "point"]
    bad = points[stale(points, now)][["batch_size", "prompt_length"]].drop_duplicates()
    keys = list(zip(points["batch_size"], points["prompt_length"]))
    drop = set(zip(bad["batch_size"], bad["prompt_length"]))
    return points[[k not in drop for k in keys]]
