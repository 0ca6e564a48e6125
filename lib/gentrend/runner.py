"""Execute the suite's notebooks with papermill into reports/<run-id>/ and render the trend report.

Flow (one way: producers first, the report last, which only reads what they wrote):
    01_generation   once per generation
    02_density      once per comparison track (reference: the oldest generation scored on it)
    03_per_size     once per comparison track
    04_profile      once per profiled model, each in a fresh kernel (memory never leaks between models)
    05_speed_memory the run's measurements together, the memory model, what fits where
    07_claims       the claims ledger
    08_trend_report lays the artefacts out; rendered to HTML and PDF

Before the first notebook starts, every value is checked and resolved once (`prepare`): data files, device,
precision, profiling grid and backend, models, weights mode and whether the weights can be reached. Each
notebook is written under its final name only when it finished; a failing one stops the run with the
notebook, cell and error named, and its partial copy is kept as <name>.partial.ipynb.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from . import paths
from .catalogue import Catalogue, Model, load_catalogue
from .errors import GentrendError, NotebookError, RunLockedError, SettingError
from .vocab import BACKENDS, precision_name, resolve_precision

GENERATION_NB = "01_generation.ipynb"
DENSITY_NB = "02_density.ipynb"
PER_SIZE_NB = "03_per_size.ipynb"
PROFILE_NB = "04_profile.ipynb"
SPEED_MEMORY_NB = "05_speed_memory.ipynb"
CLAIMS_NB = "07_claims.ipynb"
TREND_REPORT_NB = "08_trend_report.ipynb"

REPORT_MODES = ("synthetic", "hub")
RESERVED_RUN_IDS = {"latest", "cache", "index", "interactive"}
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class NotebookJob:
    notebook: str
    parameters: dict = field(default_factory=dict)
    label: str = ""

    @property
    def output_name(self) -> str:
        stem = Path(self.notebook).stem
        return f"{stem}-{self.label}.ipynb" if self.label else f"{stem}.ipynb"


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked `gentrend report` for. Empty values mean the defaults."""

    profile_models: tuple[str, ...] | None = None  # None: the default choice; (): no profiling
    mode: str = "synthetic"
    device: str = "auto"
    dtype: str = "auto"
    backend: str = ""
    batch_sizes: tuple[int, ...] = ()
    prompt_lengths: tuple[int, ...] = ()
    new_tokens: int = 0
    tiny: bool = False
    force: bool = False

    def __post_init__(self):
        """The checks that need no model code run here, so a typo fails in about a second."""
        if self.mode not in REPORT_MODES:
            raise SettingError(f"unknown weights mode {self.mode!r} for a report", f"use one of: {', '.join(REPORT_MODES)}")
        if self.dtype != "auto":
            precision_name(self.dtype)
        if self.backend and self.backend not in BACKENDS:
            raise SettingError(f"unknown backend {self.backend!r}", f"use one of: {', '.join(BACKENDS)}")


def declared_parameters(notebook: Path) -> dict:
    """The names (with type and default) declared in a notebook's cell tagged `parameters`."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict) -> None:
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{notebook.name} has no parameter(s) {', '.join(unknown)}",
            f"use only the parameters it declares: {', '.join(sorted(declared)) or '(none)'}",
        )


def default_profile_models(catalogue: Catalogue, device: str = "auto") -> list[Model]:
    """The models a plain report profiles.

    CPU: the smallest model of each generation (one per generation, minutes on two cores).
    CUDA: the largest model of each generation (Qwen2.5-7B, Qwen3-8B, Qwen3.5-9B: the like-for-like comparison
    between generations at the size people run on one GPU, where decode is bandwidth-bound and the roofline
    says how close each gets) and the smallest of the newest generation (Qwen3.5-0.8B: the small-model regime,
    where launch overhead and the linear-attention kernel path dominate; the fastest figure of the speed claims).
    About four compiles plus the int8/int4 rows of the newest generation's models: a quarter of an hour."""
    from .devices import resolve_device

    if resolve_device(device).type != "cuda":
        return catalogue.smallest_per_generation()
    largest = [max(catalogue.in_generation(g), key=lambda m: m.params.total) for g in catalogue.generations]
    return largest + [min(catalogue.in_generation(catalogue.generations[-1]), key=lambda m: m.params.total)]


