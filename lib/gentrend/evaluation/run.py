"""Evaluate one catalogue model on a list of tasks with lm-evaluation-harness; tidy rows.

Order of work, so that every error a user can fix comes before anything slow: settings, weights source and
task names, the weights (a local folder is checked for config, weights and tokenizer; a hub repo not in the
local cache fails at once when the hub cannot be reached), tokenizer, datasets (an unavailable dataset stops
here), the time estimate (printed), the model, and one `lm_eval.simple_evaluate` call per task on the same
loaded model, with a progress bar naming model and task.

One cache: lm-eval's own request cache (`use_cache`, sqlite, keyed by request), one database per model and
weights under <cache_dir>/lm_eval/<model>/. A rerun with the same inputs loads the model and answers every
request from it; force=True bypasses it. (A whole notebook whose inputs did not change is reused by the
runner without running at all.) score_key per task: a hash of model id, loading mode, weights source,
checkpoint, tiny, dtype, task name, version and content hash, the settings that decide the score, the lm-eval
version and the environment fingerprint: it tells two runs of one task apart in a results table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from gentrend.core import paths
from gentrend.core.devices import resolve_device
from gentrend.core.environment import environment, fingerprint
from gentrend.core.errors import GentrendError
from gentrend.core.files import write_text
from gentrend.core.vocab import precision_name, resolve_precision, torch_dtype
from gentrend.evaluation.estimate import (
    batch_of,
    estimate_seconds,
    evaluation_speed,
    format_seconds,
    shrunken_checkpoint,
    task_workload,
)
from gentrend.evaluation.model import (
    applied_thinking,
    check_checkpoint_folder,
    check_hub_weights,
    load_tokenizer,
    make_lm,
)
from gentrend.evaluation.results import ORIGIN, SCHEMA_COLUMNS, metric_rows, run_label, samples_path
from gentrend.evaluation.settings import EvalSettings, EvalSettingsError
from gentrend.evaluation.tasks import TaskSpec, inline_manager, load_task, resolve_tasks
from gentrend.models.catalogue import Catalogue, Checkpoint, Model, load_catalogue
from gentrend.models.loading import (
    Mode,
    linear_attention_kernels,
    load_model,
    planned_kernels,
    weights_source,
)
from gentrend.profiling.cache import cache_key
from gentrend.profiling.measure import free_memory

LOGLIKELIHOOD_TYPES = ("loglikelihood", "loglikelihood_rolling", "multiple_choice")


def evaluate(
    model_id: str,
    mode: Mode = "hub",
    settings: EvalSettings | None = None,
    *,
    path: str | Path | None = None,
    checkpoint: Checkpoint = "post_trained",
    tiny: bool = False,
    force: bool = False,
    cache_dir: str | Path | None = None,
    catalogue: Catalogue | None = None,
    progress: bool = True,
    output_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Score `model_id` (weights from `mode`: hub repo, local `path`, or synthetic for smoke runs) on
    settings.tasks and return tidy rows (gentrend.evaluation.results). Requests lm-eval answered before for the
    same weights come from its request cache unless force=True. With settings.log_samples, each task's scored
    documents go to <output_dir>/results/samples_<model>-<label>-<task>.jsonl."""
    if find_spec("lm_eval") is None:
        raise GentrendError(
            "lm-evaluation-harness (lm-eval) is not installed",
            "pip install -r requirements.txt, or pip install 'gentrend[eval]'",
        )
    catalogue = catalogue or load_catalogue()
    model = catalogue.get(model_id)
    settings = settings or EvalSettings()
    device = resolve_device(settings.device)
    settings = settings.resolve(str(device))
    dtype = torch_dtype(resolve_precision(settings.dtype, device.type))
    source = weights_source(model, mode, path=path, checkpoint=checkpoint, tiny=tiny)
    specs = resolve_tasks(settings.tasks, settings.task_dir, settings.allow_task_code)
    env = environment(str(device))
    weights = dict(
        model=model.id,
        mode=mode,
        source=source,
        checkpoint=checkpoint,
        tiny=tiny,
        dtype=str(dtype),
        lm_eval=version("lm_eval"),
        env=fingerprint(env),
    )
    keys = {
        s.name: cache_key(
            evaluation_schema=SCORE_KEY_VERSION,
            **weights,
            task=s.name,
            task_version=s.version,
            task_hash=s.content_hash,
            settings=settings.for_task(),
        )
        for s in specs
    }
    # lm-eval's request cache is keyed by request only: one database per weights, dtype and device type
    weights_key = hashlib.sha256(repr([mode, source, checkpoint, tiny, str(dtype), device.type]).encode()).hexdigest()[
        :16
    ]
    run = _ModelEvaluation(
        model=model,
        mode=mode,
        source=source,
        path=path,
        checkpoint=checkpoint,
        tiny=tiny,
        settings=settings,
        env=env,
        dtype=dtype,
        keys=keys,
        weights_key=weights_key,
        output_dir=output_dir,
    )
    found = run.tasks(specs, None if force else request_cache(model.id, weights_key, cache_dir), progress)
    return pd.concat([found[s.name] for s in specs], ignore_index=True)


