"""The documented schedules (deploy/, .github/workflows/) and the install (Makefile): each file parsed, and run
where that is cheap (the cron line, and the Makefile's recipes with stand-ins for python, pip, jupyter and
gentrend)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gentrend.cli import build_parser
from gentrend.core import paths

DEPLOY = paths.REPO_ROOT / "deploy"
SERVICE = DEPLOY / "systemd" / "gentrend-report.service"
CRONTAB = DEPLOY / "cron" / "gentrend.crontab"
WORKFLOW = paths.REPO_ROOT / ".github" / "workflows" / "scheduled-report.yml"
README = paths.REPO_ROOT / "README.md"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*$")
SEPARATORS = ("&&", "||", ";", "|")


def _simple_commands(command: str) -> list[list[str]]:
    """A shell command line split into its simple commands (at && || ; |), each a list of words and operators."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands = [[]]
    for word in lexer:
        if word in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _is_gentrend(word: str) -> bool:
    return word == "gentrend" or word.endswith("bin/gentrend")


def _gentrend_args(command: str, subcommand: str = "report") -> list[str]:
    """The arguments of the `gentrend <subcommand> ...` call in a shell command line (redirections left out)."""
    for words in _simple_commands(command):
        start = next((i for i, w in enumerate(words) if _is_gentrend(w)), None)
        if start is not None and words[start + 1 : start + 2] == [subcommand]:
            end = next((i for i, w in enumerate(words) if i > start and re.fullmatch(r"\d*[<>]+&?|&>", w)), len(words))
            return words[start + 1 : end]
    raise AssertionError(f"no `gentrend {subcommand}` in {command!r}")


def _valid(args: list[str], subcommand: str = "report"):
    parsed = build_parser().parse_args(args)  # exits (SystemExit) on an unknown option
    assert parsed.command == subcommand
    if subcommand == "clean":  # pruning by count: keeps the newest N runs
        assert parsed.keep is not None and parsed.keep >= 1 and not parsed.dry_run
    return parsed


