"""Evaluate one catalogue model on a list of tasks with lm-evaluation-harness; tidy rows, cached per task.

Order of work, so that every error a user can fix comes before anything slow: settings, weights source and
task names, the result cache (a task whose key matches is not run again), then for the rest: the weights
(a local folder, or the hub cache when offline, is checked for config, weights and tokenizer), tokenizer,
datasets (an unavailable dataset stops here), the time estimate (printed), the model, and one
`lm_eval.simple_evaluate` call per task on the same loaded model, with a progress bar naming model and task.
Each task's rows are cached as soon as it finishes.

Cache key per task: model id, loading mode, weights source, checkpoint, tiny, dtype, task name, task version,
user-task content hash, the settings that decide the score, the lm-eval version and the environment
fingerprint. lm-eval's response cache (sqlite) is kept per model and weights; force=True bypasses both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from gentrend.core.devices import resolve_device
from gentrend.core.environment import environment, fingerprint
from gentrend.core.errors import GentrendError
from gentrend.core.vocab import precision_name, resolve_precision, torch_dtype
from gentrend.evaluation import cache
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
    check_hub_cache,
    load_tokenizer,
    make_lm,
)
from gentrend.evaluation.results import ORIGIN, SCHEMA_COLUMNS, metric_rows
from gentrend.evaluation.settings import EvalSettings, EvalSettingsError
from gentrend.evaluation.tasks import TaskSpec, inline_manager, load_task, resolve_tasks
from gentrend.models.catalogue import Catalogue, Model, load_catalogue
from gentrend.models.loading import (
    Checkpoint,
    Mode,
    linear_attention_kernels,
    load_model,
    planned_kernels,
    weights_source,
)
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
) -> pd.DataFrame:
    """Score `model_id` (weights from `mode`: hub repo, local `path`, or synthetic for smoke runs) on
    settings.tasks and return tidy rows (gentrend.evaluation.results). Tasks already measured with the same
    key come back from the cache (from_cache=True) unless force=True."""
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
    specs = resolve_tasks(settings.tasks, settings.task_dir)
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
        s.name: cache.cache_key(
            **weights, task=s.name, task_version=s.version, task_hash=s.content_hash, settings=settings.for_task()
        )
        for s in specs
    }
    found = {} if force else {s.name: cache.load_cached(model.id, s.name, keys[s.name], cache_dir) for s in specs}
    pending = [s for s in specs if found.get(s.name) is None]
    if pending:
        # lm-eval's response cache is keyed by request only: one database per weights, dtype and device type
        weights_key = hashlib.sha256(
            repr([mode, source, checkpoint, tiny, str(dtype), device.type]).encode()
        ).hexdigest()[:16]
        run = _Run(
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
        )
        found |= run.tasks(pending, force, cache_dir, progress)
    measured = {s.name for s in pending}
    frames = [found[s.name].assign(from_cache=s.name not in measured) for s in specs]
    return pd.concat(frames, ignore_index=True)


@dataclass
class _Run:
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

    def tasks(self, specs: list[TaskSpec], force: bool, cache_dir, progress: bool) -> dict[str, pd.DataFrame]:
        from lm_eval import evaluator

        s, model = self.settings, self.model
        if self.mode == "local":
            check_checkpoint_folder(self.source)
        if self.mode == "hub":
            check_hub_cache(self.source)
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
        use_cache = None if force else cache.request_cache(model.id, self.weights_key, cache_dir)
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
                    log_samples=False,
                    apply_chat_template=s.chat_template,
                    fewshot_as_multiturn=s.fewshot_as_multiturn and s.chat_template,
                    gen_kwargs={"max_gen_toks": s.max_gen_toks} if s.max_gen_toks else None,
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
                    "cache_key": self.keys[spec.name],
                    "measured_at": measured_at,
                }
                frame = _frame([base | task | row for row in metric_rows(results, spec.name)])
                cache.save_cached(frame, model.id, spec.name, self.keys[spec.name], cache_dir)
                out[spec.name] = frame
        finally:
            del lm, loaded_model
            free_memory(resolve_device(s.device))
        return out

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
