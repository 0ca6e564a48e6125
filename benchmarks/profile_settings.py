"""What the CPU defaults cost and buy: one model profiled with the default settings of a given checkout, timed,
with the plan's estimate beside it and the shared point (batch 1 x prompt 32) summarised: decode tokens/s median,
p10-p90 spread, runs.

    PYTHONPATH=lib python benchmarks/profile_settings.py [--model qwen3-0.6b] [--lib /path/to/other/checkout/lib]

--lib runs the same in a child process on another checkout's library (e.g. the code before a change), so the
two are timed on the same machine back to back. Each profile starts from an empty cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def one_profile(model: str) -> dict:
    from gentrend.profiling import defaults_for, profile

    settings = defaults_for("cpu")
    plan = None
    try:
        from gentrend.models.catalogue import load_catalogue
        from gentrend.models.planner import device_speed
        from gentrend.profiling.estimate import OVERHEADS, model_seconds

        estimate = model_seconds(load_catalogue().get(model), settings, device_speed("cpu"))
        plan = estimate["total"] - OVERHEADS["cpu"].notebook_s  # a profile() call: the notebook's overhead left out
    except ImportError:  # a checkout without the planner
        pass
    with tempfile.TemporaryDirectory(prefix="gentrend-profile-settings-") as cache_dir:
        started = time.perf_counter()
        rows = profile(model, settings=settings, cache_dir=cache_dir, progress=False)
        seconds = time.perf_counter() - started
    point = rows[
        (rows["scope"] == "point")
        & (rows["batch_size"] == 1)
        & (rows["prompt_length"] == 32)
        & (rows["metric"] == "decode_tokens_per_s")
    ].iloc[0]
    load = rows[rows["metric"] == "load_s"]["value"].iloc[0]
    return {
        "settings": settings.to_json(),
        "profile_s": seconds,
        "load_s": float(load),
        "estimate_s": plan,
        "decode_median": float(point["value"]),
        "decode_p10": float(point["p10"]),
        "decode_p90": float(point["p90"]),
        "runs": int(point["n_runs"]),
        "contended": bool(point.get("contended", False)),
        "ci_rel": float(point.get("ci_rel", float("nan"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b")
    parser.add_argument("--lib", help="another checkout's lib folder, run in a child process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lib:
        env = {**os.environ, "PYTHONPATH": args.lib}
        out = subprocess.run(
            [sys.executable, __file__, "--model", args.model, "--child"], env=env, stdout=subprocess.PIPE, text=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    else:
        result = one_profile(args.model)
    if args.child:
        print(json.dumps(result))
        return
    print(f"{args.model} with {result.pop('settings')}")
    for name, value in result.items():
        print(f"  {name}: {value:.3f}" if isinstance(value, float) else f"  {name}: {value}")


if __name__ == "__main__":
    main()
