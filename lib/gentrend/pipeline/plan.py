"""The notebook jobs of one report, every value checked and resolved before the first one starts.

Flow (one way: producers first, the report last, which only reads what they wrote):
    01_generation   once per generation
    02_density      once per comparison track (reference: the oldest generation scored on it)
    03_per_size     once per comparison track
    04_profile      once per profiled model, each in a fresh kernel (memory never leaks between models)
    05_speed_memory the run's measurements together, the memory model, what fits where
    06_evaluate     once per evaluated model, when asked (lm-eval); then 02 and 03 once more over the
                    measured scores ("measured here") where the density method can work on them: a reference
                    generation with two or more sizes scored (its curve) and a second generation; otherwise
                    the evaluation jobs carry the reason (`measured_note`), which the log and the report show
    07_claims       the claims ledger
    08_trend_report lays the artefacts out; rendered to HTML and PDF

`plan` checks data files, device, precision, profiling grid and backend, models, weights mode and whether the
weights can be reached, and each job's parameters against its notebook.
"""

from __future__ import annotations

from pathlib import Path

from gentrend.analysis.selection import default_references
from gentrend.core import paths
from gentrend.core.devices import resolve_device
from gentrend.core.vocab import TRACKS, resolve_precision
from gentrend.evaluation import EvalSettings, resolve_tasks, run_label, track_of
from gentrend.evaluation.model import check_checkpoint_folder, check_hub_weights
from gentrend.models.catalogue import Catalogue, Model, load_catalogue, repo_id
from gentrend.models.loading import check_weights_reachable
from gentrend.pipeline.notebooks import NotebookJob, check_parameters
from gentrend.pipeline.request import ReportRequest
from gentrend.profiling import defaults_for, quantized_models

GENERATION_NB = "01_generation.ipynb"
DENSITY_NB = "02_density.ipynb"
PER_SIZE_NB = "03_per_size.ipynb"
PROFILE_NB = "04_profile.ipynb"
SPEED_MEMORY_NB = "05_speed_memory.ipynb"
EVALUATE_NB = "06_evaluate.ipynb"
CLAIMS_NB = "07_claims.ipynb"
TREND_REPORT_NB = "08_trend_report.ipynb"

PUBLISHED = ("artefacts/*.json", "tables/*.csv", "figures/*.png")  # what the trend report lays out
SCORES_DATA = ("models.yaml", "configs/*", "published_scores.csv", "benchmarks.yaml")  # what 01-03 read
MACHINE_DATA = ("models.yaml", "configs/*", "gpus.yaml")  # what profiling and the memory model read
EVALUATION_DATA = ("models.yaml", "configs/*", "evaluation.yaml", "tasks/*")  # what lm-eval runs read
MEASURED_DATA = SCORES_DATA + ("evaluation.yaml",)  # density and per-size over measured scores


def default_profile_models(catalogue: Catalogue, device: str = "auto", here: bool = True) -> list[Model]:
    """The models a plain report profiles.

    CPU: the smallest model of each generation (one per generation, minutes on two cores).
    CUDA: the largest model of each generation (Qwen2.5-7B, Qwen3-8B, Qwen3.5-9B: the like-for-like comparison
    between generations at the size people run on one GPU, where decode is bandwidth-bound and the roofline
    says how close each gets) and the smallest of the newest generation (Qwen3.5-0.8B: the small-model regime,
    where launch overhead and the linear-attention kernel path dominate; the fastest figure of the speed claims).
    About four compiles plus the int8/int4 rows of the newest generation's models: a quarter of an hour."""
    if resolve_device(device, here).type != "cuda":
        return catalogue.smallest_per_generation()
    largest = [max(catalogue.in_generation(g), key=lambda m: m.params.total) for g in catalogue.generations]
    return largest + [min(catalogue.in_generation(catalogue.generations[-1]), key=lambda m: m.params.total)]


def profile_parameters(request: ReportRequest, catalogue: Catalogue | None = None) -> dict:
    """The profiling notebook's parameters, every value validated and resolved (device, precision, grid), and
    which of the profiled models also get int8/int4 rows (on CUDA, as many as the time budget allows)."""
    catalogue = catalogue or load_catalogue()
    device = resolve_device(request.device, request.local)
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
        else default_profile_models(catalogue, str(device), request.local)
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
    if request.profile_models is None:
        models = default_profile_models(catalogue, request.device, request.local)
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
        check_parameters(paths.NOTEBOOKS_DIR / job.notebook, {**job.parameters, "output_dir": None})
    return jobs


