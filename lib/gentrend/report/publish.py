"""What a notebook publishes into its run folder, and how it is shown: tables, charts and prose built from data.

One notebook run = one *producer* (e.g. "density-base"). Each artefact it publishes has a stable key, is
written atomically, and is listed in the producer's index <run>/artefacts/<producer>.json, which is what the
trend report reads (gentrend.report.layout): the report lays artefacts out, it never recomputes them.

    out = Publisher(output_dir, "density", track)
    out.table(frame, "per_model", f"Density per model, {track}", source="published scores")  # tables/<slug>.csv
    out.figure(fig, "ratios")                                                                  # figures/<slug>.png
    out.text("reading", markdown)                                                              # prose with numbers

Rules: a table file another producer of the same run wrote is never overwritten (PublishError); every value
that came from data is HTML-escaped where it is shown (cells, headers, captions, prose), so markup in the data
is displayed as text and never runs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown

from gentrend.core.errors import GentrendError
from gentrend.core.files import write_bytes, write_csv, write_json
from gentrend.core.paths import run_dir
from gentrend.core.text import escape
from gentrend.core.vocab import BOUND_WORDS, column_label
from gentrend.plots import label_problems, smallest_text_pt

INDEX_DIR = "artefacts"
FIGURE_DPI = 150


class PublishError(GentrendError):
    """An artefact would overwrite another producer's, or is malformed."""


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def producer_name(name: str, label: str = "") -> str:
    """The producer id of a notebook role and its label: ('density', 'non-thinking') → 'density-non-thinking'."""
    return slug(f"{name} {label}").replace("_", "-")


def _whole_numbers_as_int(column: pd.Series) -> pd.Series:
    """Show parameter counts as 1,720,574,976, not 1,720,574,976.00 (float columns from joins and CSV)."""
    if pd.api.types.is_float_dtype(column) and column.notna().any():
        values = column.dropna()
        if np.isfinite(values).all() and (values == values.round()).all() and values.abs().max() >= 1000:
            return column.astype("Int64")
    return column


WIDE_COLUMNS = 8  # tables with more printed columns are set in a smaller type
PRINT_COLUMNS = 11  # the PDF prints at most this many columns of a table, besides KEEP_IN_PRINT ones (the CSV has all)
# Columns the PDF never cuts: a value's interval, bound and error (matched in the column's name).
KEEP_IN_PRINT = re.compile(r"ci_|interval|_low$|_high$|p10|p90|bound|error|label|verdict|holds")
# Columns the section heading or caption already states (or long provenance, which the CSV keeps; a model's id
# where its name is shown): cut first.
CUT_FIRST_IN_PRINT = {"reference", "track", "size_convention", "source_url", "reference_sources", "curve_sources"}
CUT_FIRST_IN_PRINT |= {"sources", "method", "model_id"}
UNBOUNDED = "unbounded"  # how a table shows an open end (inf, or a 0 lower end of a density or multiplier)
_OPEN_AT_ZERO = re.compile(r"^(density|multiplier)_low$")


LONG_TEXT_CHARS = 60  # a column whose cells average this many characters is prose
PRINT_PROSE_COLUMNS = 4  # the PDF prints at most this many prose columns of a table: more cannot share a page width


def print_columns(columns, limit: int = PRINT_COLUMNS, prose=(), repeated=()) -> list:
    """The columns the PDF prints of a table, in their order: every column KEEP_IN_PRINT names, then the
    leading others up to `limit` in all, CUT_FIRST_IN_PRINT ones and then `repeated` ones (one long text on every
    row, which the caption states) last, and of the `prose` columns (long text) at most PRINT_PROSE_COLUMNS (the
    kept ones may exceed the limits: an interval is never cut)."""
    columns = list(columns)
    kept = [c for c in columns if KEEP_IN_PRINT.search(str(c))]
    others = [c for c in columns if c not in kept]
    cut_first = CUT_FIRST_IN_PRINT - ({"model_id"} if "model" not in columns else set())  # else it names the rows
    last = [c for c in others if c in cut_first and c not in repeated] + [c for c in others if c in repeated]
    others = [c for c in others if c not in last] + last
    room = PRINT_PROSE_COLUMNS - sum(c in prose for c in kept)
    others = [c for c in others if c not in prose or (room := room - 1) >= 0]
    others = others[: max(limit - len(kept), 0)]
    return [c for c in columns if c in kept or c in others]


