"""Execute the suite's notebooks with papermill into reports/<run-id>/ and render the trend report.

The plan: one generation notebook per generation, the density and per-size notebooks, one profiling notebook
per profiled model (each in its own kernel, so memory never leaks between models), then the trend report,
which reads what the others wrote into the run folder. Parameters are checked against each notebook's
parameters cell before anything runs (papermill itself only warns); a failing notebook stops the run with
the notebook, cell and error named, and its partial executed copy is kept.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from . import paths
from .catalogue import Catalogue, load_catalogue
from .claims import load_claims
from .errors import NotebookError

GENERATION_NB = "01_generation.ipynb"
DENSITY_NB = "02_density.ipynb"
PER_SIZE_NB = "03_per_size.ipynb"
PROFILE_NB = "04_profile.ipynb"
TREND_REPORT_NB = "05_trend_report.ipynb"


@dataclass(frozen=True)
class NotebookJob:
    notebook: str
    parameters: dict = field(default_factory=dict)
    label: str = ""

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


def plan(
    catalogue: Catalogue,
    profile_models: list[str] | None = None,
    profile: dict | None = None,
) -> list[NotebookJob]:
    """The default run: everything from published data, plus profiling of `profile_models`
    (default: the smallest model of each generation); `profile` holds extra profiling-notebook parameters."""
    profile = profile or {}
    models = [catalogue.get(m) for m in profile_models] if profile_models is not None else catalogue.smallest_per_generation()
    jobs = [NotebookJob(GENERATION_NB, {"generation": g}, f"qwen{g}") for g in catalogue.generations]
    jobs += [NotebookJob(DENSITY_NB), NotebookJob(PER_SIZE_NB)]
    jobs += [NotebookJob(PROFILE_NB, {"model": m.id, **profile}, m.id) for m in models]
    jobs.append(NotebookJob(TREND_REPORT_NB, {"profiled_models": [m.id for m in models]}))
    return jobs


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def execute(job: NotebookJob, out_dir: Path, notebooks_dir: Path = paths.NOTEBOOKS_DIR) -> Path:
    """Run one notebook into out_dir/notebooks/. Parameters always include output_dir=out_dir."""
    source = notebooks_dir / job.notebook
    if not source.exists():
        raise NotebookError(f"notebook not found: {source}", "run from a gentrend checkout (notebooks/ beside lib/)")
    parameters = {**job.parameters, "output_dir": str(out_dir.resolve())}
    check_parameters(source, parameters)
    target = out_dir / "notebooks" / job.output_name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(source), str(target), parameters=parameters, kernel_name="python3",
            cwd=str(notebooks_dir), progress_bar=False,
            # the kernel's own start-up chatter (e.g. its TCP-transport notice) would drown the progress bar
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as e:
        raise NotebookError(
            f"{job.output_name} failed in cell {e.exec_count} (cell index {e.cell_index}): {e.ename}: {e.evalue}",
            f"open the partially executed notebook {target} to see the full traceback",
        ) from None
    except (DeadKernelError, CellTimeoutError) as e:
        raise NotebookError(
            f"{job.output_name}: the kernel died or hung ({type(e).__name__})",
            "most often out of memory: profile fewer or smaller models, or smaller batch_sizes / prompt_lengths; "
            f"the partially executed notebook is {target}",
        ) from None
    return target


def point_latest(run_dir: Path) -> None:
    """reports/latest -> the newest run (a relative symlink, replaced atomically)."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, latest)


def run_report(
    run_id: str | None = None,
    *,
    profile_models: list[str] | None = None,
    profile: dict | None = None,
    reports_dir: Path | None = None,
    pdf: bool = True,
    catalogue: Catalogue | None = None,
) -> Path:
    """Execute the whole plan into <reports>/<run-id>/, render trend_report.html (+ .pdf), point latest."""
    from .render import render_report

    catalogue = catalogue or load_catalogue()
    run_dir = Path(reports_dir or paths.REPORTS_DIR) / (run_id or new_run_id())
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs = plan(catalogue, profile_models, profile)
    load_claims()  # fail fast on bad data or parameters, before hours of work
    for job in jobs:
        check_parameters(paths.NOTEBOOKS_DIR / job.notebook, {**job.parameters, "output_dir": ""})
    executed = None
    with tqdm(jobs, desc="gentrend report", unit="notebook") as bar:
        for job in bar:
            bar.set_postfix_str(job.output_name)
            executed = execute(job, run_dir)
    render_report(executed, run_dir / "trend_report.html", pdf=run_dir / "trend_report.pdf" if pdf else None)
    point_latest(run_dir)
    return run_dir
