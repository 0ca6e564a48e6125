"""Simulated sweep on Ray: M jobs of t seconds (a sleep) over N declared GPU slots, for N = 1, 2, 4, 8.

Each job asks for one slot of a declared resource (nothing real behind it: Ray only counts), so at most N run at
once and the ideal makespan is ceil(M/N)·t. One local Ray instance serves every N (a resource `slots_<N>` of N units
per sweep), and each sweep is run once untimed first so that its N worker processes exist (the cold run's cost is
printed too: on a real cluster each node pays it once). Also prints Ray's own cost per task: the round trip of an
empty task and the throughput of many.

`--plan` instead prints what a profiling sweep of every catalogue model on CUDA (the report's default settings and
int8/int4 choice) would take on N GPUs by gentrend's own plan (gentrend.profiling.estimate, per-model seconds):
each profiling job holds one GPU, jobs start in the plan's order on the first free GPU (as Ray hands them out),
against the ideal sum/N and the longest single job (no schedule can beat it). No Ray needed.

    python benchmarks/ray_makespan.py [--jobs 16] [--seconds 0.5] [--slots 1 2 4 8]
    python benchmarks/ray_makespan.py --plan [--slots 1 2 4 8]
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
    parser.add_argument("--plan", action="store_true", help="the catalogue's GPU sweep by the plan, no Ray")
    args = parser.parse_args(argv)
    if args.plan:
        plan_sweep(args.slots)
        return

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


def list_schedule(seconds: list[float], slots: int) -> float:
    """Makespan of jobs started in order, each on the slot that frees first."""
    free = [0.0] * slots
    for t in seconds:
        free.sort()
        free[0] += t
    return max(free)


def plan_sweep(slots: list[int]) -> None:
    from gentrend.models.catalogue import load_catalogue
    from gentrend.profiling import defaults_for, quantized_models
    from gentrend.profiling.estimate import sweep_seconds

    catalogue = load_catalogue()
    models = list(catalogue)
    settings = defaults_for("cuda", dtype="bf16")
    quantized = quantized_models(models, settings, catalogue)
    table = sweep_seconds(models, settings, {m: ("int8", "int4") for m in quantized}, device_name="NVIDIA H100")
    seconds = table["total"].tolist()
    print(table.round(1).to_string(index=False))
    print(
        f"\n{len(models)} profiling jobs on CUDA ({settings.backend}, batch {list(settings.batch_sizes)}, prompts "
        f"{list(settings.prompt_lengths)}), int8/int4 for: {', '.join(quantized) or 'none (over the time budget)'}"
    )
    print(f"{'GPUs':>4} {'makespan min':>12} {'ideal min':>9} {'longest job min':>15} {'makespan/ideal':>14}")
    for n in slots:
        makespan, ideal = list_schedule(seconds, n), sum(seconds) / n
        print(f"{n:>4} {makespan / 60:>12.1f} {ideal / 60:>9.1f} {max(seconds) / 60:>15.1f} {makespan / ideal:>14.2f}")


def _sweeps(ray, args, temp_dir: str, started: float) -> None:
    # num_workers_soft_limit: Ray kills idle worker processes beyond num_cpus after a second; keep one per slot so
    # that the timed sweeps measure scheduling, not process starts (~2 s each here).
    ray.init(
        num_cpus=args.cpus,
        num_gpus=0,
        resources={f"slots_{n}": n for n in args.slots},
        object_store_memory=80 * 1024 * 1024,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        logging_level="warning",
        log_to_driver=False,
        _system_config={"num_workers_soft_limit": max(args.slots) + args.cpus},
    )
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
    print(
        f"{'N':>3} {'ideal s':>8} {'cold s':>7} {'makespan s':>10} {'makespan/ideal':>14} "
        f"{'overhead/wave s':>15} {'processes':>9}"
    )
    for n in args.slots:
        cold, _ = sweep(n)  # starts the worker processes this N needs
        makespan, processes = sweep(n)
        waves = math.ceil(m / n)
        ideal = waves * t  # = M·t/N when N divides M
        print(
            f"{n:>3} {ideal:>8.2f} {cold:>7.2f} {makespan:>10.2f} {makespan / ideal:>14.3f} "
            f"{(makespan - ideal) / waves:>15.3f} {processes:>9}"
        )

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
    print(
        f"\nper-task overhead: round trip of one empty task {1000 * statistics.median(latencies):.2f} ms median "
        f"({1000 * statistics.quantiles(latencies, n=20)[-1]:.2f} ms p95, 200 in a row); "
        f"{count} empty tasks at once on {args.cpus} CPUs: {batch:.2f} s = {1000 * batch / count:.2f} ms each"
    )


if __name__ == "__main__":
    main()
