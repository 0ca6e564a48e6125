"""Explore a finished run in a notebook: its tables by their titles, as tidy frames with provenance, and the
report's charts redrawn from a filtered frame.

    run = open_run("latest")                       # or a run id, or a run folder; None: latest
    run.contents()                                 # every table, chart and result file, by title
    per_model = run.frame("density ratio per model base")  # words of the title, in any order
    run.plot("density ratio per model base", per_model[per_model["generation"] == "3"])
    compare_runs(run, open_run("2026-12-01-..."), "density multiplier base")

A name is matched against the titles the report prints (case-insensitive): the exact title, else the title
holding every word of the name with the fewest other words ("non-thinking", "2.5" and "qwen2.5-0.5b" are single
words, so "thinking" does not match "non-thinking"; "density multiplier base" picks the published table over
"Measured here: Density multiplier ..., base"). A tie or an unknown name raises an error listing candidates.
Each frame carries `frame.attrs["provenance"]`: title, source, file, producer, run id, when the run started,
its status, the machine fingerprint and the library versions from the run's manifest.

Producers (the notebook run that published an artefact, e.g. `profile-qwen3-5-0-8b`) are listed beside each
title but never needed. The layout (gentrend.report.layout.RunArtefacts) reads the same artefact indexes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from gentrend.analysis.comparisons import delta_matrix
from gentrend.core import paths
from gentrend.core.errors import GentrendError
from gentrend.core.files import read_csv
from gentrend.plots import density as density_charts
from gentrend.plots.comparisons import delta_heatmap
from gentrend.plots.profiling import latency_vs_batch, speed_vs_size
from gentrend.profiling import wide
from gentrend.report.layout import RunArtefacts

RESULT_TITLES = {"profile": "Profiling results", "eval": "Evaluation results"}  # results/<kind>_<name>.csv


class ExploreError(GentrendError):
    """A run or a table that cannot be found, or a chart the table has none of."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*", text.lower())


def _run_folder(run: str | Path | None) -> Path:
    reports = paths.reports_dir()
    if run is None or str(run) == "latest":
        folder = reports / "latest"
        if not folder.exists():
            raise ExploreError(
                f"{reports} has no complete run yet (no 'latest')",
                "run `gentrend report` first, or open a run folder by its path",
            )
        return folder.resolve()
    folder = Path(run) if Path(run).is_dir() else reports / str(run)
    if not (folder / "manifest.json").is_file() and not (folder / "artefacts").is_dir():
        known = sorted(d.name for d in reports.iterdir() if (d / "manifest.json").is_file()) if reports.is_dir() else []
        raise ExploreError(
            f"no run {str(run)!r} in {reports}",
            f"open one of: {', '.join(known[-5:]) or 'none yet (run gentrend report)'}, 'latest', or a run folder",
        )
    return folder.resolve()


@dataclass(frozen=True)
class Entry:
    """One thing a run holds: a published table or chart, or a results file."""

    title: str
    kind: str  # "table" | "figure" | "results"
    producer: str
    key: str
    file: str
    source: str


