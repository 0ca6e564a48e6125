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

from gentrend.core.lazy import lazy_exports

# each name is imported from its module when first used: reading results or scores never imports torch or lm-eval
__all__ = lazy_exports(
    __name__,
    {
        "estimate": ("Workload", "estimate_seconds", "evaluation_speed", "gpu_speed"),
        "results": (
            "SCHEMA_COLUMNS",
            "evaluation_summary_table",
            "load_evaluation_results",
            "results_path",
            "run_label",
            "samples_path",
            "save_evaluation_results",
        ),
        "run": ("evaluate",),
        "scores": ("as_scores", "compare_with_published", "headline_rows", "track_of"),
        "settings": ("EvalSettings", "EvalSettingsError"),
        "synthetic": ("synthetic_tokenizer",),
        "tasks": ("DatasetUnavailableError", "TaskError", "TaskSpec", "resolve_tasks"),
    },
)
