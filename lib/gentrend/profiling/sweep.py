"""Run the grid batch x prompt length. A point that runs out of memory becomes a row with status "oom"
(memory is released and the sweep goes on); any other failure becomes status "error" with the message.
Points already measured are never lost: `on_point` is called after each one (the profiler writes a
partial file there)."""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from ..loading import LoadedModel
from . import measure
from .settings import ProfileSettings

_CPU_OOM_MESSAGES = ("can't allocate memory", "out of memory", "not enough memory")


def is_oom(error: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA), or the CPU allocator's RuntimeError."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, (RuntimeError, MemoryError)) and (
        isinstance(error, MemoryError) or any(m in str(error).lower() for m in _CPU_OOM_MESSAGES)
    )


def run_sweep(
    loaded: LoadedModel,
    settings: ProfileSettings,
    on_point: Callable[[dict], None] | None = None,
    progress: bool = True,
) -> list[dict]:
    """One record per point: {batch_size, prompt_length, status, error, metrics}."""
    records = []
    bar = tqdm(settings.points, desc=f"profiling {loaded.catalogue_id}", disable=not progress, leave=False)
    for batch, prompt in bar:
        bar.set_postfix(batch=batch, prompt=prompt)
        status, error, metrics = "ok", "", {}
        try:
            metrics = measure.measure_point(loaded, settings, batch, prompt)
        except Exception as e:  # noqa: BLE001 - every failure is recorded, the sweep goes on
            status = "oom" if is_oom(e) else "error"
            error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]
            del e  # drop the traceback (and the tensors its frames hold) before releasing memory
        if status != "ok":
            measure.free_memory(loaded.device)
        record = {"batch_size": batch, "prompt_length": prompt, "status": status, "error": error, "metrics": metrics}
        records.append(record)
        if on_point:
            on_point(record)
    return records
