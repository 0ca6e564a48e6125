"""Measured results as scores: the columns of gentrend.analysis.scores.load_scores, so the density and per-size
analyses run on them unchanged, as a separate source (origin "measured"; never merged into the published
frame), and a comparison of measured against published scores.

Headline per task: the metric and filter data/evaluation.yaml names for it (MMLU: acc; GSM8K:
exact_match after flexible-extract, ...); for other tasks (user tasks) the first metric lm-eval reports.
Benchmark: the published name from the same map, else the task name. Track (as for published scores):
  base          base checkpoint, no chat template
  non-thinking  post-trained checkpoint with the chat template, thinking off or not applicable (Qwen2.5)
  thinking      post-trained checkpoint with the chat template, thinking on
Other combinations get a descriptive label outside the three tracks, so track-based analyses leave them
out instead of comparing unlike settings. Synthetic-weight rows (chance level by construction) are dropped.
"""

from __future__ import annotations

import re

import pandas as pd

from gentrend.core.errors import GentrendError
from gentrend.evaluation.data import load_evaluation_data
from gentrend.models.catalogue import Catalogue, load_catalogue, repo_id

SOURCE_URL = "measured here"
ORIGIN = "measured"


def track_of(checkpoint: str, chat_template: bool, thinking) -> str:
    if checkpoint == "base" and not chat_template:
        return "base"
    if checkpoint == "post_trained" and chat_template:
        return "thinking" if thinking is True else "non-thinking"
    return f"{checkpoint.replace('_', '-')}, chat template {'on' if chat_template else 'off'}"