class Run:
    """A finished run folder, read only. See the module docstring."""

    def __init__(self, run: str | Path | None = None):
        self.path = _run_folder(run)
        self.id = self.path.name
        manifest = self.path / "manifest.json"
        self.manifest = json.loads(manifest.read_text()) if manifest.is_file() else {}
        self.artefacts = RunArtefacts(self.path)
        self.entries = self._entries()

    def __repr__(self) -> str:
        tables = sum(e.kind == "table" for e in self.entries)
        others = len(self.entries) - tables
        return (
            f"<gentrend run {self.id}: {self.manifest.get('status', 'status unknown')}, started "
            f"{self.manifest.get('started', '?')}; {tables} tables, {others} charts and result files>"
        )

    def _entries(self) -> list[Entry]:
        found = [
            Entry(item["title"], item["kind"], producer, key, item.get("file") or "", item.get("source") or "")
            for producer, items in self.artefacts.index.items()
            for key, item in items.items()
            if item["kind"] in ("table", "figure")
        ]
        for path in sorted((self.path / "results").glob("*.csv")):
            kind, _, name = path.stem.partition("_")
            if kind in RESULT_TITLES and not name.endswith(".partial"):
                title = f"{RESULT_TITLES[kind]} {name}"
                found.append(Entry(title, "results", f"results-{kind}", name, f"results/{path.name}", "measured here"))
        return found

    def previous(self) -> Run | None:
        """The newest other run in the same reports folder that started before this one, or None."""
        started = self.manifest.get("started") or ""
        earlier = []
        for folder in self.path.parent.iterdir():
            manifest = folder / "manifest.json"
            if folder.is_symlink() or folder.resolve() == self.path or not manifest.is_file():
                continue
            when = json.loads(manifest.read_text()).get("started") or ""
            if when <= started:
                earlier.append((when, folder))
        return Run(max(earlier)[1]) if earlier else None

    @property
    def provenance(self) -> dict:
        """The run's own provenance: id, folder, start, status, machine fingerprint and library versions."""
        inputs = self.manifest.get("inputs", {})
        return {
            "run": self.id,
            "folder": str(self.path),
            "started": self.manifest.get("started"),
            "status": self.manifest.get("status"),
            "machine": inputs.get("machine"),
            "gentrend": self.manifest.get("gentrend"),
            "libraries": inputs.get("libraries", {}),
        }

    def contents(self, kind: str | None = None) -> pd.DataFrame:
        """Every table, chart and results file by title (kind: "table", "figure" or "results" to narrow it)."""
        rows = [e.__dict__ for e in self.entries if kind in (None, e.kind)]
        frame = pd.DataFrame(rows, columns=["title", "kind", "producer", "key", "file", "source"])
        return frame.sort_values(["kind", "title"], ignore_index=True)

    def find(self, name: str, kinds: tuple[str, ...] = ("table", "results")) -> Entry:
        """The entry whose title is `name`, or the one title holding every word of it (see the module docstring)."""
        candidates = [e for e in self.entries if e.kind in kinds]
        exact = [e for e in candidates if e.title.lower() == name.lower()]
        wanted = set(_words(name))
        matches = exact or [e for e in candidates if wanted <= set(_words(e.title))]
        if len(matches) > 1:  # the closest: fewest words beyond the name ("Measured here: ..." is a longer title)
            fewest = min(len(set(_words(e.title)) - wanted) for e in matches)
            matches = [e for e in matches if len(set(_words(e.title)) - wanted) == fewest]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            near = [e.title for e in candidates if wanted & set(_words(e.title))]
            raise ExploreError(
                f"run {self.id} has no {' or '.join(kinds)} titled like {name!r}",
                f"use words of a title from run.contents(); close: {'; '.join(near[:6]) or 'none'}",
            )
        raise ExploreError(
            f"{name!r} matches {len(matches)} titles in run {self.id}: {'; '.join(e.title for e in matches[:8])}",
            "add a word that tells them apart (e.g. the track: base, non-thinking, thinking; or the model id)",
        )

    def frame(self, name: str) -> pd.DataFrame:
        """A table or results file by title, as published (tidy: one row per model, point or measurement), with
        frame.attrs["provenance"]."""
        entry = self.find(name)
        if entry.kind == "table":
            frame = self.artefacts.frame(entry.producer, entry.key)
        else:
            frame = read_csv(self.path / entry.file, entry.title, dtype={"generation": str}, low_memory=False)
        frame.attrs["provenance"] = {
            "title": entry.title,
            "source": entry.source,
            "file": entry.file,
            "producer": entry.producer,
            **self.provenance,
        }
        return frame

    def plot(self, name: str, frame: pd.DataFrame | None = None) -> plt.Figure:
        """The report's chart of the table `name`, redrawn from `frame` (a filtered copy of run.frame(name);
        default: the whole table)."""
        entry = self.find(name)
        chart = CHARTS.get(entry.key if entry.kind == "table" else entry.producer)
        if chart is None:
            drawn = sorted(CHART_TABLES)
            raise ExploreError(
                f"the report draws no chart from {entry.title!r}",
                f"plot one of: {', '.join(drawn)}; or draw this frame with pandas (frame.plot)",
            )
        frame = self.frame(name) if frame is None else frame
        if frame.empty:
            raise ExploreError(f"nothing to draw: the frame of {entry.title!r} has no rows", "filter less")
        fig = chart(frame, entry, self)
        plt.close(fig)  # shown once, as the returned value (not again by the inline backend)
        return fig


def _outside(run: Run, entry: Entry) -> pd.DataFrame | None:
    return run.artefacts.frame(entry.producer, "outside_range")


def _per_model(frame: pd.DataFrame, entry: Entry, run: Run, chart) -> plt.Figure:
    size = frame.attrs.get("size_convention", "total")
    outside = _outside(run, entry)
    if outside is not None and not outside.empty:
        outside = outside[outside["generation"].astype(str).isin(frame["generation"].astype(str))]  # as filtered
    return chart(frame.assign(size_convention=size), outside, entry.source)


def _density_ratios(frame, entry, run):
    return _per_model(frame, entry, run, density_charts.density_ratios)


def _multipliers(frame, entry, run):
    doubling = run.artefacts.frame(entry.producer, "doubling_time")
    parsed = frame.assign(
        release_date=pd.to_datetime(frame["release_date"]), size_convention=frame.get("size_convention", "total")
    )
    return density_charts.density_over_time(parsed, doubling, entry.source)


def _class_scores(frame, entry, run):
    track, baseline = frame["track"].iloc[0], frame["reference"].iloc[0]
    return delta_heatmap(delta_matrix(frame), track, "total", baseline, entry.source)


def _profiling(frame, entry, run):
    rows = wide(frame)
    return (
        speed_vs_size(rows, f"Decode speed: {entry.title}")
        if rows["model_id"].nunique() > 1
        else latency_vs_batch(rows, entry.title)
    )


CHARTS = {
    "per_model": _density_ratios,
    "multipliers": _multipliers,
    "class_scores": _class_scores,
    "results-profile": _profiling,
}
CHART_TABLES = (
    "Density ratio per model ...",
    "Density multiplier per generation ...",
    "Scores per size class ...",
    "Profiling results <model>",
)


def open_run(run: str | Path | None = None) -> Run:
    """A finished run: "latest" or None (the newest complete run), a run id under the reports folder, or a path."""
    return Run(run)


def compare_runs(a: Run, b: Run, name: str) -> pd.DataFrame:
    """The table `name` of two runs, one above the other, with a `run` column first (tidy: filter or pivot it)."""
    frames = [run.frame(name).assign(run=run.id) for run in (a, b)]
    both = pd.concat(frames, ignore_index=True)
    both.attrs["provenance"] = {run.id: frame.attrs["provenance"] for run, frame in zip((a, b), frames)}
    return both[["run"] + [c for c in both.columns if c != "run"]]
