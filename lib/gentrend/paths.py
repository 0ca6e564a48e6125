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
CACHE_DIR = REPORTS_DIR / "cache"
