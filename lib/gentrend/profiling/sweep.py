"""Run the grid batch x prompt length. A point that runs out of memory becomes a row with status "oom"
(memory is released and the sweep goes on); any other failure becomes status "error" with the message.
Points already measured are never lost: `on_point` is called after each one (the profiler writes a
partial file there), and points given in `done` (from an interrupted run) are not measured again.

The backend's runner is made once per batch size and shared by that batch's prompt lengths, so the compiled
backend compiles at most once per (model, batch size).

Contention: each point's measured runs are watched by a probe (`probe`: a factory of
gentrend.profiling.guard.ContentionProbe, injectable); a point the guard calls contended is measured again, up to
ProfileSettings.max_retries times. The record says how many times it was retried and whether it is still
contended (and why), with the stopping rule's outcome (runs, relative CI, bound or cap).

Progress: a bar in the notebook, and one line per point on the terminal when there is one (file descriptor 2
of a notebook kernel is the terminal `gentrend report` runs in), so a long GPU sweep shows where it is."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from gentrend.models.loading import LoadedModel
from gentrend.profiling import backends, guard, measure
from gentrend.profiling.settings import ProfileSettings

_CPU_OOM_MESSAGES = ("can't allocate memory", "out of memory", "not enough memory")


def is_oom(error: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA), or the CPU allocator's RuntimeError."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, (RuntimeError, MemoryError)) and (
        isinstance(error, MemoryError) or any(m in str(error).lower() for m in _CPU_OOM_MESSAGES)
    )


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]


def point_line(model: str, index: int, total: int, record: dict) -> str:
    """One line of progress: '  qwen3-8b bf16 [2/4] batch 1 x prompt 1024: 104.2 tok/s (compile 95 s)'."""
    where = f"  {model} [{index}/{total}] batch {record['batch_size']} x prompt {record['prompt_length']}: "
    if record["status"] != "ok":
        return where + f"{record['status'].upper()} ({record['error'][:80]})"
    m = record["metrics"]
    compile_s = m.get("compile_s", {}).get("value", 0)
    return (
        where
        + f"{m['decode_tokens_per_s']['value']:.1f} tok/s decode, TTFT {1000 * m['ttft_s']['value']:.0f} ms"
        + (f" (compile {compile_s:.0f} s)" if compile_s >= 1 else "")
        + (f" [{record['fallback']}]" if record["fallback"] else "")
        + (f" [CONTENDED: {record['contention']}]" if record.get("contended") else "")
    )


_COMPILE_METRICS = ("compile_s", "graphs_compiled")
_RUN_DEFAULTS = {"ci_rel": float("nan"), "stopped_on": "", "cpu_others_share": float("nan"), "compile_cache": ""}


def _to_terminal(line: str) -> None:
    if os.isatty(2):
        os.write(2, f"\r{line}\n".encode())


def run_sweep(
    loaded: LoadedModel,
    settings: ProfileSettings,
    on_point: Callable[[dict], None] | None = None,
    progress: bool = True,
    done: set[tuple[int, int]] = frozenset(),
    probe: Callable[[], guard.ContentionProbe] | None = None,
) -> list[dict]:
    """One record per measured point: {batch_size, prompt_length, status, error, fallback, sdpa, metrics, ci_rel,
    stopped_on, cpu_others_share, compile_cache, retries, contended, contention}; the points in `done` are
    skipped. `probe`: makes the contention probe of a measurement (default: guard.ContentionProbe)."""
    probe = probe or guard.ContentionProbe
    records, runners = [], {}
    todo = [point for point in settings.points if point not in done]
    label = f"{loaded.catalogue_id} {loaded.precision}"
    bar = tqdm(todo, desc=f"profiling {label} ({settings.backend})", unit="point", disable=not progress, leave=False)
    for index, (batch, prompt) in enumerate(bar, 1):
        bar.set_postfix(batch=batch, prompt=prompt)
        status, error, metrics, runner, why, retries = "ok", "", {}, runners.get(batch), "", 0
        try:
            if runner is None:
                runner = runners[batch] = backends.make_runner(loaded, settings, batch)
            compiled = {}
            for attempt in range(settings.max_retries + 1):
                retries = attempt
                metrics = measure.measure_point(loaded, settings, batch, prompt, runner=runner, probe=probe())
                # a compile happens in the first attempt: the point's compile counts keep it across retries
                for name in _COMPILE_METRICS:
                    if name in metrics:
                        compiled[name] = compiled.get(name, 0.0) + metrics[name]["value"]
                        metrics[name] = metrics[name] | {
                            "value": compiled[name],
                            "p10": compiled[name],
                            "p90": compiled[name],
                        }
                run = getattr(metrics, "run", {})
                why = guard.contention(
                    run.get("cpu_others_share", 0.0),
                    run.get("ci_rel", 0.0),
                    run.get("stopped_on", ""),
                    settings.ci_bound,
                )
                if not why:
                    break
                if progress:
                    _to_terminal(f"  {label} batch {batch} x prompt {prompt}: contended ({why}), measuring again")
        except Exception as e:
            status = "oom" if is_oom(e) else "error"
            error = _message(e)
            del e  # drop the traceback (and the tensors its frames hold) before releasing memory
        if status != "ok":
            measure.free_memory(loaded.device)
        record = {
            "batch_size": batch,
            "prompt_length": prompt,
            "status": status,
            "error": error,
            "fallback": getattr(runner, "fallback", ""),
            "sdpa": getattr(runner, "sdpa", None) or "",
            "metrics": metrics,
            **_RUN_DEFAULTS,
            **getattr(metrics, "run", {}),
            "retries": retries,
            "contended": bool(why),
            "contention": why,
        }
        records.append(record)
        if progress:
            _to_terminal(point_line(label, index, len(todo), record))
        if on_point:
            on_point(record)
    return records
