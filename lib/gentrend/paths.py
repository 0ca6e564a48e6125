"""The one module that knows where things live. Override the roots with GENTREND_DATA / GENTREND_REPORTS."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("GENTREND_DATA", REPO_ROOT / "data"))
REPORTS_DIR = Path(os.environ.get("GENTREND_REPORTS", REPO_ROOT / "reports"))
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

CATALOGUE_FILE = DATA_DIR / "models.yaml"
SCORES_FILE = DATA_DIR / "published_scores.csv"
CLAIMS_FILE = DATA_DIR / "claims.yaml"
GPUS_FILE = DATA_DIR / "gpus.yaml"
EVALUATION_FILE = DATA_DIR / "evaluation.yaml"  # lm-eval task -> published benchmark; estimate constants
EVAL_TASKS_DIR = DATA_DIR / "tasks"  # shipped example user tasks for lm-eval
CACHE_DIR = REPORTS_DIR / "cache"


def run_dir(output_dir: str | os.PathLike = "") -> Path:
    """Where a notebook writes what it produces: the runner passes reports/<run-id>; interactively (empty)
    it is reports/interactive. Sub-folders: results/ (measured rows), tables/ (CSV of every report table)."""
    out = Path(output_dir) if output_dir else REPORTS_DIR / "interactive"
    for sub in ("results", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out
