"""Time estimate of an evaluation, printed before it starts: the work lm-eval will do, timed by
gentrend.models.planner (the one time model of profiling and evaluation).

Work per task, counted on its documents after `limit` (a sample of up to SAMPLE_DOCS documents, scaled to
all): the requests lm-eval sends, their prompt tokens (few-shot context + continuation for log-likelihood
requests, the context for generation) and generated tokens (max_gen_toks per generation request: an upper
bound, generation usually stops earlier at a stop sequence). Choices that share a context and are one token
long (MMLU's A/B/C/D) cost one forward pass, as lm-eval's logits cache computes them. Chat-template markup is
not counted (a few tokens per turn).

Time: the planner's prefill over the prompt tokens and its decode steps over the generated tokens / batch, plus
lm-eval's own overhead (task_overhead_s + requests x request_overhead_s: set-up; tokenizing, batching, Python).
The device's figures are the planner's (on the CPU measured here; a GPU of data/evaluation.yaml by its
datasheets); the shares an lm-eval run sustains and the overheads are data/evaluation.yaml's (CPU ones
calibrated on measured runs). Batch "auto" counts as max_batch_size (lm-eval starts there and halves on
out-of-memory).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from gentrend.core.errors import DataError
from gentrend.core.vocab import precision_name
from gentrend.evaluation.data import load_evaluation_data
from gentrend.evaluation.settings import EvalSettings
from gentrend.models.architecture import text_config
from gentrend.models.catalogue import Model
from gentrend.models.planner import Speed, device_speed, prefill_seconds, step_seconds
from gentrend.models.roofline import gpu, gpu_for_device_name

SAMPLE_DOCS = 16
DEFAULT_MAX_GEN_TOKS = 256  # lm-eval's HFLM default when a task sets none


@dataclass(frozen=True)
class Workload:
    task: str
    requests: int
    prompt_tokens: int
    generated_tokens: int


def _documents(task, limit) -> int:
    n = len(task.eval_docs)
    if limit is None:
        return n
    return min(n, int(math.ceil(n * limit)) if limit < 1 else int(limit))


def _leaf_workload(task, tokenizer, settings: EvalSettings) -> tuple[int, int, int]:
    n = _documents(task, settings.limit)
    configured = task.config.num_fewshot
    shots = 0 if configured == 0 else (settings.num_fewshot if settings.num_fewshot is not None else configured or 0)
    docs = [task.eval_docs[i] for i in range(min(n, SAMPLE_DOCS))]
    count = lambda text: len(tokenizer(text)["input_ids"])
    requests = prompt = generated = 0
    for i, doc in enumerate(docs):
        ctx = task.fewshot_context(doc, shots)
        instances = task.construct_requests(doc=doc, ctx=ctx, metadata=(task.task_name, i, 1))
        instances = instances if isinstance(instances, list) else [instances]
        requests += len(instances)
        scored = [inst.arguments[:2] for inst in instances if inst.request_type != "generate_until"]
        if scored and all(count(c + x) - count(c) == 1 for c, x in scored):  # lm-eval's logits cache: one pass
            prompt += sum(count(c) + 1 for c in {c for c, _ in scored})
        else:
            prompt += sum(count(c + x) for c, x in scored)
        for inst in instances:
            if inst.request_type == "generate_until":
                context, gen_kwargs = inst.arguments
                prompt += count(context)
                generated += settings.max_gen_toks or gen_kwargs.get("max_gen_toks", DEFAULT_MAX_GEN_TOKS)
    scale = n / len(docs) if docs else 0
    return round(requests * scale), round(prompt * scale), round(generated * scale)


def task_workload(name: str, loaded: dict, tokenizer, settings: EvalSettings) -> Workload:
    """The work of one requested task (all its subtasks), from TaskManager.load's result for it."""
    parts = [_leaf_workload(task, tokenizer, settings) for task in loaded["tasks"].values()]
    return Workload(name, *(sum(p[i] for p in parts) for i in range(3)))


def gpu_speed(name: str) -> Speed:
    """Datasheet figures of a GPU of data/evaluation.yaml (compute) and data/gpus.yaml (bandwidth), with the shares
    an lm-eval run sustains."""
    data = load_evaluation_data()
    card = gpu(name)
    compute = data.gpus.get(card.name)
    if compute is None:
        raise DataError(
            f"no BF16 compute figure for GPU {card.name!r}",
            f"add it under `gpus:` in data/evaluation.yaml (known: {', '.join(data.gpus)})",
        )
    c = data.estimate
    return Speed(
        card.name,
        compute.bf16_tflops * 1e12,
        f"datasheet: {compute.source}",
        card.bandwidth_bytes_per_s,
        f"datasheet: {card.source}",
        c.gpu_compute_share,
        c.gpu_bandwidth_share,
        c.gpu_step_floor_s,
    )


def evaluation_speed(device: str, dtype: torch.dtype) -> Speed:
    """The planner's speed of this machine's device with lm-eval's shares: a listed GPU by its datasheets,
    otherwise measured (matmul and copy tests)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        known = gpu_for_device_name(torch.cuda.get_device_name(dev))
        if known is not None and known.name in load_evaluation_data().gpus:
            return gpu_speed(known.name)
    c = load_evaluation_data().estimate
    cuda = dev.type == "cuda"
    return replace(
        device_speed(str(dev), dtype),
        compute_share=c.gpu_compute_share if cuda else c.cpu_compute_share,
        bandwidth_share=c.gpu_bandwidth_share if cuda else c.cpu_bandwidth_share,
        step_floor_s=c.gpu_step_floor_s if cuda else 0.0,
        layer_overhead_s=0.0,
        decode_rates=(),  # lm-eval's shares are fitted against the copy test's bandwidth
    )


def estimate_seconds(
    model: Model, work: Workload, speed: Speed, dtype: str | torch.dtype, batch: int, tiny: bool = False
) -> dict[str, float]:
    """prefill_s, decode_s, overhead_s and total_s of `work` (see the module docstring)."""
    prefill = prefill_seconds(model, work.prompt_tokens, speed, tiny)
    decode = work.generated_tokens / batch * step_seconds(model, batch, 0, precision_name(dtype), speed, tiny)
    constants = load_evaluation_data().estimate
    overhead = constants.task_overhead_s + work.requests * constants.request_overhead_s
    return {"prefill_s": prefill, "decode_s": decode, "overhead_s": overhead, "total_s": prefill + decode + overhead}


def shrunken_checkpoint(model: Model, path: str | Path | None) -> bool:
    """Whether a local checkpoint holds the shrunken (tiny) copy of `model`'s architecture, as the test suite's
    checkpoints do: then the estimate is the tiny model's, not the catalogue model's."""
    try:
        config = json.loads((Path(path) / "config.json").read_text()) if path else {}
    except (OSError, ValueError):
        return False
    config = config.get("text_config", config)
    tiny = text_config(model, tiny=True)
    return (config.get("num_hidden_layers"), config.get("hidden_size")) == (tiny.num_hidden_layers, tiny.hidden_size)


def batch_of(settings: EvalSettings) -> int:
    return settings.max_batch_size if settings.batch_size == "auto" else int(settings.batch_size)


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
