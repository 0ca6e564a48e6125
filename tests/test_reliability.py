"""Reliability, by behaviour: nothing wrong ever reaches a report, nothing escapes the reports folder, nothing from
data runs as code unless asked, every input has a limit, and a signal at any moment ends a run in one line.

Each behaviour is a group of tests, each test parametrized over the members of its class (several bad files,
several paths, several moments). Messages are asserted as the user sees them: one line with its fix, the exit
code, no traceback. Fast cases run in-process; slow ones run `gentrend report` for real and wait on markers
(files a held run touches, gentrend.core.markers), never on sleeps. The profiling cache's own cases are tested
with the profiler.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
import yaml
from bs4 import BeautifulSoup
from fixtures.data_edits import (
    copy_data,
    edit_yaml,
    longer_claim_text,
    more_score_rows,
    replace,
    scores_lines,
    sub,
    write,
)
from fixtures.hostile import PAYLOADS, RENAMED_BENCHMARK, hostile_copy
from fixtures.run_files import assert_run_files_complete

from gentrend.cli import main
from gentrend.core import paths
from gentrend.core.files import OutputError, read_csv, write_csv, write_json, write_text
from gentrend.core.limits import (
    MAX_FILE_BYTES,
    MAX_NAME_CHARS,
    MAX_SCORE_ROWS,
    MAX_TEXT_CHARS,
    MAX_YAML_DEPTH,
    hidden_character,
)
from gentrend.pipeline import plan, rundir, runner
from gentrend.pipeline.executors import local as local_executor
from gentrend.pipeline.manifest import Manifest
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.rundir import check_run_id, new_run_id, reports_lock

# --- helpers -------------------------------------------------------------------------------------------------------

UNSAFE_TAGS = ["script", "iframe", "link", "object", "embed", "base", "form", "svg", "math", "meta", "style", "frame"]
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "poster", "background", "data", "xlink:href"}


def raw_tags(soup: BeautifulSoup) -> list[str]:
    """Markup that would run or fetch: unsafe elements, event handlers, URLs that are not in-page or embedded."""
    found = [f"<{t.name}>" for t in soup.find_all(UNSAFE_TAGS)]
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}={value[:60]!r}>")
            if name.lower() in URL_ATTRIBUTES and not (
                value.startswith("#") or value.startswith("data:image/png;base64,")
            ):
                found.append(f"<{tag.name} {name}={value[:60]!r}>")
    return found


def cli(capsys, *argv: str) -> tuple[int, str]:
    """Run `gentrend <argv>` in-process: (exit code, stderr)."""
    code = main(list(argv))
    return code, capsys.readouterr().err


def one_error(exit_code: int, err: str, code: int = 2) -> str:
    """The CLI's error output: exactly one `gentrend: error:` message with one fix, and no traceback."""
    assert exit_code == code, err
    assert "Traceback" not in err, err
    assert err.count("gentrend: error:") == 1 and err.count("How to fix:") == 1, err
    return err


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A copy of data/ that the test may break; GENTREND_DATA points at it, reports go to tmp_path/reports."""
    copy = copy_data(tmp_path)
    monkeypatch.setenv("GENTREND_DATA", str(copy))
    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path / "reports"))
    return copy


@pytest.fixture
def no_notebooks(monkeypatch):
    """Fail the test if any notebook starts: bad input must be refused before work."""

    def refuse(job, out_dir):
        raise AssertionError(f"{job.output_name} started although the input is bad")

    monkeypatch.setattr(local_executor, "execute", refuse)


def fake_execute(job, out_dir):
    """Stands in for papermill: writes a complete (empty) executed notebook under its final name."""
    target = out_dir / "notebooks" / job.output_name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), target)
    return target


# --- bad input: one clear message, before work ---------------------------------------------------------------------

# Each group is one class of bad input: (case, edit of the data copy, what the message must say).
MALFORMED_FILES = [
    (
        "broken claims.yaml",
        write("claims.yaml", "claims: [\n  - id: C1\n"),
        r"claims.yaml \(claims file\) is not valid YAML at line 2",
    ),
    (
        "broken benchmarks.yaml",
        write("benchmarks.yaml", "units: {MMLU: percent\n"),
        r"benchmarks.yaml \(benchmark units\) is not valid YAML",
    ),
    (
        "a key given twice in YAML",
        sub("models.yaml", "size_label: 0.5B", "size_label: 0.5B\n        size_label: 1B"),
        r"models.yaml \(model catalogue\) is not valid YAML at line \d+, column \d+: found the key 'size_label' twice",
    ),
    (
        "a python tag in YAML",
        write("claims.yaml", "claims: !!python/object/apply:os.system ['echo x']\n"),
        r"claims.yaml \(claims file\) is not valid YAML .*could not determine a constructor",
    ),
    (
        "a data file that is not UTF-8",
        lambda d: (d / "models.yaml").write_bytes(b"generations:\n  - family: Qwen\n\xff\xfe\x00"),
        r"models.yaml \(model catalogue\) is not UTF-8 text: line 3 holds the byte 0xff.*UTF-8 encoding",
    ),
    (
        "a scores file that is not UTF-8",
        lambda d: (d / "published_scores.csv").write_bytes(b"model,generation\nQwen,\xe9\n"),
        r"published_scores.csv \(published scores\) is not UTF-8 text: line 2 holds the byte 0xe9",
    ),
    (
        "CSV line with an extra field",
        scores_lines(lambda lines: lines.__setitem__(5, lines[5] + ",extra")),
        r"published_scores.csv \(published scores\) cannot be parsed as CSV: .*Expected 9 fields in line 6, saw 10",
    ),
    (
        "CSV with an unclosed quote",
        scores_lines(lambda lines: lines.append('Qwen/Qwen3-4B-Base,3,4B,base,MMLU,"5-shot,1,x,y')),
        r"published_scores.csv \(published scores\) cannot be parsed as CSV: .*EOF inside string",
    ),
    ("empty CSV", write("published_scores.csv", ""), r"published_scores.csv \(published scores\) is empty"),
    (
        "header-only scores file",
        scores_lines(lambda lines: lines.__delitem__(slice(1, None))),
        r"published_scores.csv has a header but no scores",
    ),
    (
        "a scores file without a column",
        sub("published_scores.csv", "source_detail\n", "detail\n"),
        r"published_scores.csv lacks columns \['source_detail'\]",
    ),
    ("a missing data file", lambda d: (d / "claims.yaml").unlink(), r"claims file not found: .*claims.yaml"),
    (
        "invalid config JSON",
        write("configs/qwen3-4b.json", "{ not json"),
        r"model 'qwen3-4b': field config: .*qwen3-4b.json is not valid JSON",
    ),
    ("a config that is not an object", write("configs/qwen3-4b.json", "[1]"), r"qwen3-4b.json has no model_type"),
    (
        "a config that is a folder",
        lambda d: ((d / "configs" / "qwen3-4b.json").unlink(), (d / "configs" / "qwen3-4b.json").mkdir()),
        r"model 'qwen3-4b': field config: file not found",
    ),
    ("no generations", write("models.yaml", "generations: []\n"), r"models.yaml has no 'generations' list"),
    (
        "a generation without models",
        edit_yaml("models.yaml", lambda raw: raw["generations"][0].update(models=[])),
        r"generation Qwen 2.5: field models: List should have at least 1 item",
    ),
    ("claims.yaml as a list", write("claims.yaml", "- id: C1\n  text: x\n"), r"claims.yaml has no 'claims' list"),
    ("an empty claims list", write("claims.yaml", "claims: []\n"), r"claims.yaml has no 'claims' list"),
    ("benchmarks.yaml as a list", write("benchmarks.yaml", "- a\n"), r"benchmarks.yaml is not a mapping"),
    ("benchmarks.yaml without units", write("benchmarks.yaml", "families: {}\n"), r"has no 'units' mapping"),
    (
        "broken gpus.yaml",
        write("gpus.yaml", "gpus:\n  - {name: X, bandwidth_gb_s: fast}\n"),
        r"gpus.yaml: GPU #1 \('X'\): bandwidth_gb_s: Input should be a valid number",
    ),
    (
        "a GPU entry that is not a mapping",
        write("gpus.yaml", "gpus:\n  - H100\n"),
        r"GPU #1 \('H100'\): entry: Input should be a valid dictionary",
    ),
    ("an empty GPU table", write("gpus.yaml", "gpus: []\n"), r"gpus.yaml has no 'gpus' list"),
]
IMPOSSIBLE_VALUES = [
    ("score inf", sub("published_scores.csv", ",35.6,", ",inf,"), r"score inf is outside the percent range 0–100"),
    ("score negative", sub("published_scores.csv", ",35.6,", ",-35.6,"), r"score -35.6 is outside the percent range"),
    (
        "score 3560 on a percent benchmark",
        sub("published_scores.csv", ",35.6,", ",3560,"),
        r"score 3560 is outside the percent range",
    ),
    ("a score that is not a number", sub("published_scores.csv", ",35.6,", ",n/a,"), r"row 2: score 'n/a' is not"),
    ("a score of nan", sub("published_scores.csv", ",35.6,", ",nan,"), r"row 2: score 'nan' is not a number"),
    (
        "impossible date",
        sub("models.yaml", "release_date: 2024-09-19", "release_date: 2024-19-09"),
        r"models.yaml \(model catalogue\) holds an invalid value: month must be in 1\.\.12",
    ),
    (
        "a GPU with infinite memory",
        write("gpus.yaml", "gpus:\n  - {name: X, bandwidth_gb_s: 1, memory_gib: .inf, source: s}\n"),
        r"GPU #1 \('X'\): memory_gib: Input should be a finite number",
    ),
    (
        "a unit that is not a name",
        write("benchmarks.yaml", "units: {MMLU: [percent]}\n"),
        r"units MMLU: Input should be",
    ),
    ("an unknown unit", write("benchmarks.yaml", "units: {MMLU: points}\n"), r"units MMLU: Input should be 'percent'"),
    ("a claim id that is not text", sub("claims.yaml", "id: C2", "id: [1]"), r"claim #2: field id: .*valid string"),
    (
        "a claim without text",
        sub("claims.yaml", "capability\n    text: The smallest", "capability\n    txt: The smallest"),
        r"claim #2 \('C2'\): field text: Field required",
    ),
]
UNKNOWN_NAMES = [
    (
        "claim names an unknown model",
        sub("claims.yaml", "model: qwen3.5-9b", "model: qwen3.5-90b"),
        r"claim C3: argument model: unknown model 'qwen3.5-90b'",
    ),
    (
        "claim names an unknown track",
        sub("claims.yaml", "track: base", "track: bse"),
        r"claim C1: argument track: unknown track 'bse'",
    ),
    (
        "a claim naming an unknown generation",
        sub("claims.yaml", 'new: "3.5"', 'new: "4"'),
        r"claim C2: argument new: unknown generation '4'",
    ),
    ("a claim naming an unknown GPU", sub("claims.yaml", "gpu: RTX 4080", "gpu: RTX 9999"), r"unknown GPU 'RTX 9999'"),
    (
        "a claim naming an unknown precision",
        sub("claims.yaml", "precisions: [bf16, int8, int4]", "precisions: [bf16, int3]"),
        r"claim C9: argument precisions: unknown precision 'int3'",
    ),
    (
        "an unknown claim check",
        sub("claims.yaml", "check: not_in_data", "check: not_in_dat"),
        r"claim C6: unknown check 'not_in_dat'",
    ),
    (
        "an unknown claim argument",
        sub("claims.yaml", "tolerance: 1.0", "tolerence: 1.0"),
        r"claim C1: bad args for check 'model_matches_larger'",
    ),
    (
        "an unknown variant",
        sub("published_scores.csv", ",base,ARC-C,", ",bse,ARC-C,"),
        r"unknown variant\(s\) 'bse'",
    ),
]
REPEATS_AND_CONTRADICTIONS = [
    ("duplicate claim id", sub("claims.yaml", "id: C2", "id: C1"), r"claim id 'C1' appears twice"),
    (
        "two generations with one label",
        sub("models.yaml", 'generation: "3"', 'generation: "2.5"'),
        r"generation label '2.5' is used twice",
    ),
    (
        "one generation label in two families",
        edit_yaml("models.yaml", lambda raw: raw["generations"][2].update(family="Llama", generation="3")),
        r"generation label '3' is used twice .*first by generation Qwen 3",
    ),
    (
        "two models with one size label",
        edit_yaml("models.yaml", lambda raw: raw["generations"][0]["models"][1].update(size_label="0.5B")),
        r"size_label '0.5B' appears twice",
    ),
    (
        "a score row given twice",
        scores_lines(lambda lines: lines.insert(2, lines[1])),
        r"rows 2 and 3 give the same model, variant, benchmark, setting and source",
    ),
    (
        "a score row that contradicts the catalogue",
        sub("published_scores.csv", "Qwen/Qwen2.5-0.5B,2.5,0.5B,base,ARC-C", "Qwen/Qwen2.5-0.5B,3,0.5B,base,ARC-C"),
        r"row 2: Qwen/Qwen2.5-0.5B has generation '3', but the catalogue says '2.5'",
    ),
    (
        "two GPUs with one name",
        write(
            "gpus.yaml",
            "gpus:\n  - {name: X, bandwidth_gb_s: 1, memory_gib: 1, source: s}\n"
            "  - {name: x, bandwidth_gb_s: 2, memory_gib: 1, source: s}\n",
        ),
        r"GPU #2 \('x'\): name or alias 'x' is already used by 'X'",
    ),
]
OVER_THE_LIMITS = [
    (
        "a data file above the size limit",
        longer_claim_text(MAX_FILE_BYTES),
        rf"claims.yaml \(claims file\) is [\d,]+ bytes, above the limit of {MAX_FILE_BYTES:,} bytes",
    ),
    (
        "a YAML alias bomb",
        write("claims.yaml", "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nclaims: [*c, *c]\n"),
        r"claims.yaml \(claims file\) is not valid YAML at line 1, column 4: found an anchor or alias",
    ),
    (
        "YAML nested 50,000 deep",
        write("benchmarks.yaml", "units: " + "[" * 50_000 + "]" * 50_000 + "\n"),
        rf"benchmarks.yaml \(benchmark units\) is not valid YAML at line 1, .*deeper than {MAX_YAML_DEPTH} levels",
    ),
    (
        "a scores table above the row limit",
        more_score_rows(MAX_SCORE_ROWS),
        rf"published_scores.csv \(published scores\) has more than {MAX_SCORE_ROWS:,} rows",
    ),
    (
        "a claim text above the length limit",
        longer_claim_text(MAX_TEXT_CHARS),
        rf"claim #2 \('C2'\): field text: String should have at most {MAX_TEXT_CHARS} characters",
    ),
    (
        "a family name above the length limit",
        sub("models.yaml", "family: Qwen", "family: Qwen" + "n" * MAX_NAME_CHARS),
        rf"field family: String should have at most {MAX_NAME_CHARS} characters",
    ),
    (
        "a setting above the length limit",
        sub("published_scores.csv", ",25-shot,", ",25-shot" + "s" * MAX_TEXT_CHARS + ","),
        rf"row 2, column setting: String should have at most {MAX_TEXT_CHARS} characters",
    ),
]
HIDDEN_CHARACTERS = [
    (
        "a zero-width space in a repo id",
        sub("models.yaml", "base: Qwen/Qwen2.5-0.5B,", "base: Qwen/Qwen2.5-0.5B\u200b,"),
        r"model 'qwen2.5-0.5b': field repos.base: .*U\+200B \(ZERO WIDTH SPACE\)",
    ),
    (
        "a right-to-left override in a family name",
        sub("models.yaml", "family: Qwen", "family: Q\u202ewen"),
        r"field family: .*U\+202E \(RIGHT-TO-LEFT OVERRIDE\) at character 2",
    ),
    (
        "a zero-width joiner in a benchmark name",
        sub("published_scores.csv", ",ARC-C,", ",ARC\u200d-C,"),
        r"row 2, column benchmark: .*U\+200D \(ZERO WIDTH JOINER\)",
    ),
    (
        "a control character in a claim id",
        sub("claims.yaml", "id: C2", 'id: "C\\a2"'),
        r"claim #2 .*field id: .*U\+0007",
    ),
]
NAMES_THAT_WOULD_BE_PATHS = [
    (
        "a generation label that climbs out",
        sub("models.yaml", 'generation: "3"', 'generation: "../../x"'),
        r"field generation: .*must be a letter or digit, then up to 63",
    ),
    (
        "a generation label with a separator",
        sub("models.yaml", 'generation: "3"', 'generation: "3/x"'),
        r"field generation: .*must be a letter or digit",
    ),
    (
        "a model id with ..",
        sub("models.yaml", "id: qwen3-4b\n", "id: qwen3..4b\n"),
        r"model 'qwen3..4b': field id: .*never '\.\.'",
    ),
]
BAD_INPUT = (
    MALFORMED_FILES
    + IMPOSSIBLE_VALUES
    + UNKNOWN_NAMES
    + REPEATS_AND_CONTRADICTIONS
    + OVER_THE_LIMITS
    + HIDDEN_CHARACTERS
    + NAMES_THAT_WOULD_BE_PATHS
)
# A report refuses what `check` refuses: two members of every class, before any notebook.
REPORT_CASES = [
    case
    for group in (
        MALFORMED_FILES,
        IMPOSSIBLE_VALUES,
        UNKNOWN_NAMES,
        REPEATS_AND_CONTRADICTIONS,
        OVER_THE_LIMITS,
        HIDDEN_CHARACTERS,
        NAMES_THAT_WOULD_BE_PATHS,
    )
    for case in group[:2]
]


@pytest.mark.parametrize("case, edit, message", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_check_names_every_bad_input_in_one_message(data, capsys, case, edit, message):
    edit(data)
    err = one_error(*cli(capsys, "check"))
    assert re.search(message, err), err
    assert hidden_character(err, {"\n"}) is None  # a message shows an invisible character as \uXXXX


@pytest.mark.parametrize("case, edit, message", REPORT_CASES, ids=[c[0] for c in REPORT_CASES])
def test_report_refuses_bad_input_before_any_notebook(data, capsys, no_notebooks, case, edit, message):
    edit(data)
    err = one_error(*cli(capsys, "report", "--no-profile", "--no-pdf", "--run-id", "bad"))
    assert re.search(message, err), err
    assert not (Path(os.environ["GENTREND_REPORTS"]) / "bad").exists()  # nothing was written for the run


def test_report_refuses_a_broken_gpu_table_even_when_no_claim_names_a_gpu(data, capsys, no_notebooks):
    claims = yaml.safe_load((data / "claims.yaml").read_text())
    claims["claims"] = [c for c in claims["claims"] if "gpu" not in (c.get("args") or {})]
    (data / "claims.yaml").write_text(yaml.safe_dump(claims, sort_keys=False))
    (data / "gpus.yaml").write_text("gpus:\n  - {name: X, bandwidth_gb_s: fast}\n")
    err = one_error(*cli(capsys, "report", "--no-profile", "--no-pdf", "--run-id", "bad"))
    assert "gpus.yaml: GPU #1" in err


# --- names from data stay names: no write or delete leaves the reports folder or follows a link --------------------


@pytest.mark.parametrize("label", ["../../outside", "x/../../../outside", "/../../../../etc/cron.d/job"])
def test_a_file_named_after_data_can_never_climb_out_of_its_folder(tmp_path, monkeypatch, label):
    """Behind the safe-name rule (tested with the bad input above): a write whose path climbs with '..' is refused."""
    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path / "reports"))
    with pytest.raises(OutputError, match="climbs out of its folder"):
        write_text(tmp_path / "reports" / "run" / "notebooks" / f"01_generation-{label}.ipynb", "{}")
    assert sorted(p.name for p in tmp_path.rglob("*.ipynb")) == []


@pytest.mark.parametrize("how", ["the target is a link", "a folder on the way is a link", "a dangling link"])
def test_a_write_never_follows_a_symlink(tmp_path, monkeypatch, how):
    reports, outside = tmp_path / "reports", tmp_path / "outside"
    reports.mkdir()
    outside.mkdir()
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    if how == "the target is a link":
        (outside / "index.html").write_text("mine")
        (reports / "index.html").symlink_to(outside / "index.html")
        target, message = reports / "index.html", "it is a symlink"
    elif how == "a folder on the way is a link":
        (reports / "cache").symlink_to(outside, target_is_directory=True)
        target, message = reports / "cache" / "entry.json", "outside .*a symlinked folder on the way"
    else:
        (reports / "entry.json").symlink_to(outside / "created.json")
        target, message = reports / "entry.json", "it is a symlink"
    with pytest.raises(OutputError, match=message):
        write_json(target, {"a": 1})
    assert {p.name: p.read_text() for p in outside.iterdir()} == (
        {"index.html": "mine"} if how == "the target is a link" else {}
    )


@pytest.mark.parametrize("lock", ["the reports lock", "the profiling lock"])
def test_a_symlinked_lock_is_refused_saying_symlink_and_creates_nothing(data, tmp_path, capsys, no_notebooks, lock):
    outside = tmp_path / "outside"
    outside.mkdir()
    if lock == "the reports lock":
        reports = Path(os.environ["GENTREND_REPORTS"])
        reports.mkdir()
        (reports / ".gentrend.lock").symlink_to(outside / "created.lock")
        err = one_error(*cli(capsys, "report", "--no-profile", "--no-pdf"))
        assert "the lock file" in err and "is a symlink" in err
    else:
        import torch

        from gentrend.profiling.cache import cache_folder
        from gentrend.profiling.guard import device_lock

        locks = cache_folder(tmp_path / "cache") / "locks"
        locks.mkdir(parents=True)
        (locks / "cpu.lock").symlink_to(outside / "created.lock")
        with pytest.raises(OutputError, match="is a symlink"), device_lock(torch.device("cpu"), tmp_path / "cache"):
            pass
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("how", ["a linked profiling folder", "a linked cache folder", "files without a record"])
def test_clean_removes_only_what_gentrend_recorded_and_never_through_a_link(tmp_path, monkeypatch, capsys, how):
    from gentrend.profiling.cache import cache_folder

    reports, outside = tmp_path / "reports", tmp_path / "outside"
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    folder = cache_folder()
    outside.mkdir()
    if how == "a linked profiling folder":
        folder.parent.mkdir(parents=True)
        folder.symlink_to(outside, target_is_directory=True)
    elif how == "a linked cache folder":
        reports.mkdir()
        folder.parent.symlink_to(outside, target_is_directory=True)
        (outside / "profiling").mkdir()
    else:
        folder.mkdir(parents=True)
    here = folder.resolve()
    key = "a" * 20
    (here / f"qwen3-0.6b-{key}.csv").write_text("model_id\nqwen3-0.6b\n")
    if how != "files without a record":
        (here / f"qwen3-0.6b-{key}.json").write_text(json.dumps({"key": key}))
    (here / f"qwen3-0.6b-{key}.notes").write_text("mine")
    (here / "other.csv").write_text("mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["clean", "--older-than", "0s"]) == 0
    assert "0 item(s)" in capsys.readouterr().out
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.name != ".gentrend.lock")
    assert after == before


# --- code named by data runs only when asked -----------------------------------------------------------------------

TASK_CODE = 'import pathlib\npathlib.Path(__file__).with_name("IMPORTED").touch()\n\n\ndef text(doc):\n    return "x"\n'


def _user_task(folder: Path, how: str) -> str:
    """A task folder holding one user task of kind `how`; returns the task's name."""
    shutil.copytree(paths.REPO_ROOT / "data" / "tasks", folder)
    (folder / "utils.py").write_text(TASK_CODE)
    task = folder / "gentrend_example_mc.yaml"
    name = {"a standard task's name": "arc_easy"}.get(how, "my_task")
    text = task.read_text().replace("task: gentrend_example_mc", f"task: {name}")
    if how == "!function in the task":
        text = text.replace('doc_to_text: "Question: {{question}}\\nAnswer:"', "doc_to_text: !function utils.text")
    if how == "!function in an included file":
        (folder / "shared.yaml").write_text("doc_to_text: !function utils.text\n")
        text = "include: shared.yaml\n" + text.replace('doc_to_text: "Question: {{question}}\\nAnswer:"\n', "")
    task.write_text(text)
    for other in folder.glob("gentrend_example_exact*.yaml"):
        other.unlink()
    return name


