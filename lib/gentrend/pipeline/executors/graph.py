"""Which notebook jobs of a plan wait for which: job B waits for job A (planned before it) when a file B reads
can be one A produces. What a job produces follows from its role:

* every notebook: its executed copy notebooks/<output name> and what it publishes (artefacts/*.json, tables/*.csv,
  figures/*.png: gentrend.report.publish);
* 04_profile also results/profile_<model>.csv, 06_evaluate results/eval_<model>-<label>.csv.

A read pattern and a produced pattern overlap when either matches the other (fnmatch), e.g. results/profile_*.csv
and results/profile_qwen3-0.6b.csv. So 05 and 07 wait for the profiling jobs, the measured 02/03 for the
evaluation jobs, 08 (which reads everything published) for all; 01-04 and 06 wait for nothing. The plan's own
order is one valid order (producers first), which the local executor keeps.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gentrend.pipeline.notebooks import NotebookJob
from gentrend.pipeline.plan import EVALUATE_NB, PROFILE_NB, PUBLISHED


def produces(job: NotebookJob) -> tuple[str, ...]:
    """The run files (glob patterns) a job writes."""
    own = {PROFILE_NB: (f"results/profile_{job.label}.csv",), EVALUATE_NB: (f"results/eval_{job.label}.csv",)}
    return (f"notebooks/{job.output_name}", *PUBLISHED, *own.get(job.notebook, ()))


def overlap(read: str, written: str) -> bool:
    return fnmatchcase(written, read) or fnmatchcase(read, written)


def dependencies(jobs: list[NotebookJob]) -> list[set[int]]:
    """For each job (by index), the indices of the earlier jobs it waits for."""
    written = [produces(job) for job in jobs]
    return [
        {a for a in range(b) if any(overlap(r, w) for r in jobs[b].reads for w in written[a])} for b in range(len(jobs))
    ]
