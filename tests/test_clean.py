"""`gentrend clean`: old runs and cache entries go; latest's target, the newest complete report, anything that is
not a run and everything while a report run holds the folder stay."""

import json
import os
import time
from pathlib import Path

import pytest

from gentrend.cli import main
from gentrend.pipeline.clean import parse_age
from gentrend.pipeline.rundir import point_latest, reports_lock
from gentrend.profiling.cache import cache_path

DAY = 86400


def _age(path: Path, days: float) -> None:
    """Set the modification time of `path` and everything under it to `days` ago."""
    stamp = time.time() - days * DAY
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (stamp, stamp), follow_symlinks=False)


def _run(reports: Path, name: str, days: float, complete: bool = True) -> Path:
    run = reports / name
    (run / "notebooks").mkdir(parents=True)
    (run / "notebooks" / "01_generation-qwen3.ipynb").write_text("{}")
    (run / "manifest.json").write_text(json.dumps({"run_id": name}))  # what makes it a run clean may remove
    if complete:
        (run / "trend_report.html").write_text("<html></html>")
    _age(run, days)
    return run


def _entry(model: str, key: str, days: float) -> Path:
    """A cache entry as the profiler writes it: the rows and their index record naming the key."""
    path = cache_path(model, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("model_id\n" + model + "\n")
    path.with_suffix(".json").write_text(json.dumps({"key": key}))
    _age(path.with_suffix(".json"), days)
    _age(path, days)
    return path


@pytest.fixture
def reports(tmp_path, monkeypatch):
    """A reports folder with runs of several ages, cache entries of two models, and things that are not runs."""
    reports = tmp_path / "reports"
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    for name, days in (("run-old", 90), ("run-older", 120), ("run-mid", 20), ("run-new", 1)):
        _run(reports, name, days)
    _run(reports, "run-broken", 60, complete=False)
    point_latest(reports / "run-older")  # e.g. the user pointed latest back at an old run
    _age(reports / "run-older", 120)
    (reports / "interactive" / "notebooks").mkdir(parents=True)
    (reports / "README.md").write_text("not a run")
    (reports / "mine").mkdir()
    _entry("qwen3-0.6b", "a" * 20, 60)
    _entry("qwen3-0.6b", "b" * 20, 2)
    _entry("qwen2.5-0.5b", "c" * 20, 45)
    (cache_path("x", "y").parent / "cuda-0.lock").write_text("")
    return reports


def _names(reports: Path) -> set[str]:
    """What is in the reports and cache folders (the lock file any command may create aside)."""
    names = {p.name for p in reports.iterdir()} | {p.name for p in cache_path("x", "y").parent.iterdir()}
    return names - {".gentrend.lock"}


def test_dry_run_lists_what_would_go_and_removes_nothing(reports, capsys):
    before = _names(reports)
    assert main(["clean", "--older-than", "30d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[3] for line in out.splitlines() if line.startswith("would remove")}
    assert {Path(p).name for p in listed} == {
        "run-old",
        "run-broken",
        f"qwen3-0.6b-{'a' * 20}.csv",
        f"qwen2.5-0.5b-{'c' * 20}.csv",
    }
    assert "dry run: nothing removed" in out and "run-older  (latest points to it)" in out
    assert _names(reports) == before


def test_clean_by_age_removes_old_runs_and_entries_with_their_companions(reports, capsys):
    assert main(["clean", "--older-than", "30d"]) == 0
    left = _names(reports)
    assert {
        "run-old",
        "run-broken",
        f"qwen3-0.6b-{'a' * 20}.csv",
        f"qwen3-0.6b-{'a' * 20}.json",
        f"qwen2.5-0.5b-{'c' * 20}.csv",
    }.isdisjoint(left)
    assert {
        "run-older",
        "run-mid",
        "run-new",
        "latest",
        "interactive",
        "README.md",
        "mine",
        f"qwen3-0.6b-{'b' * 20}.csv",
        "cuda-0.lock",
    } <= left
    assert not list(reports.glob(".*removing"))


def test_keep_n_keeps_the_newest_runs_and_entries_per_model_and_never_the_protected_ones(reports):
    assert main(["clean", "--keep", "1"]) == 0
    left = _names(reports)
    assert {"run-new", "run-older"} <= left  # the newest, and latest's target
    assert {"run-mid", "run-old", "run-broken"}.isdisjoint(left)
    assert {f"qwen3-0.6b-{'b' * 20}.csv", f"qwen2.5-0.5b-{'c' * 20}.csv"} <= left  # the newest entry of each model
    assert f"qwen3-0.6b-{'a' * 20}.csv" not in left


def test_given_age_and_count_an_item_goes_only_when_both_select_it(reports):
    # newest first: run-new (1 day), run-mid (20), run-broken (60), run-old (90), run-older (120, latest's target)
    before = _names(reports)
    assert main(["clean", "--keep", "3", "--older-than", "30d"]) == 0
    assert before - _names(reports) == {"run-old"}


def test_the_newest_complete_report_and_latest_survive_anything(reports):
    os.unlink(reports / "latest")
    point_latest(reports / "run-old")
    assert main(["clean", "--keep", "0", "--older-than", "0s"]) == 0
    left = _names(reports)
    assert {"run-new", "run-old"} <= left and {"run-mid", "run-older", "run-broken"}.isdisjoint(left)


def test_nothing_is_removed_while_a_report_run_holds_the_folder(reports, capsys):
    before = _names(reports)
    with reports_lock(reports):
        assert main(["clean", "--older-than", "1s"]) == 3
    err = capsys.readouterr().err
    assert err.count("another gentrend run holds the lock") == 1 and "Traceback" not in err
    assert _names(reports) == before


def test_a_half_finished_removal_is_finished_by_the_next_clean(reports):
    (reports / ".run-gone.removing" / "notebooks").mkdir(parents=True)
    assert main(["clean", "--older-than", "365d"]) == 0
    assert not (reports / ".run-gone.removing").exists() and "run-old" in _names(reports)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["clean"], "gentrend clean needs to know what to remove"),
        (["clean", "--older-than", "30x"], "cannot read the age '30x'"),
        (["clean", "--keep", "-1"], "--keep must be 0 or more"),
    ],
)
def test_unclear_requests_are_one_error(reports, capsys, argv, message):
    before = _names(reports)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gentrend: error: {message}") and err.count("How to fix") == 1
    assert _names(reports) == before


