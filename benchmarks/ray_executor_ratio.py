"""The published-data stage of a report (`--no-profile --no-pdf`) with the local executor and with the Ray executor
(a local Ray instance, or `--ray-address`), each into a fresh reports folder with nothing to reuse: wall seconds of
each and their ratio (Ray / local: below 1 where independent notebooks ran side by side, above 1 where Ray's start
and the transfers cost more than that wins). The machine's load average is printed before and after: on a shared
machine the ratio is noisy.

    python benchmarks/ray_executor_ratio.py [--ray-address auto] [--order local ray]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gentrend.pipeline.request import ReportRequest
from gentrend.pipeline.runner import run_report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ray-address", default="", help="default: a local Ray instance")
    parser.add_argument("--order", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    args = parser.parse_args(argv)
    seconds = {}
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    for executor in args.order:
        request = ReportRequest(
            profile_models=(), executor=executor, ray_address=args.ray_address if executor == "ray" else ""
        )
        with tempfile.TemporaryDirectory(prefix="gentrend-bench-") as reports:
            start = time.perf_counter()
            result = run_report(executor, request, reports_dir=Path(reports), pdf=False)
            seconds[executor] = time.perf_counter() - start
        print(f"{executor}: {result.status} in {seconds[executor]:.1f} s")
    print(f"load average after: {os.getloadavg()}")
    if len(seconds) == 2:
        print(f"ray / local: {seconds['ray'] / seconds['local']:.2f}")


if __name__ == "__main__":
    main()