@pytest.mark.parametrize("how", ["!function in the task", "!function in an included file", "a standard task's name"])
def test_task_code_never_runs_while_tasks_are_resolved_and_needs_the_flag(tmp_path, monkeypatch, how):
    from gentrend.evaluation.tasks import TaskError, resolve_tasks

    monkeypatch.setenv("GENTREND_DATA", str(tmp_path / "data"))
    shutil.copytree(paths.REPO_ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns("tasks"))
    folder = tmp_path / "data" / "tasks"
    name = _user_task(folder, how)
    message = "takes the name of a standard lm-eval task" if how == "a standard task's name" else "runs Python code"
    with pytest.raises(TaskError, match=message):
        resolve_tasks([name])
    (spec,) = resolve_tasks([name], allow_code=True)
    assert spec.kind == "user" and spec.runs_code == (how != "a standard task's name")
    assert not (folder / "IMPORTED").exists()  # resolving, even allowed, imports nothing


@pytest.mark.parametrize("name", ["../mmlu", "a/b", "mmlu\u200b"])
def test_a_task_name_that_is_not_a_safe_name_is_refused(name):
    from gentrend.evaluation.tasks import TaskError, resolve_tasks

    with pytest.raises(TaskError, match="invalid task name"):
        resolve_tasks([name])