def measured_note(models: list[Model], track: str, catalogue: Catalogue) -> str | None:
    """Why density and per-size will not run over the measured scores of `models`, or None when they will.

    Effective size reads a model's score off the reference generation's score-vs-size curve, so the oldest
    generation evaluated needs two or more sizes, and a second generation is needed to have anything to place
    on it (the per-size view runs on the same condition, so both sections appear together)."""
    if track not in TRACKS:
        return (
            f"Density and per-size were not run over the measured scores: the evaluated setting ({track}) is "
            f"none of the comparison tracks ({', '.join(TRACKS)}); use --checkpoint base, or --checkpoint "
            "post_trained --chat-template."
        )
    per_generation: dict[str, list[Model]] = {}
    for m in models:
        per_generation.setdefault(m.generation, []).append(m)
    generations = [g for g in catalogue.generations if g in per_generation]
    if len(generations) >= 2 and len(per_generation[generations[0]]) >= 2:
        return None
    scored = "; ".join(f"generation {g}: {', '.join(m.id for m in per_generation[g])}" for g in generations)
    reference = generations[0] if generations else catalogue.generations[0]
    more = [m.id for m in catalogue.in_generation(reference) if m not in per_generation.get(reference, [])][:1]
    other = next((g for g in catalogue.generations if g != reference and g not in per_generation), None)
    add = more + ([catalogue.in_generation(other)[0].id] if len(generations) < 2 and other else [])
    return (
        "Density and per-size were not run over the measured scores: they need the oldest evaluated generation "
        "with two or more sizes scored (the curve the others are read against) and a second generation; this run "
        f"scored {scored or 'no model'}. Add e.g. --eval-models {' '.join(m.id for m in models)} {' '.join(add)}."
    )


def plan_notes(jobs: list[NotebookJob]) -> list[str]:
    """What the plan left out and why (for the run's log): the measured-scores note of the evaluation jobs."""
    return list(dict.fromkeys(n for j in jobs if (n := j.parameters.get("measured_note"))))


def evaluation_jobs(catalogue: Catalogue, request: ReportRequest) -> list[NotebookJob]:
    """The evaluation notebooks (one per model), then density and per-size over the measured scores where the
    method can work on them (measured_note says why not otherwise). Settings, tasks and weights are checked here."""
    ev = request.evaluation
    device = resolve_device(request.device, request.local)
    EvalSettings(
        tasks=ev.tasks,
        task_dir=ev.task_dir,
        allow_task_code=ev.allow_task_code,
        num_fewshot=ev.num_fewshot,
        batch_size=ev.batch_size,
        limit=ev.limit,
        chat_template=ev.chat_template,
        thinking=ev.thinking,
        gen_kwargs=ev.gen_kwargs,
        log_samples=ev.log_samples,
        dtype=request.dtype,
        device=str(device),
    )
    resolve_tasks(ev.tasks, ev.task_dir, ev.allow_task_code)
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
            check_hub_weights(repo_id(m, ev.checkpoint))
    label = run_label(ev.checkpoint, ev.chat_template, ev.thinking)
    common = {
        "mode": ev.mode,
        "checkpoint": ev.checkpoint,
        "tasks": list(ev.tasks),
        "task_dir": ev.task_dir,
        "allow_task_code": ev.allow_task_code,
        "num_fewshot": ev.num_fewshot,
        "batch_size": ev.batch_size,
        "limit": ev.limit,
        "gen_kwargs": ev.gen_kwargs,
        "log_samples": ev.log_samples,
        "chat_template": ev.chat_template,
        "thinking": ev.thinking,
        "device": str(device),
        "dtype": request.dtype,
        "force": request.force,
    }
    track = track_of(ev.checkpoint, ev.chat_template, ev.thinking)
    note = measured_note(models, track, catalogue)
    jobs = [
        NotebookJob(
            EVALUATE_NB,
            {
                "model": m.id,
                "path": str(Path(ev.local_dir) / m.id) if ev.mode == "local" else None,
                **common,
                "measured_note": note,
            },
            f"{m.id}-{label}",
            data=EVALUATION_DATA,
            measures=True,
        )
        for m in models
    ]
    if note is None:
        reads = ("results/eval_*.csv",)
        jobs += [
            NotebookJob(
                nb, {"track": track, "scores_source": "measured"}, f"measured-{track}", reads=reads, data=MEASURED_DATA
            )
            for nb in (DENSITY_NB, PER_SIZE_NB)
        ]
    return jobs
