"""Result cache: a rerun with the same model, weights, settings and environment reuses the stored rows.

Files: gentrend.paths.CACHE_DIR / "profiling" / "<model>-<key>.csv"; the key hashes the model id, the
loading mode and source, tiny, the settings, the environment fingerprint and the results schema version.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from .. import paths

SCHEMA_VERSION = 1


def cache_key(**parts) -> str:
    payload = json.dumps({"schema": SCHEMA_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def cache_path(model_id: str, key: str, cache_dir: Path | str | None = None) -> Path:
    return Path(cache_dir or paths.CACHE_DIR) / "profiling" / f"{model_id}-{key}.csv"


def load_cached(model_id: str, key: str, cache_dir: Path | str | None = None) -> pd.DataFrame | None:
    path = cache_path(model_id, key, cache_dir)
    if not path.exists():
        return None
    try:
        from .results import read_rows

        return read_rows(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError):
        return None  # a damaged cache file is re-measured, not trusted


def save_cached(rows: pd.DataFrame, model_id: str, key: str, cache_dir: Path | str | None = None) -> Path:
    """Write atomically (temp file + rename) so a killed run never leaves a half-written cache entry."""
    path = cache_path(model_id, key, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    rows.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