# --- options that would be ignored are refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--eval-dir", "checkpoints"], "--eval-dir is only read with --eval-mode local"),
        (["--eval-mode", "local"], "--eval-mode local needs --eval-dir"),
    ],
)
def test_an_evaluation_option_that_would_be_ignored_is_refused(data, capsys, no_notebooks, argv, message):
    err = one_error(*cli(capsys, "report", "--no-profile", "--evaluate", "gentrend_example_mc", *argv))
    assert message in err


# --- limits on what reaches a message, a chart or a spreadsheet ----------------------------------------------------

BIG = 1_000_000  # characters: inside the file size limit, far beyond any message


@pytest.mark.parametrize(
    "edit, char",
    [
        (sub("published_scores.csv", ",35.6,", ",35.6" + "x" * BIG + ","), "x"),
        (sub("claims.yaml", "model: qwen3.5-9b", "model: qwen3.5-9b" + "b" * BIG), "b"),
        (sub("published_scores.csv", ",base,ARC-C,", ",base" + "q" * BIG + ",ARC-C,"), "q"),
        (sub("claims.yaml", "track: base", "track: base" + "z" * BIG), "z"),
    ],
    ids=["a score", "a model argument", "a variant", "a track"],
)
def test_an_error_message_never_prints_an_unbounded_value(data, capsys, edit, char):
    edit(data)
    err = one_error(*cli(capsys, "check"))
    assert char * 100 not in err
    assert len(err) < 2_000


