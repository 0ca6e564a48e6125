"""The evaluation results schema (long format, one row per model x task x metric x filter), built from
lm-eval's results dict, and the run-folder files.

  identity     model_id, model, generation, params_total, weights ("real" | "synthetic"), weights_source,
               mode (hub | local | synthetic), checkpoint (base | post_trained), tiny
  task         requested_task (the name asked for), task (it, or a subtask / subgroup of it), task_kind
               (standard | user), task_version, task_hash (user tasks: config + data files), output_type
  measurement  metric, filter (lm-eval's filter pipeline, "none" without one), value, stderr, unit
               ("percent": proportions x 100; "as reported" otherwise), higher_is_better,
               n_samples (documents scored), n_samples_total (documents in the task)
  settings     num_fewshot (as applied), chat_template, thinking (applied switch; empty: not applicable),
               fewshot_as_multiturn, limit, batch_size, batch_sizes_used (what "auto" found), max_gen_toks,
               gen_kwargs (as given, lm-eval's form), dtype, seed, settings_json (all settings), lm_eval (version)
  timing       eval_seconds (lm-eval's run of the task, model load excluded), estimated_seconds
  environment  gentrend.core.environment columns (host, gpu_index, device, device_name, torch, transformers, ...),
               env_fingerprint
  provenance   score_key (a hash of everything that decides the score), measured_at (UTC), origin ("measured here")

Files: <run>/results/eval_<model>-<label>.csv, label = checkpoint, "-chat" with the chat template,
"-thinking" with thinking on (so the tracks of one model never overwrite each other); with log_samples,
<run>/results/samples_<model>-<label>-<task>.jsonl: lm-eval's record of every scored document.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from gentrend.core import paths
from gentrend.core.environment import EMPTY_ON_CPU, ROW_ENVIRONMENT_COLUMNS
from gentrend.core.errors import DataError
from gentrend.models.catalogue import ROW_IDENTITY

ORIGIN = "measured here"
# lm-eval metrics that are proportions in [0, 1]: stored x 100 with unit "percent", as published scores are
PERCENT_METRICS = frozenset(
    {
        "acc",
        "acc_norm",
        "acc_mutual_info",
        "exact_match",
        "em",
        "f1",
        "mc1",
        "mc2",
        "contains",
        "math_verify",
        "pass@1",
        "pass_at_1",
        "prompt_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_strict_acc",
        "inst_level_loose_acc",
    }
)
# A row's columns (see above) in the order they are written, each with its type; text columns are read back as
# text (generation "3" stays "3").
SCHEMA = {
    **ROW_IDENTITY,
    "checkpoint": str,
    "tiny": bool,
    # task
    "requested_task": str,
    "task": str,
    "task_kind": str,
    "task_version": str,
    "task_hash": str,
    "output_type": str,
    # measurement
    "metric": str,
    "filter": str,
    "value": float,
    "stderr": float,
    "unit": str,
    "higher_is_better": bool,
    "n_samples": int,
    "n_samples_total": int,
    # settings
    "num_fewshot": int,
    "chat_template": bool,
    "thinking": bool,
    "fewshot_as_multiturn": bool,
    "limit": float,
    "batch_size": str,
    "batch_sizes_used": str,
    "max_gen_toks": int,
    "gen_kwargs": str,
    "dtype": str,
    "seed": int,
    "settings_json": str,
    "lm_eval": str,
    # timing
    "eval_seconds": float,
    "estimated_seconds": float,
}
SCHEMA_COLUMNS = list(SCHEMA)
# after the schema's columns: environment and provenance (all text)
PROVENANCE_COLUMNS = (*ROW_ENVIRONMENT_COLUMNS, "env_fingerprint", "score_key", "measured_at", "origin")
TEXT_COLUMNS = (*(c for c, kind in SCHEMA.items() if kind is str), *PROVENANCE_COLUMNS)


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):  # lm-eval writes "N/A" where it has no stderr
        return math.nan
    return number


def _samples(results: dict, name: str) -> tuple[int, int]:
    """(effective, original) document counts of a task, summed over a group's subtasks."""
    counts = results.get("n-samples", {})
    if name in counts:
        return int(counts[name]["effective"]), int(counts[name]["original"])
    children = results.get("group_subtasks", {}).get(name, [])
    pairs = [_samples(results, child) for child in children]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def metric_rows(results: dict, requested: str) -> list[dict]:
    """One dict per (task, metric, filter) of an lm-eval results dict; the requested task's rows first."""
    table = results["results"]
    names = sorted(table, key=lambda n: n != requested)
    rows = []
    for name in names:
        n, total = _samples(results, name)
        config = results.get("configs", {}).get(name, {})
        for key, value in table[name].items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filter_name = key.split(",", 1)
            percent = metric in PERCENT_METRICS
            scale = 100.0 if percent else 1.0
            rows.append(
                {
                    "task": name,
                    "task_version": str(results.get("versions", {}).get(name, "")),
                    "output_type": config.get(
                        "output_type", "group" if name in results.get("group_subtasks", {}) else ""
                    ),
                    "metric": metric,
                    "filter": filter_name,
                    "value": _number(value) * scale,
                    "stderr": _number(table[name].get(f"{metric}_stderr,{filter_name}")) * scale,
                    "unit": "percent" if percent else "as reported",
                    "higher_is_better": results.get("higher_is_better", {}).get(name, {}).get(metric),
                    "n_samples": n,
                    "n_samples_total": total,
                    "num_fewshot": results.get("n-shot", {}).get(name),
                }
            )
    return rows