def prose_columns(frame: pd.DataFrame) -> list:
    """The text columns whose cells average LONG_TEXT_CHARS characters or more."""
    text = frame.select_dtypes(include=["object", "string"])
    return [c for c in text.columns if text[c].astype(str).str.len().mean() >= LONG_TEXT_CHARS]


def repeated_columns(frame: pd.DataFrame) -> list:
    """The prose columns of a table of several rows that hold one text on every row."""
    return [c for c in prose_columns(frame) if len(frame) > 1 and frame[c].nunique(dropna=False) == 1]


def _in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """Codes spelled out: bounds in words, open ends as UNBOUNDED, column names from the vocabulary."""
    shown = frame.apply(_whole_numbers_as_int)
    for column in shown.columns:
        values = shown[column]
        if column == "bound":
            shown[column] = values.map(lambda v: BOUND_WORDS.get(v, v))
        elif pd.api.types.is_float_dtype(values):
            open_end = np.isinf(values) | ((values == 0) if _OPEN_AT_ZERO.match(str(column)) else False)
            if open_end.any():
                shown[column] = values.astype(object).where(~open_end, UNBOUNDED)
    return shown.set_axis(shown_labels(shown.columns), axis=1)


def shown_labels(columns) -> list[str]:
    """The vocabulary's label of each column; a label another column already took stays the column's name."""
    labels: list[str] = []
    for column in columns:
        label = column_label(column)
        labels.append(label if label not in labels else str(column))
    return labels


def table_html(frame: pd.DataFrame, caption: str, badges: tuple[str, ...] = ()) -> HTML:
    """A table as escaped HTML: cells, column names and caption all escaped; numbers with 2 decimals; column
    names and codes in words (`_in_words`). Columns in `badges` get a class per value (e.g.
    `badge verdict-partly-supported`) for coloured badges; cells without a space (a number, a model name) get
    class `token`, which never wraps. The PDF prints `print_columns` (class screen-only on the others), which
    the caption names."""
    printed = set(print_columns(frame.columns, prose=prose_columns(frame), repeated=repeated_columns(frame)))
    shown = _in_words(frame)
    screen_only = [label for c, label in zip(frame.columns, shown.columns) if c not in printed]
    spaced = shown.astype(str).apply(lambda c: c.str.contains(r"\s")).to_numpy(dtype=bool)
    classes = pd.DataFrame(np.where(spaced, "", "token"), index=shown.index, columns=shown.columns, dtype=object)
    for column in (label for c, label in zip(frame.columns, shown.columns) if c in badges):
        classes[column] = "badge " + slug(column) + "-" + shown[column].astype(str).map(slug).str.replace("_", "-")
    for column in screen_only:
        classes[column] = "screen-only"
    styler = (
        shown.style.set_uuid(hashlib.sha1(caption.encode()).hexdigest()[:8])
        .hide(axis="index")
        .format(precision=2, thousands=",", na_rep="", escape="html")
        .format_index(escape="html", axis=1)
        .set_caption(escape(caption))
        .set_td_classes(classes)
        .set_table_attributes(f'class="{"wide" if len(printed) > WIDE_COLUMNS else "narrow"}"')
    )
    page = styler.to_html()
    for position, column in enumerate(shown.columns):  # their headers too
        if column in screen_only:
            page = page.replace(
                f'class="col_heading level0 col{position}"', f'class="col_heading level0 col{position} screen-only"'
            )
    if screen_only:
        note = (
            f'<span class="print-only"> [printed: {len(printed)} of {len(shown.columns)} columns, intervals and '
            f"errors kept; left out here: {escape(', '.join(screen_only))}; all in the CSV]</span>"
        )
        page = page.replace("</caption>", note + "</caption>", 1)
    return HTML(page)


def empty_table_html(title: str, why: str = "") -> HTML:
    """The note shown for a table published without rows, with the reason where the producer gave one."""
    return HTML(f'<p class="empty">{escape(title)}: {escape(why or "no rows in this run")}.</p>')


