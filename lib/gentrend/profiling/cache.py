"""Result cache: a rerun with the same model, weights, settings and environment reuses the stored rows.

Files: gentrend.paths.cache_dir() / "profiling" / "<model>-<key>.csv"; the key hashes the model id, the
loading mode and source, tiny, the settings, the environment fingerprint and the results schema version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import DataError
from ..files import write_csv

SCHEMA_VERSION = 1


def cache_key(**parts) -> str:
    payload = json.dumps({"schema": SCHEMA_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def cache_path(model_id: str, key: str, cache_dir: Path | str | None = None) -> Path:
    return Path(cache_dir or paths.cache_dir()) / "profiling" / f"{model_id}-{key}.csv"


def load_cached(model_id: str, key: str, cache_dir: Path | str | None = None) -> pd.DataFrame | None:
    path = cache_path(model_id, key, cache_dir)
    if not path.exists():
        return None
    try:
        from .results import read_rows

        return read_rows(path)
    except (DataError, OSError):
        return None  # a damaged cache file is re-measured, not trusted


def save_cached(rows: pd.DataFrame, model_id: str, key: str, cache_dir: Path | str | None = None) -> Path:
    """Write atomically (gentrend.files) so a killed run never leaves a half-written cache entry."""
    return write_csv(rows, cache_path(model_id, key, cache_dir))