def test_ages():
    assert parse_age("30d") == 30 * DAY and parse_age("12h") == 12 * 3600 and parse_age("2w") == 14 * DAY
    assert parse_age("7") == 7 * DAY and parse_age("90m") == 5400 and parse_age("1.5h") == 5400


def test_an_empty_or_missing_reports_folder_is_fine(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path / "none"))
    assert main(["clean", "--keep", "2"]) == 0
    assert "0 item(s)" in capsys.readouterr().out and not (tmp_path / "none").exists()


def test_a_hard_linked_file_is_counted_once_and_only_when_its_last_link_goes(tmp_path, monkeypatch, capsys):
    """A reused step is hard-linked from the older run into the newer: removing the older run frees nothing of
    it; a file linked twice inside the removed run counts once."""
    reports = tmp_path / "reports"
    monkeypatch.setenv("GENTREND_REPORTS", str(reports))
    old, new = _run(reports, "run-a", 10), _run(reports, "run-b", 1)
    shared, own = old / "tables" / "shared.csv", old / "tables" / "own.csv"
    shared.parent.mkdir()
    shared.write_bytes(b"x" * 50_000)
    own.write_bytes(b"y" * 3_000)
    os.link(shared, new / "shared.csv")  # what step reuse does
    os.link(own, old / "own-again.csv")
    _age(old, 10)
    assert main(["clean", "--keep", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    frees = sum(f.stat().st_size for f in old.rglob("*") if f.is_file() and f.stat().st_nlink == 1) + own.stat().st_size
    assert f"1 item(s), {frees / 1000:.1f} kB would be freed" in out