def run_label(checkpoint: str, chat_template: bool, thinking) -> str:
    return checkpoint + ("-chat" if chat_template else "") + ("-thinking" if thinking is True else "")


def results_path(model_id: str, label: str, output_dir: str | Path | None = None) -> Path:
    return paths.run_dir(output_dir) / "results" / f"eval_{model_id}-{label}.csv"


def samples_path(model_id: str, label: str, task: str, output_dir: str | Path | None = None) -> Path:
    return paths.run_dir(output_dir) / "results" / f"samples_{model_id}-{label}-{task}.jsonl"


def save_evaluation_results(rows: pd.DataFrame, output_dir: str | Path | None = None) -> Path:
    """Write one evaluate() call's rows to <run>/results/eval_<model>-<label>.csv (what the report gathers)."""
    first = rows.iloc[0]
    thinking = first["thinking"] if isinstance(first["thinking"], bool) else None
    path = results_path(
        first["model_id"], run_label(first["checkpoint"], bool(first["chat_template"]), thinking), output_dir
    )
    rows.to_csv(path, index=False)
    return path


def read_rows(path: str | Path) -> pd.DataFrame:
    """A results CSV with the schema's types (generation "3" stays text; thinking True/False/empty)."""
    df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True)
    df["thinking"] = df["thinking"].map({"True": True, "False": False, True: True, False: False}).astype(object)
    for c in EMPTY_ON_CPU:
        if c in df:
            df[c] = df[c].fillna("")
    return df


def load_evaluation_results(output_dir: str | Path | None = None) -> pd.DataFrame:
    """Every eval_*.csv of a run folder, concatenated (an empty frame with the schema if there is none)."""
    files = sorted((paths.run_dir(output_dir) / "results").glob("eval_*.csv"))
    if not files:
        return pd.DataFrame(columns=SCHEMA_COLUMNS)
    frames = []
    for f in files:
        try:
            frames.append(read_rows(f))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError) as e:
            raise DataError(
                f"cannot read evaluation results {f}: {e}", "delete the file and rerun its evaluation notebook"
            ) from None
    return pd.concat(frames, ignore_index=True)


def evaluation_summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per evaluated (model, task, settings): every metric of the requested task itself, value ±
    stderr, documents scored, the settings that decide the score, and where the number came from."""
    own = rows[rows["task"] == rows["requested_task"]]
    if own.empty:
        return pd.DataFrame()
    thinking = own["thinking"].map({True: "on", False: "off"}).fillna("n/a")
    weights = [
        f"synthetic{' (tiny)' if t else ''}" if w == "synthetic" else f"{w} ({m}, {c.replace('_', '-')})"
        for w, m, c, t in zip(own["weights"], own["mode"], own["checkpoint"], own["tiny"])
    ]
    return pd.DataFrame(
        {
            "model": own["model"],
            "weights": weights,
            "task": own["requested_task"],
            "version": own["task_version"],
            "metric": own["metric"] + " [" + own["filter"] + "]",
            "score": [f"{v:.1f} ± {s:.1f}" if pd.notna(s) else f"{v:.1f}" for v, s in zip(own["value"], own["stderr"])],
            "unit": own["unit"],
            "documents": [f"{n}/{t}" for n, t in zip(own["n_samples"], own["n_samples_total"])],
            "shots": own["num_fewshot"],
            "chat template": own["chat_template"].map({True: "on", False: "off"}),
            "thinking": thinking,
            "dtype": own["dtype"],
            "device": own["device_name"],
            "lm-eval": own["lm_eval"],
            "seconds": own["eval_seconds"].round(1),
            "measured at (UTC)": own["measured_at"],
        }
    ).reset_index(drop=True)
