"""Same-harness evaluation with EleutherAI's lm-evaluation-harness: measured scores beside published ones.

    settings = EvalSettings(tasks=["mmlu", "gsm8k", "my_task"], task_dir="my_tasks", num_fewshot=5)
    rows = evaluate("qwen3-4b", "hub", settings, checkpoint="base")   # tidy long rows (lm-eval's request cache)
    save_evaluation_results(rows, output_dir)                          # <run>/results/eval_<model>-<label>.csv
    scores = as_scores(load_evaluation_results(output_dir))            # columns of gentrend.analysis.scores.load_scores
    compare_with_published(scores, load_scores())                      # measured vs published, settings that differ

Modules: settings (validated EvalSettings), tasks (lm-eval and user task names -> lm-eval tasks), model
(tokenizer, thinking switch, HFLM), synthetic (tokenizer for synthetic smoke runs), estimate (time before
starting, through gentrend.models.planner), results (schema, files, summary), scores (as_scores,
compare_with_published), data (data/evaluation.yaml), run (evaluate).
"""

from gentrend.evaluation.estimate import Workload, estimate_seconds, evaluation_speed, gpu_speed
from gentrend.evaluation.results import (
    SCHEMA_COLUMNS,
    evaluation_summary_table,
    load_evaluation_results,
    results_path,
    run_label,
    samples_path,
    save_evaluation_results,
)
from gentrend.evaluation.run import evaluate
from gentrend.evaluation.scores import as_scores, compare_with_published, headline_rows, track_of
from gentrend.evaluation.settings import EvalSettings, EvalSettingsError
from gentrend.evaluation.synthetic import synthetic_tokenizer
from gentrend.evaluation.tasks import DatasetUnavailableError, TaskError, TaskSpec, resolve_tasks

__all__ = [
    "DatasetUnavailableError",
    "EvalSettings",
    "EvalSettingsError",
    "SCHEMA_COLUMNS",
    "TaskError",
    "TaskSpec",
    "Workload",
    "as_scores",
    "compare_with_published",
    "evaluation_speed",
    "estimate_seconds",
    "evaluate",
    "gpu_speed",
    "headline_rows",
    "evaluation_summary_table",
    "load_evaluation_results",
    "resolve_tasks",
    "results_path",
    "run_label",
    "samples_path",
    "save_evaluation_results",
    "synthetic_tokenizer",
    "track_of",
]
