"""Simulated sweep on Ray: M jobs of t seconds (a sleep) over N declared GPU slots, for N = 1, 2, 4, 8.

Each job asks for one slot of a declared resource (nothing real behind it: Ray only counts), so at most N run at
once and the ideal makespan is ceil(M/N)·t. One local Ray instance serves every N (a resource `slots_<N>` of N units
per sweep), and each sweep is run once untimed first so that its N worker processes exist (the cold run's cost is
printed too: on a real cluster each node pays it once). Also prints Ray's own cost per task: the round trip of an
empty task and the throughput of many.

    python benchmarks/ray_makespan.py [--jobs 16] [--seconds 0.5] [--slots 1 2 4 8]
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import statistics
import tempfile
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16, help="M")
    parser.add_argument("--seconds", type=float, default=0.5, help="t, each job's length")
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4, 8], help="the values of N")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs declared for the empty-task measurement")
    args = parser.parse_args(argv)

    if "RAY_AUTH_MODE" not in os.environ:  # else a new local instance writes a token to ~/.ray/auth_token
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))  # (read when ray is imported)
    import ray

    temp_dir = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short (socket paths), private, removed at the end
    started = time.perf_counter()
    try:
        _sweeps(ray, args, temp_dir, started)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _sweeps(ray, args, temp_dir: str, started: float) -> None:
    # num_workers_soft_limit: Ray kills idle worker processes beyond num_cpus after a second; keep one per slot so
    # that the timed sweeps measure scheduling, not process starts (~2 s each here).
    ray.init(num_cpus=args.cpus, num_gpus=0, resources={f"slots_{n}": n for n in args.slots},
             object_store_memory=80 * 1024 * 1024, include_dashboard=False, _node_ip_address="127.0.0.1",
             _temp_dir=temp_dir, logging_level="warning", log_to_driver=False,
             _system_config={"num_workers_soft_limit": max(args.slots) + args.cpus})
    print(f"ray {ray.__version__}: local instance up in {time.perf_counter() - started:.1f} s")

    @ray.remote(num_cpus=0)
    def job(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    @ray.remote(num_cpus=1)
    def empty() -> None:
        return None

    def sweep(n: int) -> tuple[float, int]:
        """(makespan, how many worker processes ran the jobs)"""
        start = time.perf_counter()
        pids = ray.get([job.options(resources={f"slots_{n}": 1}).remote(args.seconds) for _ in range(args.jobs)])
        return time.perf_counter() - start, len(set(pids))

    m, t = args.jobs, args.seconds
    print(f"\nM={m} jobs of t={t} s, each holding one of N declared slots")
    print(f"{'N':>3} {'ideal s':>8} {'cold s':>7} {'makespan s':>10} {'makespan/ideal':>14} "
          f"{'overhead/wave s':>15} {'processes':>9}")
    for n in args.slots:
        cold, _ = sweep(n)  # starts the worker processes this N needs
        makespan, processes = sweep(n)
        waves = math.ceil(m / n)
        ideal = waves * t  # = M·t/N when N divides M
        print(f"{n:>3} {ideal:>8.2f} {cold:>7.2f} {makespan:>10.2f} {makespan / ideal:>14.3f} "
              f"{(makespan - ideal) / waves:>15.3f} {processes:>9}")

    ray.get([empty.remote() for _ in range(args.cpus * 2)])  # warm
    latencies = []
    for _ in range(200):
        start = time.perf_counter()
        ray.get(empty.remote())
        latencies.append(time.perf_counter() - start)
    count = 2000
    start = time.perf_counter()
    ray.get([empty.remote() for _ in range(count)])
    batch = time.perf_counter() - start
    print(f"\nper-task overhead: round trip of one empty task {1000 * statistics.median(latencies):.2f} ms median "
          f"({1000 * statistics.quantiles(latencies, n=20)[-1]:.2f} ms p95, 200 in a row); "
          f"{count} empty tasks at once on {args.cpus} CPUs: {batch:.2f} s = {1000 * batch / count:.2f} ms each")


if __name__ == "__main__":
    main()
