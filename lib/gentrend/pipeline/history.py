"""The history of a reports folder: the previous complete run, what changed since it, and reports/index.html.

"Changed since": models added or removed (the Models table), published scores added, removed or changed
(the run's copy of data/published_scores.csv under inputs/), measurements that moved beyond their spread (a
median outside the other run's p10–p90 both ways, same model, setting, device and point), and claims whose
verdict flipped (the ledger).

reports/index.html (a template, pipeline/templates/index.html.j2): every run with its status, duration,
notebooks reused (notebook steps only: the run's own steps such as rendering are not notebooks) and headline
numbers, under a chart of the headline figures across the complete runs (gentrend.plots.history): the density
multiplier of each generation per track, and the decode speed of each profiled model per device.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import pandas as pd

from gentrend.core.files import read_csv, write_text
from gentrend.core.text import escape
from gentrend.core.vocab import TRACKS
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.steps import upstream
from gentrend.plots.history import headline_history
from gentrend.report.layout import RunArtefacts
from gentrend.report.publish import producer_name

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


def headline_points(m: Manifest) -> pd.DataFrame:
    """One run's headline figures (columns run, started, figure, series, value): the exact density multiplier of
    each non-reference generation per track, and the median decode speed of each profiled model per device and
    precision at batch 1 and the shortest prompt."""
    rows = []
    artefacts = RunArtefacts(m.run_dir)
    for track in TRACKS:
        table = artefacts.frame(producer_name("density", track), "multipliers")
        if table is None or table.empty:
            continue
        exact = table[(table["method"] != "reference") & table["multiplier"].notna()]
        rows += [
            ("density multiplier", f"{track}: generation {r.generation} vs {r.reference}", r.multiplier)
            for r in exact.itertuples()
        ]
    speed = _results(m.run_dir)
    if not speed.empty:
        speed = speed[(speed["metric"] == "decode_tokens_per_s") & (speed["batch_size"] == 1) & speed["value"].notna()]
        speed = speed[speed["prompt_length"] == speed.groupby("model_id")["prompt_length"].transform("min")]
        for r in speed.itertuples():
            tiny = ", tiny" if r.tiny else ""
            series = f"{r.model_id} on {r.device_name} ({r.dtype}, {r.weights}{tiny}, prompt {r.prompt_length:g})"
            rows.append(("decode speed", series, r.value))
    frame = pd.DataFrame(rows, columns=["figure", "series", "value"])
    return frame.assign(run=m.run_dir.name, started=m.data.get("started") or "")


def history_chart(manifests: list[Manifest]) -> dict | None:
    """The headline figures across the complete runs as a PNG (base64) with its alt text; None before there is
    anything to draw."""
    complete = [m for m in manifests if m.complete]
    frames = [f for f in map(headline_points, complete) if not f.empty]
    if not frames:
        return None
    fig = headline_history(pd.concat(frames, ignore_index=True))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return {"png": base64.b64encode(buffer.getvalue()).decode(), "alt": fig.get_label()}


INDEX_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
).get_template("index.html.j2")


def index_rows(manifests: list[Manifest]) -> list[dict]:
    """What the index shows of each run (newest first); notebooks counted by notebook steps, not all steps."""
    rows = []
    for m in manifests:
        d = m.data
        notebooks = [j for j in d.get("jobs", []) if str(j.get("name", "")).endswith(".ipynb")]
        rows.append(
            {
                "run": m.run_dir.name,
                "report": (m.run_dir / "trend_report.html").is_file(),
                "started": d.get("started", ""),
                "status": m.status,
                "seconds": d.get("seconds", ""),
                "reused": sum(j.get("status") == "reused" for j in notebooks),
                "notebooks": len(notebooks),
                "headlines": d.get("headlines", []),
            }
        )
    return rows


def write_index(reports: Path) -> Path:
    """reports/index.html: the headline figures across runs (a chart), then every run, newest first, with its
    status, duration, reuse and headline numbers."""
    manifests = runs(reports)
    page = INDEX_TEMPLATE.render(runs=index_rows(manifests), chart=history_chart(manifests))
    return write_text(reports / "index.html", page)
