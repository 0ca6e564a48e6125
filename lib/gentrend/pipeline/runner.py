"""Execute the suite's notebooks with papermill into reports/<run-id>/ and render the trend report.

Flow (one way: producers first, the report last, which only reads what they wrote):
    01_generation   once per generation
    02_density      once per comparison track (reference: the oldest generation scored on it)
    03_per_size     once per comparison track
    04_profile      once per profiled model, each in a fresh kernel (memory never leaks between models)
    05_speed_memory the run's measurements together, the memory model, what fits where
    06_evaluate     once per evaluated model, when asked (lm-eval); then 02 and 03 once more over the
                    measured scores ("measured here"), where enough generations were evaluated
    07_claims       the claims ledger
    08_trend_report lays the artefacts out; rendered to HTML and PDF

Before the first notebook starts, every value is checked and resolved once (`prepare`): data files, device,
precision, profiling grid and backend, models, weights mode and whether the weights can be reached. Each
notebook is written under its final name only when it finished; a failing one stops the run with the
notebook, cell and error named, and its partial copy is kept as <name>.partial.ipynb.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from gentrend.core import paths
from gentrend.core.errors import GentrendError, NotebookError, RunLockedError, SettingError
from gentrend.core.files import OutputError, output_error
from gentrend.core.vocab import BACKENDS, TRACKS, precision_name, resolve_precision
from gentrend.models.catalogue import Catalogue, Model, load_catalogue
from gentrend.pipeline.manifest import Manifest, code_digest, digest, file_digest
from gentrend.pipeline.reuse import link_files, produced, reusable, snapshot, upstream

GENERATION_NB = "01_generation.ipynb"
DENSITY_NB = "02_density.ipynb"
PER_SIZE_NB = "03_per_size.ipynb"
PROFILE_NB = "04_profile.ipynb"
SPEED_MEMORY_NB = "05_speed_memory.ipynb"
EVALUATE_NB = "06_evaluate.ipynb"
CLAIMS_NB = "07_claims.ipynb"
TREND_REPORT_NB = "08_trend_report.ipynb"

REPORT_MODES = ("synthetic", "hub")
PUBLISHED = ("artefacts/*.json", "tables/*.csv", "figures/*.png")  # what the trend report lays out
SCORES_DATA = ("models.yaml", "configs/*", "published_scores.csv", "benchmarks.yaml")  # what 01-03 read
MACHINE_DATA = ("models.yaml", "configs/*", "gpus.yaml")  # what profiling and the memory model read
EVALUATION_DATA = ("models.yaml", "configs/*", "evaluation.yaml", "tasks/*")  # what lm-eval runs read
MEASURED_DATA = SCORES_DATA + ("evaluation.yaml",)  # density and per-size over measured scores
CHANGE_READS = ("tables/models.csv", "inputs/published_scores.csv", "results/profile_*.csv", "tables/claims_ledger.csv")
INPUT_FILES = ("models.yaml", "published_scores.csv", "benchmarks.yaml", "claims.yaml", "gpus.yaml")
LIBRARY_VERSIONS = (
    "torch",
    "transformers",
    "accelerate",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "weasyprint",
    "bleach",
)
EXIT_PARTIAL, EXIT_FAILED = 4, 5
RESERVED_RUN_IDS = {"latest", "cache", "index", "interactive"}
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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


@dataclass(frozen=True)
class EvalRequest:
    """Same-harness evaluation in a report: lm-eval `tasks` on `models` (default: every catalogue model with the
    checkpoint), weights from the hub or from `local_dir`/<model id>/ (mode "local")."""

    tasks: tuple[str, ...]
    models: tuple[str, ...] | None = None
    mode: str = "hub"
    local_dir: str = ""
    checkpoint: str = "post_trained"
    chat_template: bool = False
    thinking: bool | None = None
    num_fewshot: int | None = None
    limit: int | float | None = None
    task_dir: str = ""

    def __post_init__(self):
        if not self.tasks:
            raise SettingError(
                "--evaluate needs at least one task", "name lm-eval tasks or user tasks, e.g. --evaluate mmlu"
            )
        if self.mode not in ("hub", "local"):
            raise SettingError(f"unknown evaluation weights mode {self.mode!r}", "use hub, or local with --eval-dir")
        if self.mode == "local" and not self.local_dir:
            raise SettingError(
                "--eval-mode local needs --eval-dir", "pass a folder holding one checkpoint folder per model id"
            )


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
    evaluation: EvalRequest | None = None

    def __post_init__(self):
        """The checks that need no model code run here, so a typo fails in about a second."""
        if self.mode not in REPORT_MODES:
            raise SettingError(
                f"unknown weights mode {self.mode!r} for a report", f"use one of: {', '.join(REPORT_MODES)}"
            )
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
    from gentrend.core.devices import resolve_device

    if resolve_device(device).type != "cuda":
        return catalogue.smallest_per_generation()
    largest = [max(catalogue.in_generation(g), key=lambda m: m.params.total) for g in catalogue.generations]
    return largest + [min(catalogue.in_generation(catalogue.generations[-1]), key=lambda m: m.params.total)]


def profile_parameters(request: ReportRequest, catalogue: Catalogue | None = None) -> dict:
    """The profiling notebook's parameters, every value validated and resolved (device, precision, grid), and
    which of the profiled models also get int8/int4 rows (on CUDA, as many as the time budget allows)."""
    from gentrend.core.devices import resolve_device
    from gentrend.profiling import defaults_for, quantized_models

    catalogue = catalogue or load_catalogue()
    device = resolve_device(request.device)
    precision = resolve_precision(request.dtype, device.type)
    settings = defaults_for(
        str(device),
        batch_sizes=request.batch_sizes,
        prompt_lengths=request.prompt_lengths,
        new_tokens=request.new_tokens,
        backend=request.backend,
        dtype=precision,
    )
    models = (
        [catalogue.get(m) for m in request.profile_models]
        if request.profile_models is not None
        else default_profile_models(catalogue, str(device))
    )
    quantized = (
        quantized_models(models, settings, catalogue, tiny=request.tiny) if precision in ("bf16", "fp16") else []
    )
    return {
        "mode": request.mode,
        "device": str(device),
        "dtype": precision,
        "backend": settings.backend,
        "batch_sizes": list(settings.batch_sizes),
        "prompt_lengths": list(settings.prompt_lengths),
        "new_tokens": settings.new_tokens,
        "tiny": request.tiny,
        "force": request.force,
        "quantized_models": quantized,
    }


def plan(catalogue: Catalogue, scores, request: ReportRequest = ReportRequest()) -> list[NotebookJob]:
    """The notebooks of one report, with their parameters; validates the request first (see the module docstring)."""
    from gentrend.analysis.selection import default_references
    from gentrend.models.loading import check_weights_reachable

    if request.profile_models is None:
        models = default_profile_models(catalogue, request.device)
    else:
        models = [catalogue.get(m) for m in request.profile_models]
    profile = profile_parameters(request, catalogue) if models else {}
    if models and not request.tiny:
        for m in models:
            check_weights_reachable(m, request.mode)
    references = default_references(scores)
    jobs = [NotebookJob(GENERATION_NB, {"generation": g}, f"qwen{g}", data=SCORES_DATA) for g in catalogue.generations]
    for nb in (DENSITY_NB, PER_SIZE_NB):
        jobs += [
            NotebookJob(nb, {"track": track, "reference_generation": ref}, track, data=SCORES_DATA)
            for track, ref in references.items()
        ]
    jobs += [
        NotebookJob(PROFILE_NB, {"model": m.id, **profile}, m.id, data=MACHINE_DATA, measures=True) for m in models
    ]
    if request.evaluation:
        jobs += evaluation_jobs(catalogue, request)
    profiled = [m.id for m in models]
    results = tuple(f"results/profile_{m}.csv" for m in profiled)
    jobs += [
        NotebookJob(SPEED_MEMORY_NB, {"profiled_models": profiled}, reads=results, data=MACHINE_DATA),
        NotebookJob(CLAIMS_NB, {"profiled_models": profiled}, reads=results),
        NotebookJob(TREND_REPORT_NB, reads=PUBLISHED),
    ]
    for job in jobs:
        check_parameters(paths.NOTEBOOKS_DIR / job.notebook, {**job.parameters, "output_dir": ""})
    return jobs


def evaluation_jobs(catalogue: Catalogue, request: ReportRequest) -> list[NotebookJob]:
    """The evaluation notebooks (one per model), then density and per-size over the measured scores where at least
    two generations (the reference with two sizes) were evaluated. Settings, tasks and weights are checked here."""
    from pathlib import Path

    from gentrend.core.devices import resolve_device
    from gentrend.evaluation import EvalSettings, resolve_tasks, run_label, track_of
    from gentrend.evaluation.model import check_checkpoint_folder
    from gentrend.models.loading import check_weights_reachable, repo_id

    ev = request.evaluation
    device = resolve_device(request.device)
    EvalSettings(
        tasks=ev.tasks,
        task_dir=ev.task_dir,
        num_fewshot=ev.num_fewshot,
        limit=ev.limit,
        chat_template=ev.chat_template,
        thinking=ev.thinking,
        dtype=request.dtype,
        device=str(device),
    )
    resolve_tasks(ev.tasks, ev.task_dir)
    models = (
        [catalogue.get(m) for m in ev.models]
        if ev.models
        else [m for m in catalogue if getattr(m.repos, ev.checkpoint, None)]
    )
    for m in models:
        repo_id(m, ev.checkpoint)  # the catalogue has the checkpoint
        if ev.mode == "local":
            check_checkpoint_folder(Path(ev.local_dir) / m.id)
        else:
            check_weights_reachable(m, "hub", checkpoint=ev.checkpoint)
    label = run_label(ev.checkpoint, ev.chat_template, ev.thinking)
    common = {
        "mode": ev.mode,
        "checkpoint": ev.checkpoint,
        "tasks": list(ev.tasks),
        "task_dir": ev.task_dir,
        "num_fewshot": ev.num_fewshot,
        "limit": ev.limit,
        "chat_template": ev.chat_template,
        "thinking": ev.thinking,
        "device": str(device),
        "dtype": request.dtype,
        "force": request.force,
    }
    jobs = [
        NotebookJob(
            EVALUATE_NB,
            {"model": m.id, "path": str(Path(ev.local_dir) / m.id) if ev.mode == "local" else "", **common},
            f"{m.id}-{label}",
            data=EVALUATION_DATA,
            measures=True,
        )
        for m in models
    ]
    per_generation = {}
    for m in models:
        per_generation.setdefault(m.generation, []).append(m)
    track = track_of(ev.checkpoint, ev.chat_template, ev.thinking)
    if track in TRACKS and len(per_generation) >= 2 and any(len(ms) >= 2 for ms in per_generation.values()):
        reads = ("results/eval_*.csv",)
        jobs += [
            NotebookJob(
                nb, {"track": track, "scores_source": "measured"}, f"measured-{track}", reads=reads, data=MEASURED_DATA
            )
            for nb in (DENSITY_NB, PER_SIZE_NB)
        ]
    return jobs


def new_run_id() -> str:
    """A timestamp and a random suffix: unique even for two runs started in the same second."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(6)


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
        raise RunLockedError(
            f"another gentrend run holds the lock on {reports}",
            "wait for it to finish (or point GENTREND_REPORTS elsewhere)",
        ) from None
    except OSError as e:
        raise GentrendError(
            f"cannot use the reports folder {reports}: {os.strerror(e.errno) if e.errno else e}",
            "make it writable, or set GENTREND_REPORTS to a writable folder",
        ) from None
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
    """What went into the run, published by the runner itself: the environment, the models, the sources, and a
    copy of the data files under inputs/ (what "changed since" compares)."""
    import shutil

    from gentrend.core.environment import run_metadata
    from gentrend.report.publish import Publisher

    out = Publisher(run_dir, "run")
    out.table(run_metadata(run_dir.name), "environment", "Run", source="the run that produced this content")
    models = catalogue.to_frame()[
        [
            "model",
            "generation",
            "release_date",
            "params_total",
            "params_non_embedding",
            "params_vision",
            "context_length",
            "license",
        ]
    ]
    out.table(
        models.assign(release_date=models["release_date"].dt.date),
        "models",
        "Models",
        source="data/models.yaml, official configs and model cards",
    )
    sources = scores.groupby("source_url").agg(rows=("score", "size"), models=("model", "nunique")).reset_index()
    out.table(sources, "sources", "Sources of published scores", source="data/published_scores.csv")
    for name in INPUT_FILES:
        (run_dir / "inputs").mkdir(exist_ok=True)
        shutil.copy2(paths.data_file(name), run_dir / "inputs" / name)


