"""Profiler overhead: the profiler's measured end-to-end time of a point vs a bare timing loop around the same
backend runner, same inputs (no memory sampler, no warm-up logic, no counters). Not a test: run it by hand.

    .venv/bin/python benchmarks/profiler_overhead.py [--model qwen3-0.6b] [--device cpu] [--backend eager] [--runs 7]

Prints both medians, the overhead in % and per generated token. Interleaves the two (bare, profiler, bare,
...) so drift of the machine affects both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

from gentrend.models.catalogue import load_catalogue
from gentrend.models.loading import load_model
from gentrend.profiling import ProfileSettings, measure
from gentrend.profiling.backends import make_runner, sync


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen3-0.6b")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--backend", default="eager", help="eager (transformers generate) or compiled")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tiny", action="store_true", help="shrunken architecture (quick check of the script)")
    args = ap.parse_args()

    loaded = load_model(
        load_catalogue().get(args.model), "synthetic", device=args.device, dtype=args.dtype, tiny=args.tiny
    )
    settings = ProfileSettings(
        batch_sizes=(args.batch,),
        prompt_lengths=(args.prompt,),
        new_tokens=args.new_tokens,
        warmup=0,
        min_runs=1,
        max_runs=1,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
    )
    inputs = measure.make_inputs(loaded.model.config.vocab_size, args.batch, args.prompt, settings.seed, loaded.device)
    runner = make_runner(loaded, settings, args.batch)

    def bare() -> float:
        sync(loaded.device)
        start = time.perf_counter()
        runner(inputs)
        sync(loaded.device)
        return time.perf_counter() - start

    for _ in range(3):  # warm-up for both (compiles on the compiled backend)
        bare()
    bare_times, profiler_times = [], []
    for _ in range(args.runs):
        bare_times.append(bare())
        profiler_times.append(
            measure.measure_point(loaded, settings, args.batch, args.prompt, runner=runner)["e2e_s"]["value"]
        )
    b, p = statistics.median(bare_times), statistics.median(profiler_times)
    print(
        f"model {args.model}{' (tiny)' if args.tiny else ''}, synthetic, {loaded.device}, {loaded.dtype}, {args.backend}, "
        f"batch {args.batch}, prompt {args.prompt}, {args.new_tokens} new tokens, {args.runs} runs each"
    )
    print(
        f"bare loop       median {b * 1000:9.2f} ms  (min {min(bare_times) * 1000:.2f}, max {max(bare_times) * 1000:.2f})"
    )
    print(
        f"profiler (E2E)  median {p * 1000:9.2f} ms  (min {min(profiler_times) * 1000:.2f}, max {max(profiler_times) * 1000:.2f})"
    )
    print(
        f"overhead        {100 * (p - b) / b:+.2f} %  = {(p - b) / args.new_tokens * 1000:+.3f} ms per generated token"
    )


if __name__ == "__main__":
    main()
