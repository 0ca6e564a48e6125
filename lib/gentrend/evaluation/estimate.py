"""Time estimate of an evaluation, printed before it starts, and the planning table per model size.

Work per task, counted on its documents after `limit` (a sample of up to SAMPLE_DOCS documents, scaled to
all): the requests lm-eval sends, their prompt tokens (few-shot context + continuation for log-likelihood
requests, the context for generation) and generated tokens (max_gen_toks per generation request: an upper
bound, generation usually stops earlier at a stop sequence). Choices that share a context and are one token
long (MMLU's A/B/C/D) cost one forward pass, as lm-eval's logits cache computes them. Chat-template markup is
not counted (a few tokens per turn).

Time, for a model of N text parameters on a device of peak compute F (FLOP/s) and memory bandwidth B:

    prefill_s  = 2 N x prompt tokens / (F x compute_share)        (a forward pass costs about 2N FLOPs a token)
    decode_s   = generated tokens / batch x max(weight bytes / (B x bandwidth_share), 2 N batch / (F x compute_share),
                                                 step_floor_s)       (step_floor_s: launch-bound GPU steps)
    overhead_s = task_overhead_s + requests x request_overhead_s   (lm-eval set-up; tokenizing, batching, Python)
    total      = prefill_s + decode_s + overhead_s

F and B: on the CPU measured here (a matmul test at the evaluation dtype; gentrend.models.roofline's copy test); on
a GPU the datasheet figures (data/evaluation.yaml, data/gpus.yaml), measured for a GPU not listed there.
Shares and overhead: data/evaluation.yaml (GPU shares assumed, CPU ones calibrated on measured runs). Batch
"auto" counts as max_batch_size (lm-eval starts there and halves on out-of-memory).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import torch

from gentrend.core.errors import DataError
from gentrend.core.vocab import precision_name
from gentrend.evaluation.data import load_evaluation_data
from gentrend.evaluation.settings import EvalSettings
from gentrend.models.catalogue import Catalogue, Model
from gentrend.models.memory_model import param_counts, weights_read_per_token_bytes
from gentrend.models.roofline import device_bandwidth, gpu, gpu_for_device_name

SAMPLE_DOCS = 16
DEFAULT_MAX_GEN_TOKS = 256  # lm-eval's HFLM default when a task sets none


@dataclass(frozen=True)
class Workload:
    task: str
    requests: int
    prompt_tokens: int
    generated_tokens: int


# a 5-shot MMLU prompt is about 500-700 tokens; its four one-token choices share one forward pass
MMLU_STYLE = Workload("1,000 MMLU-style questions (600-token prompt, 4 one-token choices)", 4000, 601_000, 0)


@dataclass(frozen=True)
class Throughput:
    device: str
    flops: float
    flops_source: str
    bandwidth: float
    bandwidth_source: str
    compute_share: float
    bandwidth_share: float
    step_floor_s: float = 0.0


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


_MATMUL: dict[tuple[str, str], float] = {}


def measure_matmul_flops(
    device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = 1024, repeats: int = 5
) -> float:
    """FLOP/s of a square matmul at its best of `repeats` (after one warm-up: the best run is the one least
    disturbed by other work on the machine); measured once per device and dtype."""
    key = (device, str(dtype))
    if key not in _MATMUL:
        dev = torch.device(device)
        a = torch.randn(size, size, device=dev).to(dtype)
        b = torch.randn(size, size, device=dev).to(dtype)
        sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
        torch.matmul(a, b)
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            sync()
            times.append(time.perf_counter() - start)
        _MATMUL[key] = 2 * size**3 / min(times)
    return _MATMUL[key]


def gpu_throughput(name: str) -> Throughput:
    """Datasheet figures of a GPU of data/evaluation.yaml (compute) and data/gpus.yaml (bandwidth)."""
    data = load_evaluation_data()
    card = gpu(name)
    compute = data.gpus.get(card.name)
    if compute is None:
        raise DataError(
            f"no BF16 compute figure for GPU {card.name!r}",
            f"add it under `gpus:` in data/evaluation.yaml (known: {', '.join(data.gpus)})",
        )
    return Throughput(
        card.name,
        compute.bf16_tflops * 1e12,
        f"datasheet: {compute.source}",
        card.bandwidth_bytes_per_s,
        f"datasheet: {card.source}",
        data.estimate.gpu_compute_share,
        data.estimate.gpu_bandwidth_share,
        data.estimate.gpu_step_floor_s,
    )


def device_throughput(device: str, dtype: torch.dtype) -> Throughput:
    """This machine's device: a listed GPU by its datasheets, otherwise measured (matmul and copy tests)."""
    constants = load_evaluation_data().estimate
    dev = torch.device(device)
    if dev.type == "cuda":
        known = gpu_for_device_name(torch.cuda.get_device_name(dev))
        if known is not None and known.name in load_evaluation_data().gpus:
            return gpu_throughput(known.name)
    measured = device_bandwidth(dev)
    bandwidth, bandwidth_source = measured.measured, measured.measured_note
    cuda = dev.type == "cuda"
    return Throughput(
        str(dev),
        measure_matmul_flops(str(dev), dtype),
        f"measured {precision_name(dtype)} matmul on {dev}",
        bandwidth,
        bandwidth_source,
        constants.gpu_compute_share if cuda else constants.cpu_compute_share,
        constants.gpu_bandwidth_share if cuda else constants.cpu_bandwidth_share,
        constants.gpu_step_floor_s if cuda else 0.0,
    )


def estimate_seconds(
    model: Model, work: Workload, throughput: Throughput, dtype: str | torch.dtype, batch: int, tiny: bool = False
) -> dict[str, float]:
    """prefill_s, decode_s, overhead_s and total_s of `work` (see the module docstring for the formula)."""
    n_params = param_counts(model, tiny)[0]
    flops = throughput.flops * throughput.compute_share
    weight_bytes = weights_read_per_token_bytes(model, precision_name(dtype), tiny=tiny)
    prefill = 2 * n_params * work.prompt_tokens / flops
    step = max(
        weight_bytes / (throughput.bandwidth * throughput.bandwidth_share),
        2 * n_params * batch / flops,
        throughput.step_floor_s,
    )
    decode = work.generated_tokens / batch * step
    constants = load_evaluation_data().estimate
    overhead = constants.task_overhead_s + work.requests * constants.request_overhead_s
    return {"prefill_s": prefill, "decode_s": decode, "overhead_s": overhead, "total_s": prefill + decode + overhead}


def batch_of(settings: EvalSettings) -> int:
    return settings.max_batch_size if settings.batch_size == "auto" else int(settings.batch_size)


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def planning_table(
    catalogue: Catalogue,
    throughputs: list[Throughput],
    work: Workload = MMLU_STYLE,
    batch: int = 32,
    dtypes: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Estimated time of `work` for every catalogue model on each device (dtypes: device -> dtype; default
    fp32 on the CPU, bf16 elsewhere)."""
    rows = []
    for tp in throughputs:
        dtype = (dtypes or {}).get(tp.device) or ("fp32" if tp.device == "cpu" else "bf16")
        for m in catalogue:
            seconds = estimate_seconds(m, work, tp, dtype, batch)["total_s"]
            rows.append(
                {
                    "model": m.name,
                    "params_total": m.params.total,
                    "device": tp.device,
                    "dtype": dtype,
                    "workload": work.task,
                    "seconds": seconds,
                    "time": format_seconds(seconds),
                }
            )
    return pd.DataFrame(rows)