def publish_changes(run_dir: Path, base: Manifest | None) -> None:
    """The "changed since" section: this run against the newest earlier run whose content differs
    (gentrend.pipeline.history.baseline), so an unchanged rerun repeats the same section and can reuse the report."""
    from gentrend.pipeline.history import changes, changes_reading
    from gentrend.report.publish import Publisher

    out = Publisher(run_dir, "changes")
    if base is None:
        out.text(
            "reading",
            "- No earlier complete run in this reports folder differs from this one: nothing to compare with.",
        )
        return
    table = changes(run_dir, base.run_dir)
    out.text("reading", changes_reading(table, base.run_dir.name))
    out.table(table, "changes", f"Changed since run {base.run_dir.name}", source="this run and that earlier run")


@dataclass
class RunResult:
    """How a run ended: its folder, status (complete / partial / failed), exit code and the failures."""

    run_dir: Path
    status: str
    exit_code: int
    failures: list[str]
    executed: int
    reused: int


class _Run:
    """One run in progress: its steps, each reused from an earlier run when its key is unchanged, else done."""

    def __init__(self, run_dir: Path, manifest: Manifest, sources: list[Manifest], base_key: str, log: logging.Logger):
        self.run_dir, self.manifest, self.sources, self.base_key, self.log = run_dir, manifest, sources, base_key, log
        self.failures: list[str] = []

    def step(self, name: str, key_parts: dict, action, reads: tuple[str, ...] = ()) -> str:
        """Reuse or do one step; returns its status (reused / executed / failed). Failures are recorded, not raised."""
        key = digest(self.base_key, key_parts, upstream(self.run_dir, reads))
        found = reusable(name, key, self.sources)
        start = time.perf_counter()
        entry = {"name": name, "key": key}
        if found:
            source, old = found
            link_files(list(old["files"]), source.run_dir, self.run_dir)
            entry |= {
                "status": "reused",
                "reused_from": old.get("reused_from") or source.run_dir.name,
                "files": old["files"],
                "seconds": round(time.perf_counter() - start, 2),
            }
            self.log.info("reused %s from run %s", name, entry["reused_from"])
        else:
            before = snapshot(self.run_dir)
            try:
                action()
                status = "executed"
            except OutputError as e:  # a full disk or an unwritable folder stops the whole run: nothing else can work
                self._failed(entry, str(e))
                raise
            except OSError as e:
                self._failed(entry, str(output_error(e)))
                raise output_error(e) from None
            except GentrendError as e:
                status = self._failed(entry, str(e))
            except Exception as e:
                self.log.exception("internal error in %s", name)
                status = self._failed(entry, f"{name}: internal error {type(e).__name__}: {e} (traceback in run.log)")
            files = produced(before, snapshot(self.run_dir))
            entry |= {
                "status": status,
                "files": {f: file_digest(self.run_dir / f) for f in files},
                "seconds": round(time.perf_counter() - start, 2),
            }
            if status == "executed":
                self.log.info("executed %s in %.1f s", name, entry["seconds"])
        self.manifest.record_job(entry)
        return entry["status"]

    def _failed(self, entry: dict, message: str) -> str:
        entry["error"] = message
        self.failures.append(message)
        with contextlib.suppress(OSError):
            self.log.error("FAILED %s", message)
        return "failed"


