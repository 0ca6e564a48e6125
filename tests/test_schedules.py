"""The documented schedules (deploy/ and .github/workflows/): valid files that call a valid gentrend command."""

import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from gentrend.cli import build_parser
from gentrend.core import paths

DEPLOY = paths.REPO_ROOT / "deploy"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*$")


def _gentrend_args(command: str) -> list[str]:
    """The arguments of the `gentrend ...` call inside a shell command line."""
    words = shlex.split(command.replace("&&", " && "))
    start = next(i for i, w in enumerate(words) if w == "gentrend" or w.endswith("bin/gentrend"))
    end = next((i for i, w in enumerate(words) if i > start and w in ("&&", ";", ">", "2>&1", "|")), len(words))
    return words[start + 1 : end]


def _valid(args: list[str]) -> None:
    parsed = build_parser().parse_args(args)  # exits (SystemExit) on an unknown option
    assert parsed.command == "report"


def test_cron_line_has_five_valid_fields_and_a_valid_command():
    lines = [
        line
        for line in (DEPLOY / "cron" / "gentrend.crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(fields[:5], ranges):
        assert CRON_FIELD.match(field), field
        assert all(low <= int(n) <= high for n in re.findall(r"\d+", field.split("/")[0]))
    _valid(_gentrend_args(fields[5]))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_units_verify(tmp_path):
    for name in ("gentrend-report.service", "gentrend-report.timer"):
        text = (DEPLOY / "systemd" / name).read_text().replace("/opt/gentrend", str(paths.REPO_ROOT))
        (tmp_path / name).write_text(text.replace("User=gentrend", "User=root"))
    run = subprocess.run(
        ["systemd-analyze", "verify", *map(str, sorted(tmp_path.iterdir()))], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    exec_start = re.search(
        r"^ExecStart=(.*)$", (DEPLOY / "systemd" / "gentrend-report.service").read_text(), re.M
    ).group(1)
    _valid(_gentrend_args(exec_start))


def test_scheduled_ci_workflow_runs_the_report_and_uploads_html_and_pdf():
    workflow = yaml.safe_load((paths.REPO_ROOT / ".github" / "workflows" / "scheduled-report.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    (schedule,) = triggers["schedule"]
    assert all(CRON_FIELD.match(f) for f in schedule["cron"].split())
    steps = workflow["jobs"]["report"]["steps"]
    command = next(s["run"] for s in steps if "gentrend report" in s.get("run", ""))
    _valid(_gentrend_args(command.splitlines()[-1].replace('"ci-${{ github.run_id }}"', "ci-1")))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert {"trend_report.html", "trend_report.pdf"} <= {p.rsplit("/", 1)[-1] for p in upload["with"]["path"].split()}
