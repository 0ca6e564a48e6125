"""Run one notebook with papermill: its parameters checked against the cell tagged `parameters`, the kernels
pointed at this process's data and reports folders, the executed copy written under its final name only when it
finished (a failing one is kept as <name>.partial.ipynb and named in the error).

Signals. papermill drives the kernel from an asyncio loop; a KeyboardInterrupt raised inside that loop (Ctrl-C
or SIGTERM while a kernel starts) leaves its start-up task pending, which fails once the kernel is shut down and
is reported by asyncio as "Task exception was never retrieved ... DeadKernelError". So papermill runs in a
worker thread: a signal reaches the main thread only, which stops the kernel (a child process in its own
session), lets the worker finish its own awaits, and raises KeyboardInterrupt with nothing pending; the loggers
that would report the stopped kernel's death ("Kernel died before replying to kernel_info") are silenced first.
A test can hold the run just before a notebook starts (gentrend.core.markers, moment `notebook:<output name>`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import papermill
import psutil
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from gentrend.core import paths
from gentrend.core.errors import NotebookError
from gentrend.core.markers import hold


@dataclass(frozen=True)
class NotebookJob:
    notebook: str
    parameters: dict = field(default_factory=dict)
    label: str = ""
    reads: tuple[str, ...] = ()  # files of the run (glob patterns) the notebook reads from earlier notebooks
    data: tuple[str, ...] = ("*", "configs/*")  # files of the data folder (glob patterns) it depends on
    measures: bool = False  # its results depend on the machine (profiling)

    @property
    def output_name(self) -> str:
        stem = Path(self.notebook).stem
        return f"{stem}-{self.label}.ipynb" if self.label else f"{stem}.ipynb"


def declared_parameters(notebook: Path) -> dict:
    """The names (with type and default) declared in a notebook's cell tagged `parameters`."""
    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict) -> None:
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{notebook.name} has no parameter(s) {', '.join(unknown)}",
            f"use only the parameters it declares: {', '.join(sorted(declared)) or '(none)'}",
        )


def _fix_of(evalue: str) -> tuple[str, str]:
    """Split a GentrendError's text (problem + 'How to fix: ...') raised inside a notebook."""
    problem, _, fix = evalue.partition("\n  How to fix: ")
    return problem, fix


def execute(job: NotebookJob, out_dir: Path, notebooks_dir: Path = paths.NOTEBOOKS_DIR) -> Path:
    """Run one notebook into out_dir/notebooks/<output name>, written there only when it finished.
    Parameters always include output_dir=out_dir."""
    source = notebooks_dir / job.notebook
    if not source.exists():
        raise NotebookError(f"notebook not found: {source}", "run from a gentrend checkout (notebooks/ beside lib/)")
    parameters = {**job.parameters, "output_dir": str(out_dir.resolve())}
    check_parameters(source, parameters)
    target = out_dir / "notebooks" / job.output_name
    partial = target.with_suffix(".partial.ipynb")
    partial.parent.mkdir(parents=True, exist_ok=True)
    hold(f"notebook:{job.output_name}")
    try:
        in_worker(
            lambda: papermill.execute_notebook(
                str(source),
                str(partial),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(notebooks_dir),
                progress_bar=False,
                # the kernel's own chatter (its start-up notice; on Ctrl-C, a ZMQ traceback from a kernel shut down
                # mid-cell) would reach the user's terminal
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        )
    except PapermillExecutionError as e:
        problem, fix = _fix_of(e.evalue)
        raise NotebookError(
            f"{job.output_name} failed in cell {e.exec_count} (cell index {e.cell_index}): {e.ename}: {problem}",
            (fix + "; " if fix else "") + f"the partially executed notebook is {partial}",
        ) from None
    except (DeadKernelError, CellTimeoutError) as e:
        raise NotebookError(
            f"{job.output_name}: the kernel died or hung ({type(e).__name__})",
            "most often out of memory: profile fewer or smaller models, or smaller batch_sizes / prompt_lengths; "
            f"the partially executed notebook is {partial}",
        ) from None
    os.replace(partial, target)
    return target


QUIET_ON_INTERRUPT = ("papermill", "traitlets", "nbclient", "asyncio")


def stop_children(grace_s: float = 10) -> None:
    """Terminate this process's children (notebook kernels and what they started), killing what outlives grace_s."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def in_worker(fn):
    """fn() in a worker thread (see the module docstring); a KeyboardInterrupt meanwhile stops the kernels, waits
    for the worker and is raised again."""
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = fn()
        except BaseException as e:  # handed to the main thread below
            outcome["error"] = e

    worker = threading.Thread(target=work, name="gentrend-notebook", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        for name in QUIET_ON_INTERRUPT:  # the kernel is stopped on purpose: its death is no news to report
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        stop_children()
        worker.join(60)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _set_variables(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def environment_variables(values: dict[str, str | None]):
    """These environment variables (None: unset) for the block, then the values they had."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_variables(values)
        yield
    finally:
        _set_variables(saved)


def kernel_environment():
    """Notebook kernels inherit this process's environment: make them use the same data and reports folders."""
    return environment_variables(paths.environment())
