"""The history of a reports folder: the previous complete run, what changed since it, and reports/index.html.

"Changed since": models added or removed (the Models table), published scores added, removed or changed
(the run's copy of data/published_scores.csv under inputs/), measurements that moved beyond their spread (a
median outside the other run's p10–p90 both ways, same model, setting, device and point), and claims whose
verdict flipped (the ledger).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from gentrend.core.files import read_csv, write_text
from gentrend.core.text import escape
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.steps import upstream

POINT_KEY = ["model_id", "backend", "dtype", "device_name", "tiny", "batch_size", "prompt_length", "metric"]
SCORE_KEY = ["model", "variant", "benchmark", "setting", "source_url"]


def runs(reports: Path) -> list[Manifest]:
    """Every run folder of `reports` with a manifest, newest first (folders set aside, '.name', left out)."""
    found = [
        m
        for d in reports.iterdir()
        if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") and (m := Manifest.load(d))
    ]
    return sorted(found, key=lambda m: m.data.get("started") or "", reverse=True)


def interrupted_runs(reports: Path, exclude: str = "") -> list[Manifest]:
    """Runs that stopped before the end (interrupted, or "running" with their process gone), newest first: a new
    run reuses their finished steps (each step's files are checked by hash before reuse)."""
    return [m for m in runs(reports) if m.status == "interrupted" and m.run_dir.name != exclude]


def previous_complete(reports: Path, exclude: str = "") -> Manifest | None:
    """The newest complete run other than `exclude` (what `latest` points to, normally)."""
    return next((m for m in runs(reports) if m.complete and m.run_dir.name != exclude), None)


def baseline(reports: Path, run_dir: Path, compared: tuple[str, ...]) -> Manifest | None:
    """The newest earlier complete run whose compared files (`compared`, glob patterns) differ from this run's:
    what "changed since" is measured against."""

    mine = upstream(run_dir, compared)
    return next(
        (m for m in runs(reports) if m.complete and m.run_dir != run_dir and upstream(m.run_dir, compared) != mine),
        None,
    )


def _frame(run: Path, relative: str, **kwargs) -> pd.DataFrame:
    path = run / relative
    return read_csv(path, relative, **kwargs) if path.is_file() else pd.DataFrame()


def _results(run: Path) -> pd.DataFrame:
    files = sorted((run / "results").glob("profile_*.csv"))
    frames = [read_csv(f, "profiling results", dtype={"generation": str}) for f in files]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return rows[rows["scope"] == "point"] if not rows.empty else rows


def changes(current: Path, previous: Path) -> pd.DataFrame:
    """One row per change between two run folders: kind, item, before, after (see the module docstring)."""
    rows = []
    models = {r: set(_frame(r, "tables/models.csv").get("model", [])) for r in (previous, current)}
    rows += [("model added", m, "", "in the catalogue") for m in sorted(models[current] - models[previous])]
    rows += [("model removed", m, "in the catalogue", "") for m in sorted(models[previous] - models[current])]

    old, new = (_frame(r, "inputs/published_scores.csv", dtype=str, keep_default_na=False) for r in (previous, current))
    if not old.empty and not new.empty:
        both = old.merge(new, on=SCORE_KEY, how="outer", suffixes=("_old", "_new"), indicator="side")
        for r in both.itertuples(index=False):
            item = f"{r.model} {r.benchmark} ({r.variant}, {r.setting})"
            if r.side == "right_only":
                rows.append(("score added", item, "", r.score_new))
            elif r.side == "left_only":
                rows.append(("score removed", item, r.score_old, ""))
            elif r.score_old != r.score_new:
                rows.append(("score changed", item, r.score_old, r.score_new))

    old, new = _results(previous), _results(current)
    if not old.empty and not new.empty:
        both = old.merge(new, on=POINT_KEY, suffixes=("_old", "_new")).dropna(subset=["value_old", "value_new"])
        moved = both[
            ((both["value_new"] < both["p10_old"]) | (both["value_new"] > both["p90_old"]))
            & ((both["value_old"] < both["p10_new"]) | (both["value_old"] > both["p90_new"]))
        ]
        for r in moved.itertuples(index=False):
            rows.append(
                (
                    "measurement moved",
                    f"{r.model_id} {r.metric} at batch {r.batch_size:g} × prompt {r.prompt_length:g} "
                    f"({r.dtype}, {r.backend})",
                    f"{r.value_old:.4g} [{r.p10_old:.4g}–{r.p90_old:.4g}]",
                    f"{r.value_new:.4g} [{r.p10_new:.4g}–{r.p90_new:.4g}]",
                )
            )

    old, new = (_frame(r, "tables/claims_ledger.csv") for r in (previous, current))
    if not old.empty and not new.empty:
        both = old.merge(new, on="id", suffixes=("_old", "_new"))
        for r in both[both["verdict_old"] != both["verdict_new"]].itertuples(index=False):
            rows.append(("verdict flipped", f"{r.id}: {r.claim_new[:100]}", r.verdict_old, r.verdict_new))
    return pd.DataFrame(rows, columns=["kind", "item", "before", "after"])


def changes_reading(table: pd.DataFrame, previous: str) -> str:
    """One line: what changed since `previous`, counted by kind."""

    if table.empty:
        return (
            f"- Nothing changed since run {escape(previous)}: same models, scores, verdicts, and measurements "
            "within their spread."
        )
    counts = table["kind"].value_counts()
    return f"- Since run {escape(previous)}: " + ", ".join(f"{n} {escape(k)}" for k, n in counts.items()) + "."


def write_index(reports: Path) -> Path:
    """reports/index.html: every run, newest first, with its status, duration, reuse and headline numbers."""
    items = []
    for m in runs(reports):
        d = m.data
        run = html.escape(m.run_dir.name)
        link = f'<a href="{run}/trend_report.html">{run}</a>' if (m.run_dir / "trend_report.html").is_file() else run
        jobs = d.get("jobs", [])
        reused = sum(j.get("status") == "reused" for j in jobs)
        headlines = "".join(f"<li>{html.escape(h)}</li>" for h in d.get("headlines", []))
        items.append(
            f"<tr><td>{link}</td><td>{html.escape(str(d.get('started', '')))}</td>"
            f'<td class="status-{html.escape(m.status)}">{html.escape(m.status)}</td>'
            f"<td>{html.escape(str(d.get('seconds', '')))}</td><td>{reused} of {len(jobs)}</td>"
            f"<td><ul>{headlines}</ul></td></tr>"
        )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>gentrend runs</title><style>'
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ccd;"
        "padding:4px 8px;text-align:left;vertical-align:top}.status-complete{color:#1a7f37}.status-partial,"
        ".status-failed,.status-running,.status-interrupted{color:#b35900}</style></head><body><h1>gentrend runs</h1>"
        "<table><thead><tr><th>run</th><th>started (UTC)</th><th>status</th><th>seconds</th><th>notebooks reused</th>"
        f"<th>headline numbers</th></tr></thead><tbody>{''.join(items)}</tbody></table></body></html>\n"
    )
    return write_text(reports / "index.html", page)
