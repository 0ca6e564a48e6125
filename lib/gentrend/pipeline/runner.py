"""`gentrend report`: plan the notebook jobs, run (or reuse) each into reports/<run-id>/, render the trend report,
and keep the run's record (manifest, log, index of runs, `latest`).

The jobs: gentrend.pipeline.plan; which waits for which, and where they run (here, or on Ray):
gentrend.pipeline.executors. One notebook's execution: gentrend.pipeline.notebooks. Step
reuse: gentrend.pipeline.steps. The run folder's life (id, lock, log, latest): gentrend.pipeline.rundir.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from gentrend.analysis.scores import load_scores
from gentrend.claims.ledger import load_claims
from gentrend.core import paths
from gentrend.core.environment import environment, fingerprint, library_versions, run_metadata
from gentrend.core.errors import GentrendError, SettingError
from gentrend.core.keys import digest, file_digest
from gentrend.models.catalogue import Catalogue, load_catalogue
from gentrend.models.roofline import load_gpus
from gentrend.pipeline.executors import make_executor
from gentrend.pipeline.executors.graph import dependencies
from gentrend.pipeline.history import (
    baseline,
    changes,
    changes_reading,
    interrupted_runs,
    previous_complete,
    write_index,
)
from gentrend.pipeline.manifest import Manifest, code_digest
from gentrend.pipeline.notebooks import NotebookJob, execute, kernel_environment
from gentrend.pipeline.plan import PROFILE_NB, TREND_REPORT_NB, plan, plan_notes
from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.rundir import check_run_id, new_run_id, point_latest, reports_lock, run_logger, set_aside
from gentrend.pipeline.steps import Steps, upstream
from gentrend.profiling import profile_plan, results_path
from gentrend.profiling.cache import fresh_results
from gentrend.report.layout import RunArtefacts, findings
from gentrend.report.publish import Publisher
from gentrend.report.render import html_exporter, render_report

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
    "nh3",
)
EXIT_PARTIAL, EXIT_FAILED = 4, 5


def publish_inputs(run_dir: Path, catalogue: Catalogue, scores) -> None:
    """What went into the run, published by the runner itself: the environment, the models, the sources, and a
    copy of the data files under inputs/ (what "changed since" compares)."""
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


def run_jobs(jobs: list[NotebookJob], executor, run: Steps, reports: Path, log, estimates: dict | None = None) -> None:
    """Every job of the plan, each once all the jobs it waits for have finished (gentrend.pipeline.executors.graph),
    reused on this machine when its key is unchanged (and, for a profile, its measurements are fresh: neither
    contended nor expired), else run by the executor; the "changes" step just before the trend report.
    `estimates`: the plan's seconds per profiled model, kept in the manifest beside the time taken. Progress: how
    many jobs run, are done and failed."""
    run_dir = run.run_dir
    waits = dependencies(jobs)
    keys: dict[int, dict] = {}
    profiled = [job.parameters["model"] if job.notebook == PROFILE_NB else None for job in jobs]
    # a profile with contended or expired points is measured again, never reused
    fresh = [(lambda folder, m=m: fresh_results(results_path(m, folder))) if m else None for m in profiled]
    started, done = set(), set()
    with executor, tqdm(total=len(jobs), desc="gentrend report", unit="notebook", disable=None) as bar:
        executor.start(run_dir, log)

        def finish(index: int) -> None:
            done.add(index)
            bar.update()
            bar.set_postfix_str(f"running {executor.running}, done {len(done)}, failed {len(run.failures)}")

        while len(done) < len(jobs):
            for i, job in enumerate(jobs):
                if i in started or not waits[i] <= done:
                    continue
                started.add(i)
                if job.notebook == TREND_REPORT_NB:  # "changed since" is laid out by the report: before it
                    base = baseline(reports, run_dir, CHANGE_READS)
                    run.step(
                        "changes",
                        {"baseline": upstream(base.run_dir, CHANGE_READS) if base else {}},
                        lambda base=base: publish_changes(run_dir, base),
                        reads=CHANGE_READS,
                    )
                keys[i] = {
                    "notebook": file_digest(paths.NOTEBOOKS_DIR / job.notebook),
                    "parameters": job.parameters,
                    "machine": executor.machine(job) if job.measures else "",
                    "data": upstream(paths.data_dir(), job.data),
                }
                if run.reusable(job.output_name, keys[i], job.reads, fresh[i]):  # a reused step never leaves the driver
                    run.step(job.output_name, keys[i], lambda job=job: execute(job, run_dir), job.reads, fresh=fresh[i])
                    finish(i)
                else:
                    executor.submit(i, job)
            if executor.pending():
                for i, action in executor.finished():
                    run.step(
                        jobs[i].output_name,
                        keys[i],
                        action,
                        jobs[i].reads,
                        profiled[i] and (estimates or {}).get(profiled[i]),
                    )
                    finish(i)


@dataclass
class RunResult:
    """How a run ended: its folder, status (complete / partial / failed), exit code and the failures."""

    run_dir: Path
    status: str
    exit_code: int
    failures: list[str]
    executed: int
    reused: int


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
    catalogue = load_catalogue()
    scores = load_scores(catalogue=catalogue)
    load_gpus()  # before the claims, whose GPU arguments it resolves
    load_claims(catalogue=catalogue)
    html_exporter()  # the renderer works, before minutes of notebooks
    jobs = plan(catalogue, scores, request)
    estimate, estimates = profile_plan([j.parameters for j in jobs if j.notebook == PROFILE_NB], catalogue)
    notes = plan_notes(jobs)
    if sys.stderr.isatty():  # on a terminal; a schedule reads it in run.log
        print(estimate, *notes, sep="\n", file=sys.stderr)
    reports = Path(reports_dir or paths.reports_dir())
    started = time.perf_counter()
    with reports_lock(reports), kernel_environment():
        run_dir = reports / run_id
        if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
            raise SettingError(f"{run_dir} exists and is not a run folder", "choose another --run-id")
        aside = set_aside(run_dir)
        run_dir.mkdir(parents=True)
        previous = previous_complete(reports, exclude=run_id)
        sources = [] if request.force else [m for m in (Manifest.load(aside) if aside else None, previous) if m]
        sources += [] if request.force else interrupted_runs(reports, exclude=run_id)
        inputs = {
            "code": code_digest(),
            "data": upstream(paths.data_dir(), ("**/*",)),
            "libraries": library_versions(LIBRARY_VERSIONS),
            "machine": fingerprint(environment("cpu")),
        }
        manifest = Manifest.start(run_dir, {"pdf": pdf, **dataclasses.asdict(request)}, inputs)
        log = run_logger(run_dir)
        log.info("%s", estimate)
        for note in notes:
            log.info("%s", note)
        log.info("run %s: %d notebooks; reuse from %s", run_id, len(jobs), [m.run_dir.name for m in sources] or "none")
        run = Steps(run_dir, manifest, sources, digest(inputs["code"], inputs["libraries"]), log)
        try:
            run.step(
                "run inputs",
                {"machine": inputs["machine"], "data": inputs["data"]},
                lambda: publish_inputs(run_dir, catalogue, scores),
            )
            run_jobs(jobs, make_executor(request.executor, request.ray_address), run, reports, log, estimates)
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
