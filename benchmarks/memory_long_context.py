"""The memory model against measurement at long prompts, per component. Not a test: run it by hand.

    .venv/bin/python benchmarks/memory_long_context.py [--models qwen2.5-0.5b ...] [--prompts 2048 8192]
                                                       [--out memory_long_context.csv] [--tiny]

Per model (default: the smallest of each generation, official architecture, synthetic weights, fp32, batch
1, on the CPU) and prompt length, a fresh process runs the profiler (`gentrend.profiling.profile`: a
WARMUP_TOKENS point first, which takes the one-time allocations of the first generate() call, then the
prompt; one run each, 2 new tokens). A process per point keeps memory freed by one point (and kept by the
allocator) out of the next one's measurement. The components are measured as:

    weights      process RSS after loading - before (the profiler's weights_measured_gib)
    runtime      peak RSS during the point - RSS before it (the profiler's runtime_memory_gib)
    kv_state     tensor bytes of the cache transformers keeps, counted after two short prefills in this
                 process (a fixed part plus bytes per token, both measured, taken at prompt + new tokens)
    activations  runtime - kv_state;  total = weights + runtime

and compared with `gentrend.models.memory_model.estimate` for an unchunked prefill (transformers' generate() runs
the whole prompt in one forward: prefill_chunk=None) by `memory_model.component_errors`. Prints the table
and writes it as CSV. Timings of a shared machine do not matter here; memory does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

import pandas as pd
import torch

from gentrend.core.files import write_csv
from gentrend.models.catalogue import load_catalogue
from gentrend.models.loading import load_model
from gentrend.models.memory_model import GIB, component_errors, estimate
from gentrend.profiling import ProfileSettings, profile, wide

NEW_TOKENS = 2  # the profiler's minimum: the cache then holds prompt + 2 tokens
WARMUP_TOKENS = 32  # a short first point: the first generate() call's one-time allocations land there
PROBE_TOKENS = (16, 32)  # two short prefills give the cache's fixed bytes and bytes per token


def tensor_bytes(obj) -> int:
    """Bytes of every tensor reachable from a cache object (its layers, their dicts and lists)."""
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("transformers"):
        return sum(tensor_bytes(v) for v in vars(obj).values())
    return 0


def measured_cache(model_id: str, dtype: str, tiny: bool) -> tuple[float, float]:
    """(fixed bytes, bytes per token) of the cache of one sequence, from two short prefills."""
    loaded = load_model(load_catalogue().get(model_id), "synthetic", device="cpu", dtype=dtype, tiny=tiny)
    sizes = []
    for n in PROBE_TOKENS:
        with torch.inference_mode():
            ids = torch.randint(0, loaded.model.config.vocab_size, (1, n))
            out = loaded.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        sizes.append(tensor_bytes(out.past_key_values))
    per_token = (sizes[1] - sizes[0]) / (PROBE_TOKENS[1] - PROBE_TOKENS[0])
    return sizes[0] - per_token * PROBE_TOKENS[0], per_token


def measure_point(model_id: str, prompt: int, dtype: str, tiny: bool) -> dict:
    """Profile one prompt length (after the warm-up point) in this process: the profiler's memory metrics."""
    settings = ProfileSettings(
        batch_sizes=(1,),
        prompt_lengths=(WARMUP_TOKENS, prompt),
        new_tokens=NEW_TOKENS,
        warmup=0,
        min_runs=1,
        max_runs=1,
        device="cpu",
        dtype=dtype,
    )
    with tempfile.TemporaryDirectory() as cache_dir:
        rows = profile(
            model_id, "synthetic", settings=settings, tiny=tiny, force=True, cache_dir=cache_dir, progress=False
        )
    point = wide(rows).set_index("prompt_length").loc[prompt]
    return {
        k: point[k] for k in ("weights_measured_gib", "runtime_memory_gib", "ttft_s", "attn_implementation", "status")
    }


def compare(
    model_id: str, prompt: int, dtype: str, tiny: bool, measured: dict, cache: tuple[float, float]
) -> list[dict]:
    """Per-component rows of one point: the memory model (unchunked prefill, as generate() runs it) vs measured."""
    context = prompt + NEW_TOKENS
    kv_state = (cache[0] + cache[1] * context) / GIB
    components = {
        "weights": measured["weights_measured_gib"],
        "kv_state": kv_state,
        "activations": measured["runtime_memory_gib"] - kv_state,
        "runtime": measured["runtime_memory_gib"],
        "total": measured["weights_measured_gib"] + measured["runtime_memory_gib"],
    }
    predicted = estimate(
        load_catalogue().get(model_id),
        dtype,
        context,
        1,
        prefill_tokens=prompt,
        prefill_chunk=None,
        attn_implementation=measured["attn_implementation"],
        tiny=tiny,
    )
    return [
        {
            "model_id": model_id,
            "prompt_length": prompt,
            "context": context,
            "dtype": dtype,
            "ttft_s": measured["ttft_s"],
            **row,
        }
        for row in component_errors(predicted, components)
    ]


def in_fresh_process(model_id: str, prompt: int, dtype: str, tiny: bool) -> dict:
    """`measure_point` in a child process (this script with --point), its result read back as JSON."""
    command = [sys.executable, __file__, "--point", model_id, str(prompt), "--dtype", dtype] + (
        ["--tiny"] if tiny else []
    )
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=[m.id for m in load_catalogue().smallest_per_generation()])
    ap.add_argument("--prompts", nargs="+", type=int, default=[2048, 8192])
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--out", default="memory_long_context.csv")
    ap.add_argument("--tiny", action="store_true", help="shrunken architectures (quick check of the script)")
    ap.add_argument("--point", nargs=2, metavar=("MODEL", "PROMPT"), help=argparse.SUPPRESS)  # the child's job
    args = ap.parse_args()
    if args.point:
        print(json.dumps(measure_point(args.point[0], int(args.point[1]), args.dtype, args.tiny), default=str))
        return
    rows = []
    for model_id in args.models:
        cache = measured_cache(model_id, args.dtype, args.tiny)
        for prompt in args.prompts:
            rows += compare(
                model_id,
                prompt,
                args.dtype,
                args.tiny,
                in_fresh_process(model_id, prompt, args.dtype, args.tiny),
                cache,
            )
    table = pd.DataFrame(rows)
    write_csv(table, args.out)
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        print(table.drop(columns=["dtype"]).to_string(index=False))


if __name__ == "__main__":
    main()