def _seconds(duration: str) -> int:
    """A duration as systemd and coreutils' timeout write it: 90, 90s, 30min, 5m, 2h, 1d."""
    match = re.fullmatch(r"(\d+)\s*(s|sec|m|min|h|d)?", duration)
    assert match, duration
    return int(match.group(1)) * {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[match.group(2)]


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> every value assigned, in order (the last one counts for most keys)."""
    sections, current = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _useradd(text: str, user: str) -> str:
    """The options of the `useradd ... <user>` line a document gives (fails when it gives none)."""
    match = re.search(rf"useradd ((?:--?[\w-]+(?: [^-\s]\S*)? )+){user}\b", text)
    assert match, f"no `useradd ... {user}` given"
    return match.group(1)


# systemd ------------------------------------------------------------------------------------------------------


def test_the_service_is_hardened_and_runs_as_a_user_the_readme_creates():
    service = _unit(SERVICE)["Service"]
    last = {key: values[-1] for key, values in service.items()}
    assert last["NoNewPrivileges"] == "yes"
    assert last["ProtectSystem"] == "strict"
    assert last["ProtectHome"] == "yes"
    assert last["PrivateTmp"] == "yes"
    assert 0 < _seconds(last["TimeoutStartSec"]) <= 6 * 3600  # bounded (not "infinity")
    checkout = last["WorkingDirectory"]
    writable = " ".join(service["ReadWritePaths"]).split()
    assert f"{checkout}/reports" in writable
    assert not any(checkout.startswith(path.rstrip("/") + "/") or path == checkout for path in writable), (
        "the checkout itself stays read-only"
    )
    # HOME (Hugging Face, matplotlib, Jupyter and triton caches) is the unit's state directory: writable under
    # ProtectSystem=strict, and visible under ProtectHome=yes
    env = dict(pair.split("=", 1) for value in service["Environment"] for pair in shlex.split(value))
    assert env["HOME"] == f"/var/lib/{last['StateDirectory']}"

    user = last["User"]
    assert user not in ("root", "0")
    for text in (README.read_text(), SERVICE.read_text()):  # the README and the unit's own install note
        options = _useradd(text, user)
        assert "--system" in options and re.search(r"--shell \S*nologin", options)
        assert f"--home-dir {env['HOME']}" in options  # the same home as the unit's
        assert f"chown -R {user}: {checkout}/reports" in text


def test_the_service_runs_the_report_then_prunes_and_fails_when_the_report_fails():
    service = _unit(SERVICE)["Service"]
    assert service["Type"] == ["oneshot"]  # ExecStartPost= runs only after ExecStart= exited 0
    (start,) = service["ExecStart"]
    (post,) = service["ExecStartPost"]
    assert not start.startswith(("-", "+", "!", ":", "@")), "a failing report must fail the unit"
    _valid(_gentrend_args(start))
    _valid(_gentrend_args(post, "clean"), "clean")
    assert "SuccessExitStatus" not in service  # partial (4) and failed (5) stay failures


def test_systemd_units_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        message = "needs systemd-analyze (apt-get install systemd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    for name in ("gentrend-report.service", "gentrend-report.timer"):
        text = (DEPLOY / "systemd" / name).read_text()
        # the checkout is this one, gentrend the one of the environment running the tests, the user root
        text = text.replace("/opt/gentrend/.venv", sys.prefix).replace("/opt/gentrend", str(paths.REPO_ROOT))
        (tmp_path / name).write_text(re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M))
    run = subprocess.run(
        ["systemd-analyze", "verify", *map(str, sorted(tmp_path.iterdir()))], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    # verify exits 0 on unknown keys and unparsable values: it only says so
    ours = [line for line in run.stderr.splitlines() if str(tmp_path) in line or "gentrend-report" in line]
    assert not ours, "\n".join(ours)


# cron ---------------------------------------------------------------------------------------------------------


def _cron_file() -> tuple[dict[str, str], list[str]]:
    """The cron.d file: its variable assignments (NAME=value lines) and its entries."""
    lines = [line for line in CRONTAB.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assignments = [line for line in lines if re.match(r"^\w+\s*=", line)]
    variables = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in assignments)}
    return variables, [line for line in lines if line not in assignments]


def _cron_entry() -> tuple[list[str], str, str]:
    """The one entry of the cron.d file: its five time fields, its user, its command."""
    _, entries = _cron_file()
    assert len(entries) == 1
    *times, user, command = entries[0].split(None, 6)
    return times, user, command


def _timeout(words: list[str]) -> tuple[str, dict[str, str], list[str]]:
    """coreutils' `timeout [options] DURATION COMMAND...`: the duration, the options, the command."""
    assert words[0] == "timeout", words
    options, i = {}, 1
    while words[i].startswith("-"):
        key, _, value = words[i].partition("=")
        options[key], i = value, i + 1
    return words[i], options, words[i + 1 :]


def test_cron_entry_has_a_user_a_timeout_and_valid_commands():
    times, user, command = _cron_entry()
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(times, ranges):
        assert CRON_FIELD.match(field), field
        assert all(low <= int(n) <= high for n in re.findall(r"\d+", field.split("/")[0]))
    assert user == _unit(SERVICE)["Service"]["User"][-1]  # the user the README creates (checked above)
    assert _cron_file()[0].get("MAILTO", "").strip('"'), "mail for a system user is never read; empty MAILTO sends none"

    commands = _simple_commands(command)
    report = next(words for words in commands if "report" in words and any(map(_is_gentrend, words)))
    duration, options, wrapped = _timeout(report)
    assert 0 < _seconds(duration) <= 6 * 3600 and _seconds(options["--kill-after"]) > 0
    _valid(_gentrend_args(shlex.join(wrapped)))
    _valid(_gentrend_args(command, "clean"), "clean")
    # stdout of both gentrend calls goes to /dev/null; stderr of none is redirected anywhere
    for words in commands:
        if any(map(_is_gentrend, words)):
            assert words[-2:] == [">", "/dev/null"], words
    redirections = [w for words in commands for w in words if re.fullmatch(r"\d*[<>]+&?|&>", w)]
    assert not any(w.startswith(("2", "&")) for w in redirections), "stderr must reach cron"
    assert command.count("2>") == 0 and "&>" not in command


@pytest.fixture
def cron_checkout(tmp_path):
    """A stand-in checkout for the cron line: .venv/bin/gentrend prints a summary, logs its arguments, and exits
    with $REPORT_EXIT (saying why on stderr) or sleeps $REPORT_SLEEP seconds."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "gentrend"
    fake.write_text(f"""#!/bin/sh
echo "$*" >> {tmp_path}/calls
echo "run ci-1 complete in 3 s (a summary, on stdout)"
if [ "$1" = report ]; then
  sleep "${{REPORT_SLEEP:-0}}"
  if [ "${{REPORT_EXIT:-0}}" != 0 ]; then echo "gentrend: failed: 04_profile.ipynb" >&2; exit "$REPORT_EXIT"; fi
fi
""")
    fake.chmod(0o755)
    return tmp_path


def _run_cron(checkout: Path, **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    _, _, command = _cron_entry()
    report = next(words for words in _simple_commands(command) if words[0] == "timeout")
    duration, _, _ = _timeout(report)
    command = command.replace("/opt/gentrend", str(checkout)).replace(f" {duration} ", " 1s ", 1)
    run = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env}
    )  # cron runs the line with /bin/sh, PATH as here
    calls = (checkout / "calls").read_text().splitlines() if (checkout / "calls").exists() else []
    return run, calls


def test_cron_line_is_silent_after_a_complete_run_and_prunes(cron_checkout):
    run, calls = _run_cron(cron_checkout)
    assert (run.stdout, run.stderr) == ("", "")  # nothing written: cron sends no mail
    assert calls[0] == "report" and calls[1].startswith("clean --keep")


@pytest.mark.parametrize("exit_code", [2, 3, 4, 5])
def test_cron_line_speaks_when_the_report_fails_and_keeps_old_runs(cron_checkout, exit_code):
    run, calls = _run_cron(cron_checkout, REPORT_EXIT=str(exit_code))
    assert run.stdout == ""
    assert "gentrend: failed: 04_profile.ipynb" in run.stderr and f"code {exit_code}" in run.stderr
    assert calls == ["report"]  # no pruning after a failed report


def test_cron_line_stops_a_stuck_run_and_says_so(cron_checkout):
    run, calls = _run_cron(cron_checkout, REPORT_SLEEP="30")  # the line's timeout is made 1 s here
    assert "code 124" in run.stderr  # timeout's exit code
    assert calls == ["report"]


# GitHub workflow ----------------------------------------------------------------------------------------------


def _workflow() -> tuple[dict, list[dict]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return workflow, workflow["jobs"]["report"]["steps"]


def _step(steps: list[dict], uses: str = "", run: str = "") -> tuple[int, dict]:
    found = [
        (i, s)
        for i, s in enumerate(steps)
        if (uses and s.get("uses", "").split("@")[0] == uses) or (run and run in s.get("run", ""))
    ]
    assert len(found) == 1, f"one step with {uses or run!r}, found {len(found)}"
    return found[0]


def _expand(text: str, env: dict[str, str]) -> str:
    """A step's shell text with its ${{ ... }} expressions and the job's env variables filled in (as 1)."""
    for name in env:
        text = text.replace(f"${{{{ env.{name} }}}}", f"${name}")
    text = re.sub(r"\$\{\{[^}]*\}\}", "1", text)
    for name, value in env.items():
        text = re.sub(rf"\${{?{name}\b}}?", re.sub(r"\$\{\{[^}]*\}\}", "1", value).replace("\\", r"\\"), text)
    return text


def test_scheduled_ci_workflow_runs_the_report_and_prunes():
    workflow, steps = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    (schedule,) = triggers["schedule"]
    assert all(CRON_FIELD.match(f) for f in schedule["cron"].split())
    env = workflow["jobs"]["report"].get("env", {})
    i_install, install = _step(steps, run="make install")
    assert shlex.split(install["run"]) == ["make", "install", "TORCH=cpu"]  # the CPU-only torch: no CUDA libraries
    i_report, report = _step(steps, run="gentrend report")
    args = _gentrend_args(_expand(report["run"], env))
    assert _valid(args).run_id == "ci-1-1"
    i_clean, clean = _step(steps, run="gentrend clean")
    _valid(_gentrend_args(clean["run"], "clean"), "clean")
    assert i_install < i_report < i_clean


def test_scheduled_ci_workflow_pins_every_action_by_commit():
    _, steps = _workflow()
    assert all("uses" in s or "run" in s for s in steps)
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) == sum("uses" in s for s in steps) >= 4
    for line in lines:  # owner/repo[/path]@<40 hex> # vX.Y.Z
        assert re.fullmatch(r"\s*(- )?uses: [\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


def test_scheduled_ci_workflow_has_least_permissions_and_one_run_at_a_time():
    workflow, _ = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values())  # no job widens them
    concurrency = workflow["concurrency"]
    assert concurrency["group"] and concurrency["cancel-in-progress"] is False  # a running report is never cancelled


def test_scheduled_ci_workflow_carries_reports_between_runs():
    """reports/ restored before the report and saved after it (pruned), under a new key each run: the next run
    restores the newest by the key's prefix, so unchanged steps are reused and "changed since" has a baseline."""
    _, steps = _workflow()
    i_restore, restore = _step(steps, uses="actions/cache/restore")
    i_report, _ = _step(steps, run="gentrend report")
    i_clean, _ = _step(steps, run="gentrend clean")
    i_save, save = _step(steps, uses="actions/cache/save")
    assert i_restore < i_report < i_clean < i_save
    assert restore["with"]["path"].rstrip("/") == save["with"]["path"].rstrip("/") == "reports"
    key = save["with"]["key"]
    assert restore["with"]["key"] == key and "github.run_id" in key  # a key per run (cache keys are immutable)
    (prefix,) = restore["with"]["restore-keys"].split()
    assert key.startswith(prefix) and "${{" not in prefix
    # saved also after a failed report, but never when the report did not run (a failed install would otherwise
    # save the bare checkout's reports/ as the newest entry, and the next run would restore that)
    report_id = steps[i_report]["id"]
    assert save["if"] == "${{ !cancelled() && steps." + report_id + ".outcome != 'skipped' }}"


def test_scheduled_ci_workflow_uploads_the_report_and_the_index_always():
    workflow, steps = _workflow()
    env = workflow["jobs"]["report"].get("env", {})
    _, report = _step(steps, run="gentrend report")
    run_dir = f"reports/{_valid(_gentrend_args(_expand(report['run'], env))).run_id}"
    _, upload = _step(steps, uses="actions/upload-artifact")
    assert upload["if"] == "always()"
    uploaded = set(_expand(upload["with"]["path"], env).split())
    report_files = ("trend_report.html", "trend_report.pdf", "manifest.json", "run.log")
    assert {f"{run_dir}/{name}" for name in report_files} <= uploaded
    assert "reports/index.html" in uploaded


# Makefile: install and lab ------------------------------------------------------------------------------------

TORCH_VERSION = re.search(r"^torch==(\S+)$", (paths.REPO_ROOT / "requirements.txt").read_text(), re.M).group(1)


@pytest.fixture
def sandbox(tmp_path):
    """A copy of the Makefile and its inputs, with a stand-in python whose `-m venv` makes a .venv whose pip and
    jupyter only log their arguments (to calls), and a stand-in `id` (uid from $FAKE_UID)."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(paths.REPO_ROOT / name, tmp_path / name)
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python").write_text(f"""#!/bin/sh
[ "$1 $2" = "-m venv" ] || exit 9
mkdir -p "$3/bin"
for tool in pip jupyter; do
  printf '#!/bin/sh\\necho "%s $*" >> {tmp_path}/calls\\n' "$tool" > "$3/bin/$tool"; chmod +x "$3/bin/$tool"
done
""")
    (tools / "id").write_text('#!/bin/sh\necho "${FAKE_UID:-1000}"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    return tmp_path


def _make(sandbox: Path, *args: str, uid: int = 1000) -> tuple[subprocess.CompletedProcess, list[str]]:
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TORCH", "TORCH_INDEX", "ARGS")  # nothing from a calling make
    env = {k: v for k, v in os.environ.items() if k not in outer}
    env.update(PATH=f"{sandbox / 'tools'}:{env['PATH']}", FAKE_UID=str(uid))
    (sandbox / "calls").unlink(missing_ok=True)
    run = subprocess.run(
        ["make", "-C", str(sandbox), f"PYTHON={sandbox / 'tools' / 'python'}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    calls = (sandbox / "calls").read_text().splitlines() if (sandbox / "calls").exists() else []
    return run, calls


def test_make_install_is_todays_install_without_torch(sandbox):
    run, calls = _make(sandbox, "install")
    assert run.returncode == 0, run.stderr
    assert calls == ["pip install --quiet --upgrade pip", "pip install --quiet -r requirements.txt"]
    assert "download.pytorch.org" not in run.stdout


def test_make_install_torch_cpu_takes_torch_from_pytorchs_cpu_index_first(sandbox):
    run, calls = _make(sandbox, "install", "TORCH=cpu")
    assert run.returncode == 0, run.stderr
    torch = [c.split() for c in calls if "torch==" in c]
    assert torch == [
        [
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--index-url",
            "https://download.pytorch.org/whl/cpu",
            f"torch=={TORCH_VERSION}+cpu",
        ]
    ]  # torch alone (its dependencies come from PyPI with the rest)
    assert calls.index(" ".join(torch[0])) < calls.index("pip install --quiet -r requirements.txt")

    run, calls = _make(sandbox, "install")  # what `make report`/`make test` do first: the choice is kept
    assert run.returncode == 0 and calls == [], calls
    run, calls = _make(sandbox, "-n", "report")
    assert "gentrend report" in run.stdout and "pip" not in run.stdout

    run, calls = _make(sandbox, "install", "TORCH=cu126")  # another choice reinstalls torch: that CUDA build
    cuda = f"--index-url https://download.pytorch.org/whl/cu126 torch=={TORCH_VERSION}+cu126"
    assert any(c.endswith(cuda) for c in calls), calls


def test_make_install_refuses_an_unknown_torch_build(sandbox):
    run, calls = _make(sandbox, "install", "TORCH=gpu")
    assert run.returncode != 0 and "TORCH=cpu" in run.stderr and calls == []


@pytest.mark.parametrize("uid", [0, 1000])
def test_make_lab_passes_args_and_allows_root_only_for_root(sandbox, uid):
    assert _make(sandbox, "install")[0].returncode == 0
    run, calls = _make(sandbox, "lab", "ARGS=--port 8899 --no-browser", uid=uid)
    assert run.returncode == 0, run.stderr
    root = ["--allow-root"] if uid == 0 else []
    assert [c.split() for c in calls] == [["jupyter", "lab", *root, "--port", "8899", "--no-browser", "notebooks/"]]
    assert ("--allow-root" in run.stdout) == (uid == 0)  # one line says so
