"""Read a run's artefacts (gentrend.report.publish) and lay them out: what the trend report notebook calls.

The report never analyses: every table, chart and sentence with a number was produced by an earlier notebook
of the same run and is shown here from its file. A missing artefact is shown as a one-line notice naming the
notebook that produces it, so a partial run still renders honestly. Section functions return the display
objects of one report section, in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown

from gentrend.analysis.scores import MEASURED
from gentrend.core.files import read_csv
from gentrend.core.paths import run_dir
from gentrend.core.text import escape
from gentrend.core.vocab import TRACKS, generation_label
from gentrend.report.publish import INDEX_DIR, caption_of, empty_table_html, figure_html, producer_name, table_html
from gentrend.report.summary import findings, markdown


class RunArtefacts:
    """Every artefact index of one run folder, by producer and key."""

    def __init__(self, output_dir: str | Path = ""):
        self.run = run_dir(output_dir)
        self.index: dict[str, dict] = {}
        for path in sorted((self.run / INDEX_DIR).glob("*.json")):
            data = json.loads(path.read_text())
            self.index[data["producer"]] = data["items"]

    def item(self, producer: str, key: str) -> dict | None:
        return self.index.get(producer, {}).get(key)

    def has(self, producer: str, key: str) -> bool:
        return self.item(producer, key) is not None

    def frame(self, producer: str, key: str) -> pd.DataFrame | None:
        """A published table read back (text columns stay text), or None."""
        item = self.item(producer, key)
        if item is None or item["kind"] != "table":
            return None
        if item["file"] is None:  # published without rows
            return pd.DataFrame()
        return read_csv(
            self.run / item["file"],
            f"table {item['title']}",
            dtype={"generation": str, "reference": str},
            keep_default_na=False,
            na_values=[""],
        )

    def table(self, producer: str, key: str, badges: tuple[str, ...] = ()) -> HTML:
        """A published table; `badges`: columns whose values are shown as labelled badges (e.g. verdicts)."""
        item = self.item(producer, key)
        if item is None:
            return missing(producer, key)
        if item["file"] is None:
            return empty_table_html(item["title"], item.get("empty", ""))
        return table_html(self.frame(producer, key), caption_of(item["title"], item["source"], item["file"]), badges)

    def figure(self, producer: str, key: str) -> HTML:
        item = self.item(producer, key)
        if item is None:
            return missing(producer, key)
        return figure_html((self.run / item["file"]).read_bytes(), item["alt"])

    def text(self, producer: str, key: str) -> Markdown | HTML:
        item = self.item(producer, key)
        if item is None:
            return missing(producer, key)
        return Markdown(item["markdown"])


def missing(producer: str, key: str) -> HTML:
    """The notice shown where an artefact was not produced in this run."""
    role = producer.split("-")[0]
    return HTML(
        f'<p class="missing">Not produced in this run: {escape(key.replace("_", " "))} of '
        f"{escape(producer)} (run the {escape(role)} notebook, or <code>gentrend report</code>).</p>"
    )


def heading(text: str, level: int = 3) -> Markdown:
    return Markdown(f"{'#' * level} {escape(text)}")


# --- report sections -----------------------------------------------------------------------------------------


def summary_section(run: RunArtefacts) -> list:
    """The headline findings (gentrend.report.summary), each linked to its section, and what the speed numbers are."""

    return [Markdown(markdown(findings(run)))]


def run_section(run: RunArtefacts) -> list:
    return [run.table("run", "environment")]


def changes_section(run: RunArtefacts) -> list:
    shown = [run.text("changes", "reading")]
    if run.has("changes", "changes"):
        shown.append(run.table("changes", "changes"))
    return shown


def appendix_section(run: RunArtefacts, catalogue) -> list:
    """The published scores as printed, per generation and track (tables of the generation notebooks)."""
    shown = []
    for generation in catalogue.generations:
        name = generation_label(catalogue.in_generation(generation)[0].family, generation)
        producer = producer_name("generation", name)
        tracks = [t for t in TRACKS if run.has(producer, f"scores_{t}")]
        shown += [heading(name)] + [run.table(producer, f"scores_{t}") for t in tracks]
    return shown


def models_section(run: RunArtefacts, catalogue) -> list:
    """The catalogue table, then each generation's architecture and parameter charts."""
    shown = [run.table("run", "models")]
    for generation in catalogue.generations:
        name = generation_label(catalogue.in_generation(generation)[0].family, generation)
        producer = producer_name("generation", name)
        shown += [
            heading(name),
            run.table(producer, "architecture"),
            run.figure(producer, "parameter_split"),
            run.figure(producer, "kv_cache"),
        ]
    return shown


