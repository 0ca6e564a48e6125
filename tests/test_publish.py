"""Publishing artefacts into a run folder and laying them out: escaping, ownership, atomic files."""

import errno
import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from gentrend.core.files import OutputError, read_csv, write_text
from gentrend.core.vocab import column_label
from gentrend.plots import footnote
from gentrend.report.layout import RunArtefacts
from gentrend.report.publish import (
    PRINT_COLUMNS,
    Publisher,
    PublishError,
    print_columns,
    prose_columns,
    repeated_columns,
    table_html,
)

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def test_values_headers_and_captions_from_data_are_escaped(tmp_path):
    frame = pd.DataFrame({PAYLOAD: [PAYLOAD], "n": [1_720_574_976.0]})
    shown = Publisher(tmp_path, "t").table(frame, "k", f"Title {PAYLOAD}", source=PAYLOAD).data
    assert "<script" not in shown and "<img" not in shown and "&lt;script&gt;" in shown
    assert "1,720,574,976" in shown  # whole numbers are shown as whole numbers
    assert (
        read_csv(tmp_path / "tables" / "title_script_alert_1_script_img_src_x_onerror_alert_1.csv", "t").iloc[0, 0]
        == PAYLOAD
    )


def test_a_table_another_producer_wrote_is_never_overwritten(tmp_path):
    Publisher(tmp_path, "density", "base").table(pd.DataFrame({"a": [1]}), "k", "Density per model")
    with pytest.raises(PublishError, match="tables/density_per_model.csv was already published by density-base"):
        Publisher(tmp_path, "density", "thinking").table(pd.DataFrame({"a": [2]}), "k", "Density per model")
    assert read_csv(tmp_path / "tables" / "density_per_model.csv", "t")["a"].tolist() == [1]
    again = Publisher(tmp_path, "density", "base")  # the same producer running again may rewrite its own table
    again.table(pd.DataFrame({"a": [3]}), "k", "Density per model")
    assert read_csv(tmp_path / "tables" / "density_per_model.csv", "t")["a"].tolist() == [3]


def test_figures_keep_their_alt_text_and_texts_their_markdown(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    out = Publisher(tmp_path, "density", "base")
    shown = out.figure(footnote(fig, "source", f"Line chart of {PAYLOAD}"), "chart").data
    assert 'alt="Line chart of &lt;script&gt;' in shown and "<script" not in shown
    out.text("reading", "- one finding")
    run = RunArtefacts(tmp_path)
    assert run.figure("density-base", "chart").data == shown
    assert run.text("density-base", "reading").data == "- one finding"
    index = json.loads((tmp_path / "artefacts" / "density-base.json").read_text())
    assert index["items"]["chart"]["file"] == "figures/density_base_chart.png"


def test_layout_reads_tables_back_and_names_what_is_missing(tmp_path):
    Publisher(tmp_path, "per-size", "base").table(pd.DataFrame({"generation": ["3"], "x": [1.5]}), "summary", "S")
    run = RunArtefacts(tmp_path)
    assert run.frame("per-size-base", "summary")["generation"].tolist() == ["3"]  # generation labels stay text
    notice = run.table("per-size-thinking", "summary").data
    assert "Not produced in this run" in notice and "per-size-thinking" in notice


def test_a_table_without_rows_is_a_note_that_says_why_and_leaves_no_file(tmp_path):
    shown = (
        Publisher(tmp_path, "speed-memory")
        .table(pd.DataFrame(), "precisions", "Precisions", empty="one <b>precision</b>")
        .data
    )
    assert (
        shown == RunArtefacts(tmp_path).table("speed-memory", "precisions").data
    )  # the report shows what the notebook did
    assert 'class="empty"' in shown and "Precisions: one &lt;b&gt;precision&lt;/b&gt;." in shown
    assert not list(tmp_path.rglob("*.csv"))


def test_writes_are_atomic_and_failures_are_one_clear_error(tmp_path, monkeypatch):
    write_text(tmp_path / "a.txt", "complete")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left behind
    with pytest.raises(OutputError, match=r"cannot write .*a.txt/b.txt: .*a.txt is a file, not a folder"):
        write_text(tmp_path / "a.txt" / "b.txt", "x")  # (running as root, a read-only folder would not stop us)

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="No space left on device") as err:
        write_text(tmp_path / "a.txt", "new content")
    assert "gentrend clean" in err.value.fix
    assert (tmp_path / "a.txt").read_text() == "complete"  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # and the half-written one is gone


def test_one_key_names_one_artefact_of_a_notebook(tmp_path):
    out = Publisher(tmp_path, "speed-memory")
    out.table(pd.DataFrame({"a": [1]}), "regime", "Regime")
    with pytest.raises(PublishError, match="key 'regime' already names a table"):
        out.text("regime", "- reading")
    assert out.table(pd.DataFrame({"a": [2]}), "regime", "Regime")  # a cell run again rewrites its own table