@pytest.mark.parametrize("text", ["$x^$", r"$\undefinedmacro{x}$", "MMLU $5$-shot", "a $ b"])
def test_text_from_data_reaches_a_chart_literally(tmp_path, text):
    import matplotlib.pyplot as plt

    from gentrend.plots import apply_theme

    apply_theme()
    fig, ax = plt.subplots()
    ax.bar([text], [1.0])
    ax.set_title(text)
    fig.savefig(tmp_path / "chart.png")  # mathtext would fail on the first two and typeset the others
    plt.close(fig)
    assert ax.get_title() == text and ax.title._get_wrapped_text() == text


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://example.org","x")', "@SUM(1)", "+cmd|' /C calc'!A0", "-2+3", "\t=1"]
)
def test_a_cell_a_spreadsheet_would_run_is_neutralised_and_numbers_stay_numbers(tmp_path, cell):
    frame = pd.DataFrame({"text": [cell, "plain"], "number": [-1.5, 2.0], "number_as_text": ["-1.5", "+2"]})
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert back["text"].tolist() == ["'" + cell, "plain"]
    assert back["number"].tolist() == ["-1.5", "2.0"] and back["number_as_text"].tolist() == ["-1.5", "+2"]
    assert read_csv(tmp_path / "t.csv", "a table")["text"].tolist() == [cell, "plain"]  # gentrend reads its own back


