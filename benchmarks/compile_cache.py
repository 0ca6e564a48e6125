"""Compiles paid once per machine: the compiled backend profiled twice, each time in a fresh process (as two runs
of `gentrend report` are), sharing one reports cache folder. The first run compiles cold; the second finds its
graphs in the compile cache (gentrend.profiling.compile_cache) and says "warm". Prints both compile times and
their ratio. The second run passes force=True: it re-measures, and keeps the compile cache.

    PYTHONPATH=lib python benchmarks/compile_cache.py [--model qwen3-0.6b] [--tiny] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time


def one_run(model: str, device: str, tiny: bool, cache_dir: str, force: bool) -> dict:
    """Profile one point with the compiled backend in this process; the point's compile time and cache state."""
    from gentrend.profiling import defaults_for, profile

    settings = defaults_for(device, backend="compiled", batch_sizes=[1], prompt_lengths=[32], new_tokens=8)
    started = time.perf_counter()
    rows = profile(model, settings=settings, tiny=tiny, cache_dir=cache_dir, force=force, progress=False)
    point = rows[(rows["scope"] == "point") & (rows["metric"] == "compile_s")].iloc[0]
    return {
        "compile_s": float(point["value"]),
        "compile_cache": point["compile_cache"],
        "profile_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CACHE_DIR", "FORCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.model, args.device, args.tiny, args.child[0], args.child[1] == "1")))
        return
    with tempfile.TemporaryDirectory(prefix="gentrend-compile-cache-") as cache_dir:
        results = []
        for force in ("0", "1"):
            command = [sys.executable, __file__, "--model", args.model, "--device", args.device, "--child", cache_dir]
            command += [force] + (["--tiny"] if args.tiny else [])
            out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    cold, warm = results
    for name, r in (("first run", cold), ("second run", warm)):
        print(f"{name}: compile {r['compile_s']:.1f} s ({r['compile_cache']}), profile {r['profile_s']:.1f} s")
    print(f"second / first compile time: {warm['compile_s'] / cold['compile_s']:.2f}")


if __name__ == "__main__":
    main()