def profile_parameters(request: ReportRequest, catalogue: Catalogue | None = None) -> dict:
    """The profiling notebook's parameters, every value validated and resolved (device, precision, grid), and
    which of the profiled models also get int8/int4 rows (on CUDA, as many as the time budget allows)."""
    from .devices import resolve_device
    from .profiling import defaults_for, quantized_models

    catalogue = catalogue or load_catalogue()
    device = resolve_device(request.device)
    precision = resolve_precision(request.dtype, device.type)
    settings = defaults_for(str(device), batch_sizes=request.batch_sizes, prompt_lengths=request.prompt_lengths,
                            new_tokens=request.new_tokens, backend=request.backend, dtype=precision)
    models = ([catalogue.get(m) for m in request.profile_models] if request.profile_models is not None
              else default_profile_models(catalogue, str(device)))
    quantized = quantized_models(models, settings, catalogue, tiny=request.tiny) if precision in ("bf16", "fp16") else []
    return {"mode": request.mode, "device": str(device), "dtype": precision, "backend": settings.backend,
            "batch_sizes": list(settings.batch_sizes), "prompt_lengths": list(settings.prompt_lengths),
            "new_tokens": settings.new_tokens, "tiny": request.tiny, "force": request.force,
            "quantized_models": quantized}


def plan(catalogue: Catalogue, scores, request: ReportRequest = ReportRequest()) -> list[NotebookJob]:
    """The notebooks of one report, with their parameters; validates the request first (see the module docstring)."""
    from .loading import check_weights_reachable
    from .selection import default_references

    if request.profile_models is None:
        models = default_profile_models(catalogue, request.device)
    else:
        models = [catalogue.get(m) for m in request.profile_models]
    profile = profile_parameters(request, catalogue) if models else {}
    if models and not request.tiny:
        for m in models:
            check_weights_reachable(m, request.mode)
    references = default_references(scores)
    jobs = [NotebookJob(GENERATION_NB, {"generation": g}, f"qwen{g}") for g in catalogue.generations]
    for nb in (DENSITY_NB, PER_SIZE_NB):
        jobs += [NotebookJob(nb, {"track": track, "reference_generation": ref}, track) for track, ref in references.items()]
    jobs += [NotebookJob(PROFILE_NB, {"model": m.id, **profile}, m.id) for m in models]
    profiled = [m.id for m in models]
    jobs += [NotebookJob(SPEED_MEMORY_NB, {"profiled_models": profiled}),
             NotebookJob(CLAIMS_NB, {"profiled_models": profiled}),
             NotebookJob(TREND_REPORT_NB)]
    for job in jobs:
        check_parameters(paths.NOTEBOOKS_DIR / job.notebook, {**job.parameters, "output_dir": ""})
    return jobs


def new_run_id() -> str:
    """A timestamp and a random suffix: unique even for two runs started in the same second."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id) or ".." in run_id or run_id.lower() in RESERVED_RUN_IDS:
        raise SettingError(
            f"invalid run id {run_id!r}",
            "use letters, digits, '.', '_' and '-' (up to 100, no path separators, no '..'), and not one of "
            + ", ".join(sorted(RESERVED_RUN_IDS)),
        )
    return run_id


def _fix_of(evalue: str) -> tuple[str, str]:
    """Split a GentrendError's text (problem + 'How to fix: ...') raised inside a notebook."""
    problem, _, fix = evalue.partition("\n  How to fix: ")
    return problem, fix