# --- a run's life: interrupted runs are shown so and reused; finished files are read-only --------------------------


def _manifest(reports: Path, name: str, process: dict) -> Manifest:
    run = reports / name
    run.mkdir(parents=True)
    manifest = Manifest(run, {"run_id": name, "status": "running", "started": name, "process": process, "jobs": []})
    manifest.save()
    return manifest


@pytest.mark.parametrize(
    "process, shown",
    [
        ({"pid": 2**22 + 1, "host": socket.gethostname(), "started": 1.0}, "interrupted"),  # no such process
        ({"pid": os.getpid(), "host": socket.gethostname(), "started": 1.0}, "interrupted"),  # its pid reused since
        ({"pid": os.getpid(), "host": socket.gethostname(), "started": psutil.Process().create_time()}, "running"),
        ({"pid": 1, "host": "another-host", "started": 1.0}, "running"),  # cannot be checked from here
    ],
    ids=["process gone", "pid reused", "process alive", "another host"],
)
def test_a_run_whose_process_is_gone_is_shown_interrupted(tmp_path, process, shown):
    from gentrend.pipeline.history import runs, write_index

    reports = tmp_path / "reports"
    _manifest(reports, "run-a", process)
    assert [m.status for m in runs(reports)] == [shown]
    write_index(reports)
    assert f'class="status-{shown}">{shown}<' in (reports / "index.html").read_text()


def _recording(executed: list[str], stop_after: int | None = None):
    def execute(job, out_dir):
        if stop_after is not None and len(executed) == stop_after:
            raise KeyboardInterrupt
        executed.append(job.output_name)
        return fake_execute(job, out_dir)

    return execute


def _jobs(reports: Path, run: str) -> dict[str, dict]:
    return {j["name"]: j for j in json.loads((reports / run / "manifest.json").read_text())["jobs"]}


def test_a_new_run_reuses_the_finished_steps_of_an_interrupted_one(data, capsys, monkeypatch):
    reports = Path(os.environ["GENTREND_REPORTS"])
    first: list[str] = []
    monkeypatch.setattr(local_executor, "execute", _recording(first, stop_after=2))
    assert cli(capsys, "report", "--run-id", "first", "--no-profile", "--no-pdf")[0] == 130
    second: list[str] = []
    monkeypatch.setattr(local_executor, "execute", _recording(second))
    assert cli(capsys, "report", "--run-id", "second", "--no-profile", "--no-pdf")[0] == 0
    jobs = _jobs(reports, "second")
    assert len(first) == 2 and set(first).isdisjoint(second)
    assert all(jobs[name]["status"] == "reused" and jobs[name]["reused_from"] == "first" for name in first)