def figure_html(png: bytes, alt: str, caption: str = "") -> HTML:
    """A chart as an <img> with real alt text (and a caption), the PNG embedded: nothing is fetched."""
    data = base64.b64encode(png).decode()
    img = f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
    return HTML(
        f'<figure class="chart">{img}'
        + (f"<figcaption>{escape(caption)}</figcaption>" if caption else "")
        + "</figure>"
    )


def caption_of(title: str, source: str, file: str) -> str:
    return title + (f" — source: {source}" if source else "") + f" (CSV: {file})"


class Publisher:
    """The artefacts of one producer in one run folder (see the module docstring)."""

    def __init__(self, output_dir: str | Path | None = None, name: str = "", label: str = "", qualifier: str = ""):
        """`qualifier` (e.g. "measured here") sets apart a second run of one notebook on other inputs: it prefixes
        the producer's name and every table title."""
        if not name:
            raise PublishError(
                "a publisher needs a name", "pass the notebook's role, e.g. Publisher(output_dir, 'density', track)"
            )
        self.run = run_dir(output_dir)
        self.producer = producer_name(name, f"{qualifier} {label}".strip())
        self.qualifier = qualifier
        self.index_path = self.run / INDEX_DIR / f"{self.producer}.json"
        self.items: dict[str, dict] = {}
        write_json(self.index_path, {"producer": self.producer, "items": self.items})  # a rerun starts afresh

    def _owner(self, relative: str) -> str | None:
        """The other producer of this run that already published `relative`, if any."""
        for index in (self.run / INDEX_DIR).glob("*.json"):
            if index == self.index_path:
                continue
            items = json.loads(index.read_text()).get("items", {})
            if any(item.get("file") == relative for item in items.values() if relative):
                return index.stem
        return None

    def _record(self, key: str, item: dict) -> None:
        if key in self.items and self.items[key]["kind"] != item["kind"]:
            raise PublishError(
                f"{self.producer}: key {key!r} already names a {self.items[key]['kind']}",
                "give each table, chart and text of a notebook its own key",
            )
        owner = self._owner(item["file"]) if "file" in item else None
        if owner:
            raise PublishError(
                f"{self.producer}: {item['file']} was already published by {owner} in this run",
                "give the table or chart a title that names what differs (track, generation, model)",
            )
        self.items[key] = item
        write_json(self.index_path, {"producer": self.producer, "items": self.items})

    def table(self, frame: pd.DataFrame, key: str, title: str, source: str = "", empty: str = "") -> HTML:
        """Write tables/<slug of title>.csv and return the captioned, escaped table (a table without rows is
        recorded and shown as a one-line note, `empty` saying why, with no file)."""
        title = f"{self.qualifier.capitalize()}: {title}" if self.qualifier else title
        if frame.empty:  # no rows: a note, not an empty file (empty tables of different titles would be identical)
            self._record(key, {"kind": "table", "title": title, "source": source, "file": None, "empty": empty})
            return empty_table_html(title, empty)
        relative = f"tables/{slug(title)}.csv"
        self._record(key, {"kind": "table", "title": title, "source": source, "file": relative})
        write_csv(frame, self.run / relative)
        return table_html(frame, caption_of(title, source, relative))

    def figure(self, fig: plt.Figure, key: str, title: str = "") -> HTML:
        """Write figures/<slug>.png (the chart's alt text is its label, see `describe`) and return it as HTML. The
        index records the chart's smallest text in points at its own size and what makes a label unreadable."""
        title = title or (fig._suptitle.get_text() if fig._suptitle else "") or fig.axes[0].get_title() or key
        alt = fig.get_label() or title
        relative = f"figures/{slug(self.producer + ' ' + key)}.png"
        legibility = {"text_pt": smallest_text_pt(fig), "label_problems": label_problems(fig)}
        self._record(key, {"kind": "figure", "title": title, "alt": alt, "file": relative} | legibility)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.run / relative, buffer.getvalue())
        return figure_html(buffer.getvalue(), alt)

    def text(self, key: str, markdown: str) -> Markdown:
        """Prose that quotes numbers of this run (built by gentrend from the data, values escaped)."""
        self._record(key, {"kind": "text", "markdown": markdown})
        return Markdown(markdown)