def _tracks(run: RunArtefacts, role: str, key: str, qualifier: str = "") -> list[tuple[str, str]]:
    """(track, producer) of the tracks `role` produced `key` for, in vocabulary order."""
    producers = [(t, producer_name(role, f"{qualifier} {t}".strip())) for t in TRACKS]
    return [(t, p) for t, p in producers if run.has(p, key)]


def density_section(run: RunArtefacts, qualifier: str = "") -> list:
    """Per track: the reading, the per-model table and charts, models outside the reference range, the
    generation multipliers and doubling time, then the method and the benchmark families counted once.
    `qualifier`: the section over measured scores ("measured here"), else the published one."""
    shown = []
    for track, producer in _tracks(run, "density", "per_model", qualifier):
        models = run.frame(producer, "per_model")
        reference = models["reference"].iloc[0] if not models.empty else "?"
        shown += [
            heading(f"{track} track, against generation {reference}"),
            run.text(producer, "reading"),
            run.table(producer, "per_model"),
            run.figure(producer, "effective_size"),
            run.figure(producer, "density_ratios"),
            run.table(producer, "outside_range"),
            run.table(producer, "multipliers"),
            run.table(producer, "doubling_time"),
            run.figure(producer, "over_time"),
            run.figure(producer, "score_vs_params"),
            heading(f"Method, {track} track", 4),
            run.text(producer, "method"),
            run.table(producer, "families"),
        ]
    return shown or [missing(producer_name("density", TRACKS[0]), "per_model")]


def per_size_section(run: RunArtefacts, qualifier: str = "") -> list:
    shown = []
    for track, producer in _tracks(run, "per-size", "summary", qualifier):
        shown += [
            heading(f"{track} track"),
            run.text(producer, "reading"),
            run.table(producer, "summary"),
            run.figure(producer, "delta_heatmap"),
            run.table(producer, "newest_vs_largest"),
        ]
    return shown or [missing(producer_name("per-size", TRACKS[0]), "summary")]


def speed_memory_section(run: RunArtefacts) -> list:
    producer = "speed-memory"
    return [
        run.table(producer, "summary"),
        run.figure(producer, "speed_vs_size"),
        run.figure(producer, "roofline"),
        run.text(producer, "regime_reading"),
        run.table(producer, "decode_regime"),
        run.figure(producer, "latency_vs_batch"),
        run.table(producer, "precisions"),
        heading("Memory: model against measurement, and what fits where"),
        run.table(producer, "memory_validation"),
        run.figure(producer, "memory_measured"),
        run.figure(producer, "memory_curves"),
        run.table(producer, "fits"),
    ]


def measured_section(run: RunArtefacts) -> list:
    """Scores measured here with lm-eval: per evaluated model its scores and how they compare with the published
    ones, then density and per-size over the measured scores alone (never mixed with published ones)."""
    evaluated = sorted(p for p in run.index if p.startswith("evaluate-"))
    if not evaluated:
        return [Markdown("No model was evaluated in this run (`gentrend report --evaluate TASK ...`).")]
    shown = []
    for producer in evaluated:
        shown += [
            run.table(producer, "scores"),
            run.figure(producer, "scores_chart"),
            run.table(producer, "versus_published"),
        ]
    density = density_section(run, MEASURED)
    per_size = per_size_section(run, MEASURED)
    if _tracks(run, "density", "per_model", MEASURED):
        shown += [
            heading("Capability density over the measured scores"),
            *density,
            heading("Per-size comparisons over the measured scores"),
            *per_size,
        ]
    elif run.has(evaluated[0], "measured_note"):  # the runner's reason, the same on every evaluation
        shown.append(run.text(evaluated[0], "measured_note"))
    return shown


def claims_section(run: RunArtefacts) -> list:
    """The verdict rule above the ledger, then the counts and the ledger."""
    return [
        run.text("claims", "rule"),
        run.text("claims", "reading"),
        run.table("claims", "ledger", badges=("verdict",)),
    ]


def sources_section(run: RunArtefacts) -> list:
    return [run.table("run", "sources")]