def test_reused_from_names_a_run_folder_that_exists(data, capsys, monkeypatch):
    reports = Path(os.environ["GENTREND_REPORTS"])
    monkeypatch.setattr(local_executor, "execute", _recording([]))
    for run in ("a", "b"):
        assert cli(capsys, "report", "--run-id", run, "--no-profile", "--no-pdf")[0] == 0
    assert {j["reused_from"] for j in _jobs(reports, "b").values() if j["status"] == "reused"} == {"a"}
    shutil.rmtree(reports / "a")
    assert cli(capsys, "report", "--run-id", "c", "--no-profile", "--no-pdf")[0] == 0
    assert {j["reused_from"] for j in _jobs(reports, "c").values() if j["status"] == "reused"} == {"b"}


def test_a_finished_run_is_read_only_and_a_file_changed_through_a_link_is_not_reused(data, capsys, monkeypatch):
    reports = Path(os.environ["GENTREND_REPORTS"])
    monkeypatch.setattr(local_executor, "execute", _recording([]))
    assert cli(capsys, "report", "--run-id", "a", "--no-profile", "--no-pdf")[0] == 0
    files = [p for p in (reports / "a").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o222 == 0 for p in files)
    changed = sorted((reports / "a" / "notebooks").glob("*.ipynb"))[0]
    changed.chmod(0o644)  # what an editor (or root) can still do
    changed.write_text(changed.read_text() + " ")
    executed: list[str] = []
    monkeypatch.setattr(local_executor, "execute", _recording(executed))
    assert cli(capsys, "report", "--run-id", "b", "--no-profile", "--no-pdf")[0] == 0
    assert changed.name in executed and _jobs(reports, "b")[changed.name]["status"] == "executed"


# --- run ids, folders and the lock ---------------------------------------------------------------------------------


def _previous_run(reports: Path, name: str = "previous") -> Path:
    """A complete earlier run that `latest` points to."""
    run = reports / name
    (run / "notebooks").mkdir(parents=True)
    (run / "trend_report.html").write_text("<!DOCTYPE html><html>previous</html>\n")
    rundir.point_latest(run)
    return run


@pytest.mark.parametrize("run_id", ["latest", "LATEST", "cache", "index", "interactive", "../elsewhere", "a/b", ".."])
def test_a_run_id_that_would_shadow_or_escape_is_refused_and_nothing_moves(data, capsys, no_notebooks, run_id):
    reports = Path(os.environ["GENTREND_REPORTS"])
    previous = _previous_run(reports)
    before = sorted(reports.parent.rglob("*"))
    err = one_error(*cli(capsys, "report", "--run-id", run_id, "--no-profile"))
    assert f"invalid run id {run_id!r}" in err
    assert os.readlink(reports / "latest") == "previous"  # not a loop, not moved
    assert (previous / "trend_report.html").read_text().endswith("previous</html>\n")
    assert sorted(reports.parent.rglob("*")) == before  # nothing written anywhere


def test_a_run_id_naming_a_symlink_never_writes_through_it(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(local_executor, "execute", fake_execute)
    reports = Path(os.environ["GENTREND_REPORTS"])
    victim = tmp_path / "victim"
    victim.mkdir()
    reports.mkdir()
    (reports / "elsewhere").symlink_to(victim, target_is_directory=True)
    cli(capsys, "report", "--run-id", "elsewhere", "--no-profile", "--no-pdf")
    assert list(victim.iterdir()) == []


def test_a_run_id_naming_a_file_is_one_clear_error(data, capsys, no_notebooks):
    reports = Path(os.environ["GENTREND_REPORTS"])
    reports.mkdir()
    (reports / "notes.txt").write_text("mine")
    one_error(*cli(capsys, "report", "--run-id", "notes.txt", "--no-profile"))
    assert (reports / "notes.txt").read_text() == "mine"


def test_default_run_ids_are_valid_and_differ_within_one_second():
    ids = [new_run_id() for _ in range(20)]
    assert len(set(ids)) == len(ids) and all(check_run_id(i) for i in ids)


def test_default_run_ids_do_not_collide_even_by_the_thousand():
    ids = [new_run_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)


def test_a_second_run_on_a_held_reports_folder_exits_3_and_touches_nothing(data, capsys, no_notebooks):
    reports = Path(os.environ["GENTREND_REPORTS"])
    previous = _previous_run(reports, "same-id")
    before = {p: p.stat().st_mtime_ns for p in previous.rglob("*")}
    with reports_lock(reports):
        err = one_error(*cli(capsys, "report", "--run-id", "same-id", "--force", "--no-profile"), code=3)
    assert "another gentrend run holds the lock" in err
    assert {p: p.stat().st_mtime_ns for p in previous.rglob("*")} == before


@pytest.fixture
def tmpfs():
    """mount(folder, options): a small tmpfs at `folder`, unmounted after the test; skips where mounting is not
    allowed (it needs root)."""
    mounted = []

    def mount(folder: Path, options: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if (
            os.geteuid() != 0
            or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
            ).returncode
            != 0
        ):
            pytest.skip("needs root to mount a tmpfs")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.parametrize("where", ["uncreatable", "read-only"])
def test_a_reports_folder_that_cannot_be_written_is_one_line(
    data, tmp_path, capsys, no_notebooks, monkeypatch, tmpfs, where
):
    if where == "uncreatable":
        (tmp_path / "a-file").write_text("x")
        reports, reason = tmp_path / "a-file" / "reports", "Not a directory"
    else:  # as root a read-only mode does not stop writes: a read-only mount does
        reports, reason = tmpfs(tmp_path / "ro", "ro,size=64k"), "Read-only file system"
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    err = one_error(*cli(capsys, "report", "--no-profile", "--no-pdf"))
    assert f"cannot use the reports folder {reports}: {reason}" in err and "GENTREND_REPORTS" in err


# --- atomic everything, latest only to a complete report -----------------------------------------------------------


def test_latest_moves_only_to_a_complete_report(data, capsys, monkeypatch):
    reports = Path(os.environ["GENTREND_REPORTS"])
    _previous_run(reports)
    monkeypatch.setattr(local_executor, "execute", fake_execute)

    def disk_full(notebook, html_path, pdf=None):
        raise OutputError(f"cannot write {html_path}: No space left on device", "free disk space")

    monkeypatch.setattr("gentrend.pipeline.runner.render_report", disk_full)
    one_error(*cli(capsys, "report", "--run-id", "new", "--no-profile"))
    assert os.readlink(reports / "latest") == "previous"
    assert not (reports / "new" / "trend_report.html").exists()


def test_a_full_disk_met_anywhere_in_a_run_is_one_line_with_the_fix(data, capsys, monkeypatch):
    """E.g. papermill saving a notebook: its OSError names no file; the CLI still says what happened and what to do."""

    def full(job, out_dir):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_executor, "execute", full)
    err = one_error(*cli(capsys, "report", "--no-profile", "--no-pdf"))
    assert "No space left on device" in err and "free disk space (e.g. `gentrend clean`)" in err
    assert not (Path(os.environ["GENTREND_REPORTS"]) / "latest").exists()


