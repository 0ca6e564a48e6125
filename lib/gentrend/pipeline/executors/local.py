"""The local executor (the default): every job runs here, one at a time, in the plan's order, straight into the
run folder: what `gentrend report` always did."""

from __future__ import annotations

from pathlib import Path

from gentrend.core.environment import environment, fingerprint
from gentrend.pipeline.notebooks import NotebookJob, execute


class LocalExecutor:
    """Runs a submitted job when asked for finished ones: the earliest planned first."""

    def __init__(self):
        self._queue: dict[int, NotebookJob] = {}
        self._run_dir: Path | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._queue.clear()

    def start(self, run_dir: Path, log) -> None:
        self._run_dir = run_dir

    @property
    def running(self) -> int:
        return 0

    def machine(self, job: NotebookJob) -> str:
        """The fingerprint of the machine a measuring job runs on: this one."""
        return fingerprint(environment(job.parameters["device"]))

    def submit(self, index: int, job: NotebookJob) -> None:
        self._queue[index] = job

    def pending(self) -> int:
        return len(self._queue)

    def finished(self) -> list[tuple[int, object]]:
        """[(index, action)]: the action executes the job into the run folder."""
        index = min(self._queue)
        job = self._queue.pop(index)
        return [(index, lambda: execute(job, self._run_dir))]