def _run_logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"gentrend.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.handlers = [handler]
    return log


def _set_aside(run_dir: Path) -> Path | None:
    """A run id used before: its folder is moved aside (and reused from), so nothing stale stays in the new one."""
    if not run_dir.exists():
        return None
    aside = run_dir.with_name(f".{run_dir.name}.previous-{secrets.token_hex(3)}")
    os.replace(run_dir, aside)
    return aside


def run_report(
    run_id: str | None = None,
    request: ReportRequest = ReportRequest(),
    *,
    reports_dir: Path | None = None,
    pdf: bool = True,
) -> RunResult:
    """Validate; execute (or reuse) every step into <reports>/<run-id>/; render trend_report.html (+ .pdf);
    write the manifest, the log and reports/index.html; point `latest` at the run if it is complete."""
    run_id = check_run_id(run_id) if run_id else new_run_id()
    import shutil

    from gentrend.analysis.scores import load_scores
    from gentrend.claims.ledger import load_claims
    from gentrend.core.environment import environment, fingerprint, library_versions
    from gentrend.models.roofline import load_gpus
    from gentrend.pipeline.history import baseline, previous_complete, write_index
    from gentrend.profiling import estimate_text
    from gentrend.report.render import html_exporter, render_report
    from gentrend.report.summary import findings

    catalogue = load_catalogue()
    scores = load_scores(catalogue=catalogue)
    load_gpus()  # before the claims, whose GPU arguments it resolves
    load_claims(catalogue=catalogue)
    html_exporter()  # the renderer works, before minutes of notebooks
    jobs = plan(catalogue, scores, request)
    print(estimate_text([j.parameters for j in jobs if j.notebook == PROFILE_NB], catalogue))
    reports = Path(reports_dir or paths.reports_dir())
    started = time.perf_counter()
    with reports_lock(reports), _kernel_environment():
        run_dir = reports / run_id
        if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
            raise SettingError(f"{run_dir} exists and is not a run folder", "choose another --run-id")
        aside = _set_aside(run_dir)
        run_dir.mkdir(parents=True)
        previous = previous_complete(reports, exclude=run_id)
        sources = [] if request.force else [m for m in (Manifest.load(aside) if aside else None, previous) if m]
        inputs = {
            "code": code_digest(),
            "data": upstream(paths.data_dir(), ("**/*",)),
            "libraries": library_versions(LIBRARY_VERSIONS),
            "machine": fingerprint(environment("cpu")),
        }
        manifest = Manifest.start(run_dir, {"pdf": pdf, **dataclasses.asdict(request)}, inputs)
        log = _run_logger(run_dir)
        log.info("run %s: %d notebooks; reuse from %s", run_id, len(jobs), [m.run_dir.name for m in sources] or "none")
        run = _Run(run_dir, manifest, sources, digest(inputs["code"], inputs["libraries"]), log)
        try:
            run.step(
                "run inputs",
                {"machine": inputs["machine"], "data": inputs["data"]},
                lambda: publish_inputs(run_dir, catalogue, scores),
            )
            with tqdm(total=len(jobs), desc="gentrend report", unit="notebook") as bar:
                for job in jobs:
                    bar.set_postfix_str(job.output_name)
                    machine = fingerprint(environment(job.parameters["device"])) if job.measures else ""
                    if job.notebook == TREND_REPORT_NB:  # "changed since" is laid out by the report: before it
                        base = baseline(reports, run_dir, CHANGE_READS)
                        run.step(
                            "changes",
                            {"baseline": upstream(base.run_dir, CHANGE_READS) if base else {}},
                            lambda: publish_changes(run_dir, base),
                            reads=CHANGE_READS,
                        )
                    key = {
                        "notebook": file_digest(paths.NOTEBOOKS_DIR / job.notebook),
                        "parameters": job.parameters,
                        "machine": machine,
                        "data": upstream(paths.data_dir(), job.data),
                    }
                    run.step(job.output_name, key, lambda job=job: execute(job, run_dir), reads=job.reads)
                    bar.update()
            report_nb = run_dir / "notebooks" / jobs[-1].output_name
            if report_nb.exists():
                targets = (run_dir / "trend_report.html", run_dir / "trend_report.pdf" if pdf else None)
                run.step(
                    "render",
                    {"pdf": pdf},
                    lambda: render_report(report_nb, *targets),
                    reads=(f"notebooks/{report_nb.name}",),
                )
            complete = (run_dir / "trend_report.html").exists() and not run.failures
            status = "complete" if complete else "partial" if (run_dir / "trend_report.html").exists() else "failed"
            exit_code = {"complete": 0, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}[status]
            from gentrend.report.layout import RunArtefacts

            headlines = [html.unescape(f.text) for f in findings(RunArtefacts(run_dir))]
            manifest.finish(
                status,
                exit_code,
                seconds=round(time.perf_counter() - started, 1),
                headlines=headlines,
                failures=run.failures,
            )
            log.info("run %s %s (exit code %d)", run_id, status, exit_code)
        except (KeyboardInterrupt, GentrendError) as e:
            interrupted = isinstance(e, KeyboardInterrupt)
            with contextlib.suppress(OSError):  # on a full disk even the manifest may not be writable
                manifest.finish(
                    "interrupted" if interrupted else "failed",
                    130 if interrupted else e.exit_code,
                    seconds=round(time.perf_counter() - started, 1),
                    failures=run.failures,
                )
                log.info("run %s %s", run_id, "interrupted" if interrupted else f"stopped: {e}")
            raise
        finally:
            for handler in log.handlers:
                handler.close()
            if aside:
                shutil.rmtree(aside, ignore_errors=True)
            with contextlib.suppress(OSError):
                write_index(reports)
        if status == "complete":
            point_latest(run_dir)
    reused = sum(j["status"] == "reused" for j in manifest.data["jobs"])
    return RunResult(run_dir, status, exit_code, run.failures, len(manifest.data["jobs"]) - reused, reused)