def headline_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated task and run (score_key): the headline metric of the requested task itself."""
    benchmarks = load_evaluation_data().benchmarks
    own = results[results["task"] == results["requested_task"]]
    picked = []
    for (_, task), group in own.groupby(["score_key", "requested_task"], sort=False):
        spec = benchmarks.get(task)
        match = group[(group["metric"] == spec.metric) & (group["filter"] == spec.filter)] if spec else group.iloc[:0]
        picked.append(match.iloc[0] if not match.empty else group.iloc[0])
    return pd.DataFrame(picked).infer_objects().reset_index(drop=True) if picked else own.iloc[:0]


def _setting(shots, cot, chat_template: bool, thinking, n: int, total: int) -> str:
    parts = [f"{int(shots)}-shot" if pd.notna(shots) else "shots as the task defines"]
    parts += ["CoT"] if cot else []
    parts += ["chat template" if chat_template else "no chat template"]
    parts += [f"thinking {'on' if thinking else 'off'}"] if isinstance(thinking, bool) else []
    parts += [f"{n}/{total} documents"] if n < total else []
    return ", ".join(parts)


def _display_model(row, catalogue: Catalogue) -> str:
    try:
        return repo_id(catalogue.get(row["model_id"]), row["checkpoint"])
    except GentrendError:
        return row["weights_source"]


def as_scores(results: pd.DataFrame, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Measured rows (gentrend.evaluation results) -> one score row per (model, run, task), with the columns
    of gentrend.analysis.scores.load_scores plus origin ("measured"), task, metric, filter, stderr, n_samples,
    num_fewshot, chat_template, thinking, cot and score_key."""
    catalogue = catalogue or load_catalogue()
    real = results[results["weights"] != "synthetic"]
    rows = headline_rows(real)
    columns = [
        "model",
        "generation",
        "size_label",
        "variant",
        "benchmark",
        "setting",
        "score",
        "source_url",
        "source_detail",
        "track",
        "unit",
        "flag",
        "model_id",
        "params_total",
        "params_non_embedding",
        "release_date",
        "family",
        "origin",
        "task",
        "metric",
        "filter",
        "stderr",
        "n_samples",
        "num_fewshot",
        "chat_template",
        "thinking",
        "cot",
        "score_key",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    benchmarks = load_evaluation_data().benchmarks
    facts = catalogue.to_frame().set_index("model_id")[["size_label", "params_non_embedding", "release_date", "family"]]
    out = rows.join(facts, on="model_id")
    spec = out["requested_task"].map(benchmarks.get)
    out["benchmark"] = [s.benchmark if s else t for s, t in zip(spec, out["requested_task"])]
    out["cot"] = [s.cot if s else None for s in spec]
    out["track"] = [
        track_of(c, bool(t), th) for c, t, th in zip(out["checkpoint"], out["chat_template"], out["thinking"])
    ]
    out["variant"] = out["track"]
    out["setting"] = [
        _setting(*a)
        for a in zip(
            out["num_fewshot"],
            out["cot"],
            out["chat_template"],
            out["thinking"],
            out["n_samples"],
            out["n_samples_total"],
        )
    ]
    out["model"] = [_display_model(r, catalogue) for _, r in out.iterrows()]
    out["score"] = out["value"].astype(float)
    out["source_url"] = SOURCE_URL
    out["source_detail"] = [
        f"lm-eval {r.lm_eval}, task {r.requested_task} v{r.task_version}, {r.metric} [{r.filter}], {r.n_samples} documents, "
        f"{r.dtype} on {r.device_name}, weights {r.weights_source} ({r.mode}), measured {r.measured_at}"
        for r in out.itertuples()
    ]
    out["flag"] = ["SUBSET" if n < t else "" for n, t in zip(out["n_samples"], out["n_samples_total"])]
    out["origin"] = ORIGIN
    out["task"] = out["requested_task"]
    return out[columns].reset_index(drop=True)


def _published_shots(setting: str):
    found = re.search(r"(\d+)-shot", setting)
    return int(found.group(1)) if found else None


def _differences(m, p) -> str:
    """The settings in which a measured score row `m` and a published row `p` differ, as text."""
    onoff = lambda v: "?" if v is None else ("on" if v else "off")
    out = []
    shots = _published_shots(p["setting"])
    if shots is None:
        out.append(f"few-shot: {m['num_fewshot']} vs not stated")
    elif shots != m["num_fewshot"]:
        out.append(f"few-shot: {m['num_fewshot']} vs {shots}")
    cot = "cot" in p["setting"].lower()
    if m["cot"] is None or bool(m["cot"]) != cot:
        out.append(f"CoT: {onoff(m['cot'])} vs {onoff(cot)}")
    if bool(m["chat_template"]) != (p["track"] != "base"):
        out.append(
            f"chat template: {onoff(bool(m['chat_template']))} vs {onoff(p['track'] != 'base')} ({p['track']} track)"
        )
    published_thinking = {"thinking": True, "non-thinking": False}.get(p["track"])
    measured_thinking = m["thinking"] if isinstance(m["thinking"], bool) else None
    if measured_thinking != published_thinking and not (measured_thinking is None and published_thinking is False):
        out.append(f"thinking: {onoff(measured_thinking)} vs {onoff(published_thinking)}")
    if m["flag"] == "SUBSET":
        out.append(f"documents: {m['n_samples']} (subset)")
    return "; ".join(out) or "none"


def compare_with_published(measured: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """One row per measured (model, benchmark, run) that the published scores also have: measured and
    published score, difference (measured - published, points), and the settings that differ.

    Of several published rows for the pair, the closest is compared: same track first, then same few-shot
    count, then same CoT use; ties go to the row printed first. n_published says how many there were."""
    columns = [
        "model_id",
        "model",
        "benchmark",
        "task",
        "measured",
        "measured_stderr",
        "published",
        "difference",
        "unit",
        "measured_track",
        "published_track",
        "measured_setting",
        "published_setting",
        "differs",
        "published_source",
        "n_published",
    ]
    pub = published[published["model_id"].notna()]
    rows = []
    for _, m in measured.iterrows():
        candidates = pub[
            (pub["model_id"] == m["model_id"]) & (pub["benchmark"] == m["benchmark"]) & (pub["unit"] == m["unit"])
        ]
        if candidates.empty:
            continue
        closeness = (
            (candidates["track"] == m["track"]) * 4
            + (candidates["setting"].map(_published_shots) == m["num_fewshot"]) * 2
            + (candidates["setting"].str.lower().str.contains("cot") == bool(m["cot"])) * 1
        )
        p = candidates.loc[closeness.idxmax()]
        rows.append(
            {
                "model_id": m["model_id"],
                "model": f"{m['family']}{m['generation']}-{m['size_label']}",
                "benchmark": m["benchmark"],
                "task": m["task"],
                "measured": m["score"],
                "measured_stderr": m["stderr"],
                "published": p["score"],
                "difference": m["score"] - p["score"],
                "unit": m["unit"],
                "measured_track": m["track"],
                "published_track": p["track"],
                "measured_setting": m["setting"],
                "published_setting": p["setting"],
                "differs": _differences(m, p),
                "published_source": p["source_url"],
                "n_published": len(candidates),
            }
        )
    return pd.DataFrame(rows, columns=columns)