# --- escaping and the sealed PDF (fast parts) ----------------------------------------------------------------------


def test_a_run_without_measurements_lays_out_its_empty_speed_table(tmp_path):
    from gentrend.report.layout import RunArtefacts, speed_memory_section
    from gentrend.report.publish import Publisher

    Publisher(tmp_path, "speed-memory").table(pd.DataFrame(), "summary", "Profile summary")
    assert speed_memory_section(RunArtefacts(tmp_path))


def test_the_pdf_fetcher_refuses_files_and_network_and_attaches_nothing(tmp_path):
    from pypdf import PdfReader

    from gentrend.report.render import html_to_pdf

    page = (
        "<html><body><p>x</p>" + "".join(PAYLOADS) + '<img src="file:///etc/hostname">'
        '<img src="https://example.org/a.png"></body></html>'
    )
    refused = html_to_pdf(page, tmp_path / "r.pdf")
    assert {"file:///etc/passwd", "file:///etc/hostname", "https://example.org/a.png"} <= set(refused)
    assert not PdfReader(tmp_path / "r.pdf").attachments


def test_a_table_of_hostile_text_renders_as_text(tmp_path):
    from gentrend.report.publish import Publisher
    from gentrend.report.render import notebook_to_html

    frame = pd.DataFrame({"claim": list(PAYLOADS), "n": range(len(PAYLOADS))})
    shown = Publisher(tmp_path, "claims").table(frame, "ledger", "Claims ledger", source=PAYLOADS[1])
    cell = nbformat.v4.new_code_cell("display(table)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": shown.data})]
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Report"), cell]), tmp_path / "r.ipynb"
    )
    soup = BeautifulSoup(notebook_to_html(tmp_path / "r.ipynb").split("<body>", 1)[1], "html.parser")
    assert raw_tags(soup) == [] and all(p in soup.get_text() for p in PAYLOADS)


