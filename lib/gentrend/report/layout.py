"""Read a run's artefacts (gentrend.report.publish) and lay them out: what the trend report notebook calls.

The report never analyses: every table, chart and sentence with a number was produced by an earlier notebook
of the same run and is shown here from its file. A missing artefact is shown as a one-line notice naming the
notebook that produces it, so a partial run still renders honestly. Section functions return the display
objects of one report section, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown

from gentrend.analysis.scores import MEASURED
from gentrend.core.files import read_csv
from gentrend.core.paths import run_dir
from gentrend.core.text import escape
from gentrend.core.vocab import TRACKS, generation_label
from gentrend.report.publish import INDEX_DIR, caption_of, empty_table_html, figure_html, producer_name, table_html


class Finding(NamedTuple):
    text: str  # one sentence, values escaped (Markdown-safe)
    section: str  # id of the report section it comes from


class RunArtefacts:
    """Every artefact index of one run folder, by producer and key."""

    def __init__(self, output_dir: str | Path | None = None):
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
            dtype={"generation": str, "reference": str, "subject": str, "against": str},
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


# --- page one: the published headline numbers in words (gentrend.report.summary) ----------------------------


def _count(n, noun: str) -> str:
    """'1 model', '3 models', '2 benchmark families'."""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{int(n)} {noun if int(n) == 1 else plural}"


def _value(r) -> str:
    """A headline value with its interval or bound, from its numbers: '2.22× (95% interval 1.43–2.65)'."""
    unit = "×" if r.unit == "×" else f" {r.unit}"
    digits = 1 if r.unit in ("months", "points", "tok/s", "GiB") else 2
    number = lambda v: f"{v:.{digits}f}{unit}"
    if r.bound == "exact" and pd.notna(r.low) and pd.notna(r.high) and r.unit in ("×", "months"):
        return f"{number(r.value)} ({r.level:.0%} interval {r.low:.{digits}f}–{number(r.high)})"
    if r.bound == "exact":
        return number(r.value)
    if r.bound == "at least":
        return f"at least {number(r.low)}"
    if r.bound == "at most":
        return f"at most {number(r.high)}"
    if r.bound == "between":
        return f"between {number(r.low)} and {number(r.high)} (a bound)"
    return "not estimable"


def _basis(r) -> str:
    """What a density headline rests on: models, families, bounded share, mixed pipelines, robustness."""
    parts = [
        f"{_count(r.n_models, 'model')}, {_count(r.n_families, 'benchmark family')}, {r.bounded_share:.0%} bounded"
    ]
    if r.mixed_pipelines is True or str(r.mixed_pipelines) == "True":
        parts.append("mixes evaluation pipelines")
    if pd.notna(r.holds):
        parts.append("robustness: " + ("holds" if str(r.holds) == "True" else "moves, see the robustness section"))
    return "; ".join(parts)


def _density_lines(table: pd.DataFrame) -> list[Finding]:
    lines = []
    for track, rows in table.groupby("track", sort=False):
        reference = rows["against"].iloc[0]
        items = [
            f"generation {escape(r.subject)} against {escape(r.against)}: {escape(_value(r))} ({escape(_basis(r))})"
            for r in rows.itertuples()
        ]
        lines.append(
            Finding(
                f"Capability density, {escape(track)} track (effective parameters per parameter of generation "
                f"{escape(reference)}, median over benchmark families): " + "; ".join(items) + ".",
                "Capability-density",
            )
        )
    return lines


def _trend_line(table: pd.DataFrame) -> list[Finding]:
    items = []
    for r in table.itertuples():
        if r.bound == "exact":
            items.append(f"{escape(r.track)}: {escape(_value(r))}")
        else:
            items.append(
                f"{escape(r.track)}: not estimable from {_count(r.n_generations, 'generation')} besides the reference "
                f"({escape(r.setting)}); per generation {escape(r.context)}"
            )
    return [Finding("Density doubling time — " + "; ".join(items) + ".", "Capability-density")]


def _per_size_line(table: pd.DataFrame) -> list[Finding]:
    items = []
    for r in table.itertuples():
        size = (
            f"the newer model has {r.size_ratio:.2f}× the parameters, so part of the change is size"
            if abs(np.log(r.size_ratio)) > np.log(SIMILAR_SIZE_RATIO)
            else f"sizes within {r.size_ratio:.2f}×"
        )
        items.append(
            f"{escape(r.context)}: {escape(r.subject)} over {escape(r.against)} ({escape(r.track)} track), "
            f"{r.value:+.1f} points median over {_count(r.n_families, 'benchmark family')}; {size}"
        )
    return [Finding("Per-size change — " + "; ".join(items) + ".", "Per-size-comparisons")]


def _fits_line(table: pd.DataFrame) -> list[Finding]:
    groups = [
        f"{escape(card)} for " + ", ".join(f"{escape(r.subject)} ({r.value:.1f} GiB)" for r in rows.itertuples())
        for card, rows in sorted(table.groupby("context", sort=False), key=lambda group: group[1]["value"].min())
    ]
    setting = table["setting"].iloc[0]
    return [
        Finding(
            f"Smallest listed card each model needs ({escape(setting)}): " + "; ".join(groups) + ".", "Speed-and-memory"
        )
    ]


def _speed_line(table: pd.DataFrame) -> list[Finding]:
    lines = []
    for setting, rows in table.groupby("setting", sort=False):
        rows = rows.sort_values("value")
        items = [f"{escape(r.subject)} {r.value:.1f} (p10–p90 {r.low:.1f}–{r.high:.1f})" for r in rows.itertuples()]
        lines.append(
            Finding(f"Decode tokens/s measured {escape(setting)}: " + "; ".join(items) + ".", "Speed-and-memory")
        )
    return lines


def _claims_line(table: pd.DataFrame) -> list[Finding]:
    total = table[table["subject"] == "all"]["value"].iloc[0]
    counts = table[table["subject"] != "all"]
    return [
        Finding(
            f"Claims ledger: of {int(total)} public claims, "
            + ", ".join(f"{int(r.value)} {escape(r.subject)}" for r in counts.itertuples())
            + ".",
            "Claims-ledger",
        )
    ]


SIMILAR_SIZE_RATIO = 1.25  # per-size models within this size ratio are called similar in size
_LINES = {
    "density": _density_lines,
    "trend": _trend_line,
    "per-size": _per_size_line,
    "fits": _fits_line,
    "speed": _speed_line,
    "claims": _claims_line,
}


def page_one(headlines: pd.DataFrame) -> list[Finding]:
    """Page one's sentences from the published headline numbers (gentrend.report.summary.HEADLINE_COLUMNS):
    formatting only, every number shown is in the table."""
    lines = []
    for finding, make in _LINES.items():
        rows = headlines[headlines["finding"] == finding]
        if not rows.empty:
            lines += make(rows)
    return lines


def findings(run: RunArtefacts) -> list[Finding]:
    """Page one of a run whose trend report notebook published its headline numbers (else empty)."""
    table = run.frame("summary", "headlines")
    return [] if table is None or table.empty else page_one(table)


def markdown(items: list[Finding]) -> str:
    """The findings as a Markdown list, each with a link to its section."""
    if not items:
        return "- This run produced no tables to summarise."
    return "\n".join(f"- {f.text} [→ section](#{f.section})" for f in items)


# --- report sections -----------------------------------------------------------------------------------------


def summary_section(run: RunArtefacts) -> list:
    """The headline findings (published by gentrend.report.summary), each linked to its section."""
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


def _per_track(run: RunArtefacts, role: str, key: str, parts, qualifier: str = "") -> list:
    """Per track `role` produced `key` for: a heading, then `parts(producer)`; where no track has it, the
    "not produced" note."""
    shown = []
    for track, producer in _tracks(run, role, key, qualifier):
        shown += [heading(f"{track} track"), *parts(producer)]
    return shown or [missing(producer_name(role, TRACKS[0]), key)]


def density_section(run: RunArtefacts, qualifier: str = "") -> list:
    """Per track: the reading, the density ratio per model (chart) and the generation multipliers (against the
    reference and the generation before); the method once, after the first track (its rules are the same on
    every track). The per-model table and the rest are in an appendix (`density_detail_section`).
    `qualifier`: the section over measured scores ("measured here", whose method is in the appendix), else the
    published one."""
    shown = []
    for i, (track, producer) in enumerate(_tracks(run, "density", "per_model", qualifier)):
        shown += [
            heading(f"{track} track, against generation {_reference(run, producer)}"),
            run.text(producer, "reading"),
            run.figure(producer, "density_ratios"),
            run.table(producer, "multipliers"),
            *([run.table(producer, "previous_generation")] if run.has(producer, "previous_generation") else []),
        ]
        if i == 0 and not qualifier:
            shown += [heading("Method (the same on every track)", 4), run.text(producer, "method")]
    return shown or [missing(producer_name("density", TRACKS[0]), "per_model")]


def density_detail_section(run: RunArtefacts, qualifier: str = "") -> list:
    """Per track (appendix): the density per model as a table and as effective sizes, the models outside the
    reference range, the doubling time and the multipliers over time; over measured scores, the method too."""
    shown = []
    for i, (track, producer) in enumerate(_tracks(run, "density", "per_model", qualifier)):
        shown += [
            heading(f"{qualifier.capitalize()}: {track} track" if qualifier else f"{track} track"),
            run.table(producer, "per_model"),
            run.figure(producer, "effective_size"),
            run.table(producer, "outside_range"),
            run.table(producer, "doubling_time"),
            run.figure(producer, "over_time"),
        ]
        if i == 0 and qualifier:
            shown.append(run.text(producer, "method"))
    return shown


def _reference(run: RunArtefacts, producer: str) -> str:
    """The reference generation a density producer measured against."""
    models = run.frame(producer, "per_model")
    return models["reference"].iloc[0] if models is not None and not models.empty else "?"


def robustness_section(run: RunArtefacts) -> list:
    """Per track: each headline multiplier under the variants of gentrend.analysis.robustness, one sentence per
    headline saying whether it holds, and the assumptions it rests on."""
    return _per_track(
        run, "density", "robustness", lambda p: [run.text(p, "robustness_reading"), run.table(p, "robustness")]
    )


def families_section(run: RunArtefacts) -> list:
    """The benchmark families counted once, per track (appendix)."""
    return [run.table(p, "families") for _, p in _tracks(run, "density", "families")]


def heatmaps_section(run: RunArtefacts) -> list:
    """The per-size score-change heatmaps, one per track, published then measured here (appendix)."""
    return [
        run.figure(p, "delta_heatmap") for q in ("", MEASURED) for _, p in _tracks(run, "per-size", "delta_heatmap", q)
    ]


def score_charts_section(run: RunArtefacts) -> list:
    """The score-against-size charts of every track, published then measured here (appendix)."""
    return [
        run.figure(producer, key)
        for producer in (producer_name("density", f"{q} {t}".strip()) for q in ("", MEASURED) for t in TRACKS)
        for key in run.index.get(producer, {})
        if key.startswith("score_vs_params")
    ]


def per_size_section(run: RunArtefacts, qualifier: str = "") -> list:
    return _per_track(
        run,
        "per-size",
        "summary",
        lambda p: [run.text(p, "reading"), run.table(p, "summary"), run.table(p, "newest_vs_largest")],
        qualifier,
    )


def speed_memory_section(run: RunArtefacts) -> list:
    """The profile summary, speed against size and the roofline, the decode regime, the weight precisions; the
    memory model against this run's measurements and what fits where. Per-point rows are in an appendix
    (`speed_memory_detail_section`)."""
    producer = "speed-memory"
    return [
        run.table(producer, "summary"),
        run.figure(producer, "speed_vs_size"),
        run.figure(producer, "roofline"),
        run.text(producer, "regime_reading"),
        run.table(producer, "decode_regime"),
        run.table(producer, "precisions"),
        heading("Memory: model against measurement, and what fits where"),
        run.figure(producer, "memory_measured"),
        run.table(producer, "fits"),
    ]


def speed_memory_detail_section(run: RunArtefacts) -> list:
    """Latency per batch size, the memory model against each measured point and per component, and the
    analytical memory of every model (appendix)."""
    producer = "speed-memory"
    return [
        run.figure(producer, "latency_vs_batch"),
        run.table(producer, "memory_validation"),
        run.table(producer, "memory_errors"),
        run.figure(producer, "memory_curves"),
    ]


NOT_EVALUATED = Markdown("No model was evaluated in this run (`gentrend report --evaluate TASK ...`).")


def _evaluated(run: RunArtefacts) -> list[str]:
    return sorted(p for p in run.index if p.startswith("evaluate-"))


def measured_section(run: RunArtefacts) -> list:
    """Over the scores measured here with lm-eval: density and per-size, as above, over the measured scores alone
    (never mixed with published ones). Each evaluated model's scores are in an appendix (`evaluations_section`)."""
    evaluated = _evaluated(run)
    if not evaluated:
        return [NOT_EVALUATED]
    if _tracks(run, "density", "per_model", MEASURED):
        return [
            heading("Capability density over the measured scores"),
            *density_section(run, MEASURED),
            heading("Per-size comparisons over the measured scores"),
            *per_size_section(run, MEASURED),
        ]
    if run.has(evaluated[0], "measured_note"):  # the runner's reason, the same on every evaluation
        return [run.text(evaluated[0], "measured_note")]
    return []


def evaluations_section(run: RunArtefacts) -> list:
    """Per evaluated model (appendix): its scores as a table and a chart, and how they compare with the published
    ones; then the measured density in detail."""
    shown = []
    for producer in _evaluated(run):
        shown += [
            run.table(producer, "scores"),
            run.figure(producer, "scores_chart"),
            run.table(producer, "versus_published"),
        ]
    return (shown + density_detail_section(run, MEASURED)) or [NOT_EVALUATED]


def claims_section(run: RunArtefacts) -> list:
    """The verdict rule above the ledger, then the counts, the ledger, and each reading of a claim read two ways."""
    return [
        run.text("claims", "rule"),
        run.text("claims", "reading"),
        run.table("claims", "ledger", badges=("verdict",)),
        run.table("claims", "readings", badges=("verdict",)),
    ]


def sources_section(run: RunArtefacts) -> list:
    return [run.table("run", "sources")]