SCORE_KEY_VERSION = 1


def request_cache(model_id: str, weights_key: str, cache_dir: Path | str | None = None) -> str:
    """lm-eval's `use_cache` prefix for one model and weights (it appends '_rank<N>.db')."""
    folder = Path(cache_dir or paths.cache_dir()) / "lm_eval" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / weights_key)


@dataclass
class _ModelEvaluation:
    """The slow part of evaluate(): what only tasks that are not cached need."""

    model: Model
    mode: Mode
    source: str
    path: str | Path | None
    checkpoint: Checkpoint
    tiny: bool
    settings: EvalSettings
    env: dict
    dtype: torch.dtype
    keys: dict[str, str]
    weights_key: str
    output_dir: str | Path | None

    def tasks(self, specs: list[TaskSpec], use_cache: str | None, progress: bool) -> dict[str, pd.DataFrame]:
        from lm_eval import evaluator

        s, model = self.settings, self.model
        if self.mode == "local":
            check_checkpoint_folder(self.source)
        if self.mode == "hub":
            check_hub_weights(self.source)
        tokenizer = load_tokenizer(model, self.mode, self.source)
        thinking = applied_thinking(s, tokenizer, model.id)
        loaded = {spec.name: load_task(spec) for spec in specs}
        if thinking:
            scored = sorted(
                n
                for n, t in loaded.items()
                if any(task.OUTPUT_TYPE in LOGLIKELIHOOD_TYPES for task in t["tasks"].values())
            )
            if scored:
                raise EvalSettingsError(
                    f"thinking=True cannot score log-likelihood tasks: {', '.join(scored)}",
                    "evaluate them with thinking off (a separate run), or choose generative tasks",
                )
        estimates = self._estimate(loaded, tokenizer)
        loaded_model = load_model(
            model, self.mode, path=self.path, checkpoint=self.checkpoint, device=s.device, dtype=s.dtype, tiny=self.tiny
        )
        lm = make_lm(loaded_model, tokenizer, s, thinking)
        base = self._base(thinking)
        out = {}
        try:
            bar = tqdm(specs, desc=f"evaluating {model.id}", unit="task", disable=not progress)
            for spec in bar:
                bar.set_description(f"{model.id} · {spec.name}")
                tasks = loaded[spec.name]
                top = [tasks["groups"][spec.name]] if spec.name in tasks["groups"] else list(tasks["tasks"].values())
                measured_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                start = time.perf_counter()
                results = evaluator.simple_evaluate(
                    model=lm,
                    tasks=top,
                    num_fewshot=s.num_fewshot,
                    use_cache=use_cache,
                    limit=s.limit,
                    bootstrap_iters=s.bootstrap_iters,
                    log_samples=s.log_samples,
                    apply_chat_template=s.chat_template,
                    fewshot_as_multiturn=s.fewshot_as_multiturn and s.chat_template,
                    gen_kwargs=s.generation_arguments() or None,
                    task_manager=inline_manager(),
                    random_seed=s.seed,
                    numpy_random_seed=s.seed,
                    torch_random_seed=s.seed,
                    fewshot_random_seed=s.seed,
                )
                task = {
                    "requested_task": spec.name,
                    "task_kind": spec.kind,
                    "task_hash": spec.content_hash,
                    "batch_sizes_used": " ".join(map(str, results["config"].get("batch_sizes") or [])),
                    "eval_seconds": time.perf_counter() - start,
                    "estimated_seconds": estimates[spec.name],
                    "score_key": self.keys[spec.name],
                    "measured_at": measured_at,
                }
                if s.log_samples:
                    self._save_samples(results.get("samples", {}), spec.name, thinking)
                out[spec.name] = _frame([base | task | row for row in metric_rows(results, spec.name)])
        finally:
            del lm, loaded_model
            free_memory(resolve_device(s.device))
        return out

    def _save_samples(self, samples: dict, requested: str, thinking) -> None:
        """lm-eval's per-document records of one requested task (all its subtasks), one JSON object a line."""
        from lm_eval.utils import handle_non_serializable

        path = samples_path(
            self.model.id, run_label(self.checkpoint, self.settings.chat_template, thinking), requested, self.output_dir
        )
        lines = [
            json.dumps({"task": task, **record}, default=handle_non_serializable)
            for task, records in samples.items()
            for record in records
        ]
        write_text(path, "".join(line + "\n" for line in lines))

    def _estimate(self, loaded: dict, tokenizer) -> dict[str, float]:
        """Seconds per task from gentrend.evaluation.estimate; printed before the model loads."""
        s = self.settings
        throughput = evaluation_speed(s.device, self.dtype)
        tiny = self.tiny or (self.mode == "local" and shrunken_checkpoint(self.model, self.path))
        seconds = {}
        lines = []
        for name, tasks in loaded.items():
            work = task_workload(name, tasks, tokenizer, s)
            seconds[name] = estimate_seconds(self.model, work, throughput, self.dtype, batch_of(s), tiny=tiny)[
                "total_s"
            ]
            lines.append(
                f"  {name}: {work.requests:,} requests, {work.prompt_tokens:,} prompt tokens"
                + (f", up to {work.generated_tokens:,} generated" if work.generated_tokens else "")
                + f" -> ~{format_seconds(seconds[name])}"
            )
        if linear_attention_kernels(planned_kernels(self.model)) == "torch-fallback":
            lines.append(
                "  (not modelled: linear-attention layers will run in slow PyTorch fallback code; install "
                "flash-linear-attention and causal-conv1d for the fast kernels)"
            )
        lines.append(
            f"  assuming {throughput.flops / 1e9:,.0f} GFLOP/s ({throughput.flops_source}) x {throughput.compute_share}, "
            f"{throughput.bandwidth / 1e9:,.0f} GB/s ({throughput.bandwidth_source}) x {throughput.bandwidth_share}"
        )
        print(
            f"Estimate for {self.model.id} on {throughput.device} ({precision_name(self.dtype)}, batch {s.batch_size}): "
            f"~{format_seconds(sum(seconds.values()))} after model loading\n" + "\n".join(lines)
        )
        return seconds

    def _base(self, thinking) -> dict:
        s, m = self.settings, self.model
        return {
            "model_id": m.id,
            "model": m.name,
            "generation": m.generation,
            "params_total": m.params.total,
            "weights": "synthetic" if self.mode == "synthetic" else "real",
            "weights_source": self.source,
            "mode": self.mode,
            "checkpoint": self.checkpoint,
            "tiny": self.tiny,
            "chat_template": s.chat_template,
            "thinking": thinking,
            "fewshot_as_multiturn": s.fewshot_as_multiturn and s.chat_template,
            "limit": s.limit,
            "batch_size": str(s.batch_size),
            "max_gen_toks": s.max_gen_toks,
            "gen_kwargs": s.gen_kwargs,
            "dtype": str(self.dtype).removeprefix("torch."),
            "seed": s.seed,
            "settings_json": s.to_json(),
            "lm_eval": version("lm_eval"),
            **self.env,
            "env_fingerprint": fingerprint(self.env),
            "origin": ORIGIN,
        }


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    first = [c for c in SCHEMA_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]