def test_a_table_too_wide_for_print_keeps_its_interval_and_error_columns():
    columns = [f"extra_{i}" for i in range(15)] + ["ci_low", "ci_high", "error_percent", "bound"]
    frame = pd.DataFrame([[1.0] * 15 + [0.5, 2.0, -17.0, ">"]], columns=columns)
    printed = print_columns(frame.columns)
    assert {"ci_low", "ci_high", "error_percent", "bound"} <= set(printed) and len(printed) == PRINT_COLUMNS
    page = BeautifulSoup(table_html(frame, "wide").data, "html.parser")
    hidden = {th.get_text() for th in page.select("th.screen-only")}
    assert hidden == {column_label(c) for c in columns if c not in printed}
    shown = [th.get_text() for th in page.select("thead th") if "screen-only" not in th.get("class", [])]
    assert shown[-4:] == ["95% interval, low", "95% interval, high", "error percent", "bound"]  # in words
    assert "at least" in page.get_text() and "left out here: extra 7" in page.select_one("caption").get_text()


def test_open_ends_and_bound_codes_are_spelled_out():
    frame = pd.DataFrame({"density_low": [0.0, 1.5], "density_high": [np.inf, 2.0], "bound": ["<", "<>"]})
    cells = [td.get_text() for td in BeautifulSoup(table_html(frame, "t").data, "html.parser").select("td")]
    assert cells == ["unbounded", "unbounded", "at most", "1.50", "2.00", "between"]


def test_columns_the_heading_already_states_are_cut_before_findings():
    columns = ["generation", "reference", "track", *[f"finding_{i}" for i in range(9)]]
    assert print_columns(columns) == ["generation", "reference", *[f"finding_{i}" for i in range(9)]]  # in order


def test_the_pdf_prints_at_most_a_page_width_of_prose_columns():
    from gentrend.report.publish import PRINT_PROSE_COLUMNS, print_columns, prose_columns

    long = "a sentence long enough to be prose in a table cell, well past the threshold"
    frame = pd.DataFrame({"id": ["C1"], "verdict": ["refuted"]} | {f"text_{i}": [long] for i in range(6)})
    prose = prose_columns(frame)
    assert prose == [f"text_{i}" for i in range(6)]
    printed = print_columns(frame.columns, prose=prose)
    assert [c for c in printed if c in prose] == prose[:PRINT_PROSE_COLUMNS]
    assert {"id", "verdict"} <= set(printed)  # short columns and verdicts are never the ones cut


def test_a_long_text_on_every_row_is_cut_from_print_before_the_columns_that_tell_rows_apart():
    long = "the memory model's measured total error, -20 % to +10 % over 3 points, plus an allowance"
    frame = pd.DataFrame(
        {"model_id": [f"m{i}" for i in range(3)], "margin": [long] * 3}
        | {f"card_{i}": ["yes", "no", "yes"] for i in range(PRINT_COLUMNS - 1)}
    )
    printed = print_columns(frame.columns, prose=prose_columns(frame), repeated=repeated_columns(frame))
    assert repeated_columns(frame) == ["margin"] and printed == [c for c in frame.columns if c != "margin"]
    caption = BeautifulSoup(table_html(frame, "Fits").data, "html.parser").select_one("caption").get_text()
    assert "left out here: margin" in caption
    assert repeated_columns(frame.head(1)) == []  # one row: every column holds one text, none is repeated


def test_a_published_chart_records_its_smallest_text_and_unreadable_labels(tmp_path):
    dates = pd.date_range("2024-01-01", periods=24, freq="MS")
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(dates, range(24))
    ax.set_xticks(dates, [d.strftime("%Y-%m-%d") for d in dates])  # 24 dates on 3 inches: they collide
    ax.set_yscale("log", base=2)  # its default labels are TeX, shown as text with math parsing off
    ax.set_title("small", fontsize=6.5)
    Publisher(tmp_path, "t").figure(fig, "dates")
    item = json.loads((tmp_path / "artefacts" / "t.json").read_text())["items"]["dates"]
    assert item["text_pt"] == 6.5
    problems = item["label_problems"]
    assert any(p.startswith("overlapping labels: 2024-01-01 / 2024-02-01") for p in problems)
    assert any(p.startswith("TeX shown as text") for p in problems)


def test_a_chart_wider_than_the_page_prints_smaller_by_the_ratio():
    from gentrend.plots import PAGE_WIDTH_IN, print_scale, saved_size

    narrow, wide = plt.figure(figsize=(4, 3)), plt.figure(figsize=(14, 3))
    for fig in (narrow, wide):
        fig.add_subplot().plot([0, 1])  # drawn across the figure: it is saved about as wide as it is
    assert print_scale(narrow) == 1  # printed at its own size
    assert print_scale(wide) == pytest.approx(PAGE_WIDTH_IN / saved_size(wide)[0]) and print_scale(wide) < 1
    plt.close("all")
