"""A job away from the run folder: what it needs travels to the worker as bytes, what it made comes back as bytes.

`job_inputs` (driver): the run files the job reads (its `reads` patterns) and its notebook. The data folder travels
once per run (`data_files`). `run_job` (worker): writes them into a fresh temporary folder (data/, notebooks/,
run/), points the kernel at that data folder, sets the driver's JOB_VARIABLES, executes the notebook with
gentrend.pipeline.notebooks.execute into run/, and returns every file it created or changed, plus the error if it
failed (a failed notebook still returns its partially executed copy and what it wrote before failing, as a local
run would leave them). `write_outputs` (driver): puts them into the run folder, each atomically
(gentrend.core.files), refusing to overwrite a file that is already there: one owner per artefact. One exception,
SHARED_RECORDS: the per-run record of a device's copy test (gentrend.profiling.results.bandwidth_path), which a
profiling job reuses when present and writes when not. Jobs that ran side by side each measured their own (their
rows carry it); the run folder keeps the first one back.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from fnmatch import fnmatchcase
from pathlib import Path

from gentrend.core import paths
from gentrend.core.errors import GentrendError, NotebookError
from gentrend.core.files import write_bytes
from gentrend.core.markers import VARIABLES as MARKER_VARIABLES
from gentrend.pipeline.notebooks import NotebookJob, environment_variables, execute, kernel_environment
from gentrend.report.publish import PublishError

SHARED_RECORDS = ("results/bandwidth_*.json",)
JOB_VARIABLES = ("OMP_NUM_THREADS", *MARKER_VARIABLES)


def folder_files(root: Path, patterns: tuple[str, ...] = ("**/*",)) -> dict[str, bytes]:
    """{relative path: content} of the files under `root` matching `patterns` (partial files left out)."""
    found = {f for pattern in patterns for f in root.glob(pattern) if f.is_file() and ".partial" not in f.name}
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(found)}


def data_files() -> dict[str, bytes]:
    """The data folder, as the driver sees it."""
    return folder_files(paths.data_dir())


def job_inputs(job: NotebookJob, run_dir: Path) -> dict[str, bytes]:
    """What a job reads from the run folder, and its notebook (under notebooks/)."""
    return {
        **{f"run/{name}": content for name, content in folder_files(run_dir, job.reads).items()},
        f"notebooks/{job.notebook}": (paths.NOTEBOOKS_DIR / job.notebook).read_bytes(),
    }


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def driver_variables() -> dict[str, str | None]:
    """The driver's values (None: unset) of the variables a job takes with it (JOB_VARIABLES)."""
    return {name: os.environ.get(name) for name in JOB_VARIABLES}


def run_job(job: NotebookJob, inputs: dict[str, bytes], data: dict[str, bytes], variables: dict) -> dict:
    """On a worker: run one job in a temporary folder; {"files": {run file: bytes}, "error": (problem, fix) or None,
    "host": host name, "seconds": how long the notebook ran, "folder": the temporary run folder (for rewriting
    paths in messages)}.

    variables: `driver_variables()`, set while the job runs. OMP_NUM_THREADS: Ray sets it to the task's CPU count
    (1 for a 1-CPU task); the kernel gets the driver's value instead, so a job runs with the thread count it would
    have run with locally. The test hook's variables (gentrend.core.markers) hold a job as they would locally."""
    with tempfile.TemporaryDirectory(prefix="gentrend-job-") as tmp:
        root = Path(tmp)
        _write_tree(root / "data", data)
        _write_tree(root, inputs)
        run = root / "run"
        run.mkdir(exist_ok=True)
        before = folder_files(run)
        error, start = None, time.perf_counter()
        with environment_variables({**variables, "GENTREND_DATA": str(root / "data")}), kernel_environment():
            try:
                execute(job, run, notebooks_dir=root / "notebooks")
            except GentrendError as e:
                error = (e.problem, e.fix)
        after = {name: content for name, content in folder_files(run).items() if before.get(name) != content}
        partial = {str(f.relative_to(run)): f.read_bytes() for f in (run / "notebooks").glob("*.partial.ipynb")}
        return {
            "files": {**after, **partial},
            "error": error,
            "host": socket.gethostname(),
            "seconds": round(time.perf_counter() - start, 2),
            "folder": str(run),
        }


def write_outputs(run_dir: Path, files: dict[str, bytes], producer: str) -> None:
    """Write a job's files into the run folder, each atomically; a file already there is never overwritten (a shared
    record already there is kept, see the module docstring)."""
    files = {
        name: content
        for name, content in files.items()
        if not ((run_dir / name).exists() and any(fnmatchcase(name, p) for p in SHARED_RECORDS))
    }
    taken = sorted(name for name in files if (run_dir / name).exists())
    if taken:
        raise PublishError(
            f"{producer}: {', '.join(taken)} already exist(s) in run {run_dir.name}",
            "each artefact has one owner: give the table or chart a title that names what differs",
        )
    for name, content in files.items():
        write_bytes(run_dir / name, content)


def apply_result(run_dir: Path, job: NotebookJob, result: dict) -> None:
    """The driver's half of a remote job: its files into the run folder, then its error (with the worker's paths
    replaced by the run folder's) raised as it would have been locally."""
    write_outputs(run_dir, result["files"], job.output_name)
    if result["error"]:
        problem, fix = (text.replace(result["folder"], str(run_dir)) for text in result["error"])
        raise NotebookError(f"{problem} (on {result['host']})", fix)