def test_no_eval_pickle_unsafe_yaml_or_shell_in_the_library():
    """What held when the issue was filed must keep holding."""
    found = []
    for path in (paths.REPO_ROOT / "lib" / "gentrend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("eval", "exec", "os.system", "os.popen", "yaml.load", "yaml.unsafe_load") and not (
                    name == "yaml.load" and "Loader=_StrictLoader" in ast.unparse(node)
                ):
                    found.append(f"{path.name}: {ast.unparse(node)}")
                if any(k.arg == "shell" and ast.unparse(k.value) != "False" for k in node.keywords):
                    found.append(f"{path.name}: {ast.unparse(node)}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                found += [f"{path.name}: imports {n}" for n in names if n in ("pickle", "dill", "marshal", "shelve")]
    assert found == []


# --- slow: a real report on hostile data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The report (one tiny profiled model, PDF included) built from data with markup in every text field; the
    PDF's fetcher records every URL it was asked for. Returns (run folder, data folder, URLs asked for, the run's
    result)."""
    from gentrend.report import render

    asked: list[str] = []

    class Recording(render.SealedFetcher):
        def __call__(self, url):
            asked.append(url)
            return super().__call__(url)

    root = tmp_path_factory.mktemp("hostile")
    data = hostile_copy(root)
    request = ReportRequest(
        profile_models=("qwen2.5-0.5b",), device="cpu", tiny=True, batch_sizes=(1,), prompt_lengths=(8,), new_tokens=2
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENTREND_DATA", str(data))
        mp.setattr(render, "SealedFetcher", Recording)
        result = runner.run_report("hostile", request, reports_dir=root / "reports")
    return result.run_dir, data, asked, result


def _body(run: Path) -> BeautifulSoup:
    page = (run / "trend_report.html").read_text()
    return BeautifulSoup(page.split("<body>", 1)[1], "html.parser")


@pytest.mark.slow
def test_markup_in_every_text_field_never_reaches_the_html_as_markup(hostile_run):
    run, *_ = hostile_run
    soup = _body(run)
    assert raw_tags(soup) == []
    text = soup.get_text()
    for payload in PAYLOADS:  # shown as the text it is
        assert payload in text, payload
    assert RENAMED_BENCHMARK + PAYLOADS[0] in text


@pytest.mark.slow
def test_hostile_text_is_kept_verbatim_in_the_tables(hostile_run):
    run, data, *_ = hostile_run
    claims = yaml.safe_load((data / "claims.yaml").read_text())["claims"]
    ledger = pd.read_csv(run / "tables" / "claims_ledger.csv")
    assert ledger["claim"].tolist() == [c["text"] for c in claims] and ledger["id"].tolist() == [
        c["id"] for c in claims
    ]
    models = pd.read_csv(run / "tables" / "models.csv")
    assert all(any(p in lic for p in PAYLOADS) for lic in models["license"])


@pytest.mark.slow
def test_the_hostile_pdf_has_no_attachment_and_fetched_only_embedded_data(hostile_run):
    from pypdf import PdfReader

    run, _, asked, _ = hostile_run
    reader = PdfReader(run / "trend_report.pdf")
    assert not reader.attachments
    assert asked and all(url.startswith("data:image/png;base64,") for url in asked)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "alert(1)" in text  # the payloads are printed as text


@pytest.mark.slow
def test_every_file_of_the_hostile_run_is_complete(hostile_run):
    run, *_ = hostile_run
    assert_run_files_complete(run)


@pytest.mark.slow
def test_the_hostile_report_renders_and_latest_points_to_it(hostile_run):
    run, _, _, result = hostile_run
    assert result.status == "complete", result.failures
    assert (run.parent / "latest").resolve() == run.resolve()


# --- slow: the CLI as a user runs it -------------------------------------------------------------------------------


def _gentrend(*args: str, reports: Path, data: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """`gentrend <args>` in its own process group with Ctrl-C live (as a terminal would run it; a test run started
    in the background inherits SIGINT ignored), this checkout's library first."""
    env = {**os.environ, **(env or {}), "GENTREND_REPORTS": str(reports), "PYTHONPATH": str(paths.REPO_ROOT / "lib")}
    if data:
        env["GENTREND_DATA"] = str(data)
    return subprocess.Popen(
        [sys.executable, "-m", "gentrend.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(condition, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.3)


@pytest.mark.slow
def test_bad_input_stops_a_real_report_in_seconds_with_one_line(tmp_path):
    data = copy_data(tmp_path)
    replace(data / "claims.yaml", "model: qwen3.5-9b", "model: qwen3.5-90b")
    process = _gentrend("report", "--no-profile", reports=tmp_path / "reports", data=data)
    _, err = process.communicate(timeout=120)
    one_error(process.returncode, err)
    assert "unknown model 'qwen3.5-90b'" in err
    assert not (tmp_path / "reports").exists()  # refused before the reports folder is touched


KERNEL_HOLDS = {  # IPython start-up files that touch the marker and wait inside the kernel, at two moments
    "kernel start-up": "import os, pathlib, time\npathlib.Path(os.environ['KERNEL_MARKER']).touch()\ntime.sleep(600)\n",
    "mid-cell": "import os, pathlib, time\n\n\ndef hold(*args):\n"
    "    pathlib.Path(os.environ['KERNEL_MARKER']).touch()\n    time.sleep(600)\n\n\n"
    "get_ipython().events.register('pre_run_cell', hold)\n",
}


def _second_notebook() -> str:
    from gentrend.analysis.scores import load_scores
    from gentrend.models.catalogue import load_catalogue

    catalogue = load_catalogue()
    return plan.plan(catalogue, load_scores(catalogue=catalogue), ReportRequest(profile_models=()))[1].output_name


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment, sig",
    [
        ("kernel start-up", signal.SIGINT),
        ("kernel start-up", signal.SIGTERM),
        ("mid-cell", signal.SIGTERM),
        ("between notebooks", signal.SIGINT),
    ],
    ids=["kernel start-up, Ctrl-C", "kernel start-up, SIGTERM", "mid-cell, SIGTERM", "between notebooks, Ctrl-C"],
)
def test_a_signal_at_any_moment_ends_the_run_in_one_line(tmp_path, moment, sig):
    """The run is held at the moment (a marker file says it is there), then signalled: Ctrl-C goes to the process
    group as a terminal sends it, SIGTERM to the process as `timeout` and systemd send it."""
    reports, marker = tmp_path / "reports", tmp_path / "marker"
    _previous_run(reports)
    env = {"KERNEL_MARKER": str(marker)}
    if moment in KERNEL_HOLDS:
        startup = tmp_path / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-hold.py").write_text(KERNEL_HOLDS[moment])
        env["IPYTHONDIR"] = str(tmp_path / "ipython")
    else:
        env |= {"GENTREND_HOLD_AT": f"notebook:{_second_notebook()}", "GENTREND_HOLD_MARKER": str(marker)}
    process = _gentrend("report", "--run-id", "int", "--no-profile", "--no-pdf", reports=reports, env=env)
    _wait_for(lambda: marker.exists() or process.poll() is not None)
    assert process.poll() is None, process.communicate()
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err == "gentrend: interrupted; finished notebooks are kept in the run folder\n"
    assert json.loads((reports / "int" / "manifest.json").read_text())["status"] == "interrupted"
    assert os.readlink(reports / "latest") == "previous" and not (reports / "int" / "trend_report.html").exists()
    assert_run_files_complete(reports / "int")
    finished = [p for p in (reports / "int" / "notebooks").glob("*.ipynb") if not p.name.endswith(".partial.ipynb")]
    assert len(finished) == (1 if moment == "between notebooks" else 0)


@pytest.mark.slow
def test_two_runs_with_one_run_id_never_share_the_folder(tmp_path):
    reports = tmp_path / "reports"
    first, second = (
        _gentrend("report", "--run-id", "same", "--force", "--no-profile", "--no-pdf", reports=reports)
        for _ in range(2)
    )
    _wait_for(lambda: first.poll() is not None or second.poll() is not None, timeout=120)
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    _, err = loser.communicate()
    one_error(loser.returncode, err, code=3)
    assert "another gentrend run holds the lock" in err
    assert winner.poll() is None  # the other run goes on alone
    os.killpg(winner.pid, signal.SIGINT)
    winner.communicate(timeout=120)
    assert winner.returncode == 130


@pytest.mark.slow
@pytest.mark.long
def test_a_full_disk_is_one_line_and_leaves_no_truncated_file(tmp_path, tmpfs):
    reports = tmpfs(tmp_path / "full", "size=1500k")
    process = _gentrend("report", "--run-id", "full", "--no-profile", "--no-pdf", reports=reports)
    _, err = process.communicate(timeout=600)
    one_error(process.returncode, err)
    assert "No space left on device" in err and "free disk space (e.g. `gentrend clean`)" in err
    assert_run_files_complete(reports / "full")
    assert not (reports / "latest").exists()


@pytest.mark.slow
def test_a_rerun_without_profiling_reports_no_earlier_or_partial_measurement(report_run, tmp_path, monkeypatch):
    """Issue case 5: after an interrupted profile, a rerun of that run id with --no-profile reported the partial
    file as 'profiled in this run'."""
    reports = tmp_path / "reports"
    rerun = reports / "rerun"
    shutil.copytree(report_run, rerun)
    partial = rerun / "results" / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    measured = pd.read_csv(report_run / "results" / "profile_qwen2.5-0.5b.csv")
    measured.head(3).assign(model_id="qwen3-0.6b").to_csv(partial / "profile_qwen3-0.6b.csv", index=False)
    real_execute = local_executor.execute

    def execute(job, out_dir):  # the published-data notebooks are unchanged by the rerun: keep them (speed)
        kept = out_dir / "notebooks" / job.output_name
        if job.notebook in (plan.GENERATION_NB, plan.DENSITY_NB, plan.PER_SIZE_NB) and kept.exists():
            return kept
        return real_execute(job, out_dir)

    monkeypatch.setattr(local_executor, "execute", execute)
    run = runner.run_report("rerun", ReportRequest(profile_models=()), reports_dir=reports, pdf=False).run_dir
    assert not (run / "tables" / "profile_summary.csv").exists()  # an empty table is not published
    assert "synthetic (tiny)" not in (run / "trend_report.html").read_text()
