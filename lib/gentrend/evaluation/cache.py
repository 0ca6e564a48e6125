"""Result cache: the same model, weights, task (and version), settings, lm-eval version and environment
reuse the stored rows instead of evaluating again.

Files: <cache_dir>/evaluation/<model>/<task>-<key>.json (cache_dir default gentrend.core.paths.cache_dir()), one
per (model, task), written atomically (temp file + rename). An entry that cannot be read, or whose stored
key or rows do not match, is treated as missing: the task is evaluated again. lm-eval's own response cache
(sqlite, keyed by request) lives apart, per model and weights: <cache_dir>/lm_eval/<model>/<weights key>.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gentrend.core import paths
from gentrend.core.files import write_json
from gentrend.profiling.cache import cache_key as _hash

SCHEMA_VERSION = 1


def cache_key(**parts) -> str:
    """A short hash of everything that decides a task's result (see gentrend.evaluation.run)."""
    return _hash(evaluation_schema=SCHEMA_VERSION, **parts)


def _root(cache_dir: Path | str | None) -> Path:
    return Path(cache_dir or paths.cache_dir())


def cache_path(model_id: str, task: str, key: str, cache_dir: Path | str | None = None) -> Path:
    return _root(cache_dir) / "evaluation" / model_id / f"{task}-{key}.json"


def request_cache(model_id: str, weights_key: str, cache_dir: Path | str | None = None) -> str:
    """lm-eval's `use_cache` prefix for one model and weights (it appends '_rank<N>.db')."""
    folder = _root(cache_dir) / "lm_eval" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / weights_key)


def load_cached(model_id: str, task: str, key: str, cache_dir: Path | str | None = None) -> pd.DataFrame | None:
    path = cache_path(model_id, task, key, cache_dir)
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text())
        rows = pd.DataFrame(entry["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # damaged: evaluate again rather than trust it
    if entry.get("key") != key or rows.empty or "value" not in rows or (rows.get("cache_key") != key).any():
        return None
    return rows


def save_cached(rows: pd.DataFrame, model_id: str, task: str, key: str, cache_dir: Path | str | None = None) -> Path:
    """Write atomically, so a killed run never leaves a half-written entry."""
    return write_json(
        cache_path(model_id, task, key, cache_dir), {"key": key, "rows": json.loads(rows.to_json(orient="records"))}
    )