def execute(job: NotebookJob, out_dir: Path, notebooks_dir: Path = paths.NOTEBOOKS_DIR) -> Path:
    """Run one notebook into out_dir/notebooks/<output name>, written there only when it finished.
    Parameters always include output_dir=out_dir."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    source = notebooks_dir / job.notebook
    if not source.exists():
        raise NotebookError(f"notebook not found: {source}", "run from a gentrend checkout (notebooks/ beside lib/)")
    parameters = {**job.parameters, "output_dir": str(out_dir.resolve())}
    check_parameters(source, parameters)
    target = out_dir / "notebooks" / job.output_name
    partial = target.with_suffix(".partial.ipynb")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(source), str(partial), parameters=parameters, kernel_name="python3",
            cwd=str(notebooks_dir), progress_bar=False,
            # the kernel's own start-up chatter (e.g. its TCP-transport notice) would drown the progress bar
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
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


def point_latest(run_dir: Path) -> None:
    """reports/latest -> the newest complete run (a relative symlink, replaced atomically)."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, latest)


@contextlib.contextmanager
def reports_lock(reports: Path):
    """One run at a time per reports folder; a second one stops at once with RunLockedError."""
    try:
        reports.mkdir(parents=True, exist_ok=True)
        lock = FileLock(reports / ".gentrend.lock")
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLockedError(f"another gentrend run holds the lock on {reports}",
                             "wait for it to finish (or point GENTREND_REPORTS elsewhere)") from None
    except OSError as e:
        raise GentrendError(f"cannot use the reports folder {reports}: {os.strerror(e.errno) if e.errno else e}",
                            "make it writable, or set GENTREND_REPORTS to a writable folder") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _kernel_environment():
    """Notebook kernels inherit this process's environment: make them use the same data and reports folders."""
    saved = {k: os.environ.get(k) for k in paths.environment()}
    os.environ.update(paths.environment())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def publish_inputs(run_dir: Path, catalogue: Catalogue, scores) -> None:
    """What went into the run, published by the runner itself: the environment, the models and the sources."""
    from .environment import run_metadata
    from .publish import Publisher

    out = Publisher(run_dir, "run")
    out.table(run_metadata(run_dir.name), "environment", "Run", source="this run")
    models = catalogue.to_frame()[["model", "generation", "release_date", "params_total", "params_non_embedding",
                                   "params_vision", "context_length", "license"]]
    out.table(models.assign(release_date=models["release_date"].dt.date), "models", "Models",
              source="data/models.yaml, official configs and model cards")
    sources = scores.groupby("source_url").agg(rows=("score", "size"), models=("model", "nunique")).reset_index()
    out.table(sources, "sources", "Sources of published scores", source="data/published_scores.csv")


def run_report(
    run_id: str | None = None,
    request: ReportRequest = ReportRequest(),
    *,
    reports_dir: Path | None = None,
    pdf: bool = True,
) -> Path:
    """Validate, execute the plan into <reports>/<run-id>/, render trend_report.html (+ .pdf), point latest."""
    run_id = check_run_id(run_id) if run_id else new_run_id()
    from .claims import load_claims
    from .profiling import estimate_text
    from .render import render_report
    from .scores import load_scores

    catalogue = load_catalogue()
    scores = load_scores(catalogue=catalogue)
    load_claims(catalogue=catalogue)
    jobs = plan(catalogue, scores, request)
    print(estimate_text([j.parameters for j in jobs if j.notebook == PROFILE_NB], catalogue))
    reports = Path(reports_dir or paths.reports_dir())
    with reports_lock(reports), _kernel_environment():
        run_dir = reports / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        publish_inputs(run_dir, catalogue, scores)
        executed = None
        with tqdm(jobs, desc="gentrend report", unit="notebook") as bar:
            for job in bar:
                bar.set_postfix_str(job.output_name)
                executed = execute(job, run_dir)
        render_report(executed, run_dir / "trend_report.html", pdf=run_dir / "trend_report.pdf" if pdf else None)
        point_latest(run_dir)
    return run_dir
