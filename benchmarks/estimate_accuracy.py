"""How right the plan was: a run's estimate against the time each step took, from its manifest.json.

    PYTHONPATH=lib python benchmarks/estimate_accuracy.py [reports/<run-id> | reports/latest]

Prints, per step that carries an estimate (the runner records `estimate_s` beside `seconds`), estimate,
actual and estimate / actual, then the total over those steps. Steps reused from an earlier run took no
measuring time and are left out. An evaluation step's estimate, where the manifest has none, is the notebook's
own (the `estimated_seconds` of its result rows: the time after the model loads) plus the planner's notebook
overhead of the device (gentrend.profiling.estimate.OVERHEADS: kernel start, imports, model load, tables).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from gentrend.core import paths
from gentrend.profiling.estimate import OVERHEADS
from gentrend.profiling.settings import device_kind


def _evaluation_estimate(run_dir: Path, step: dict) -> float | None:
    """The evaluation notebook's own estimate of a step: the sum of its rows' estimated_seconds per task."""
    files = [run_dir / f for f in step.get("files", {}) if f.startswith("results/eval_") and f.endswith(".csv")]
    if not files:
        return None
    rows = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    if "estimated_seconds" not in rows or "task" not in rows:
        return None
    overhead = OVERHEADS[device_kind(str(rows["device"].iloc[0]))].notebook_s
    return float(rows.drop_duplicates("task")["estimated_seconds"].sum()) + overhead


def accuracy(run_dir: Path) -> pd.DataFrame:
    """One row per executed step with an estimate: step, estimate_s, actual_s, ratio."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rows = []
    for step in manifest.get("jobs", []):
        if step.get("status") != "executed":
            continue
        estimate = step.get("estimate_s")
        if estimate is None:
            estimate = _evaluation_estimate(run_dir, step)
        if estimate is None:
            continue
        rows.append({"step": step["name"], "estimate_s": estimate, "actual_s": step["seconds"]})
    table = pd.DataFrame(rows, columns=["step", "estimate_s", "actual_s"])
    if not table.empty:
        total = {"step": "total", "estimate_s": table["estimate_s"].sum(), "actual_s": table["actual_s"].sum()}
        table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table.assign(ratio=table["estimate_s"] / table["actual_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", default=str(paths.reports_dir() / "latest"))
    run_dir = Path(parser.parse_args().run).resolve()
    table = accuracy(run_dir)
    print(f"run {run_dir.name}: estimate / actual per step")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}") if not table.empty else "  no estimates")


if __name__ == "__main__":
    main()
