"""Where a report's notebook jobs run: `local` (default: here, one after another, as always) or `ray` (Ray tasks on
a cluster, independent jobs side by side). The order comes from gentrend.pipeline.executors.graph.

An executor is a context manager with: start(run_dir, log) (connect, check); submit(index, job); finished() ->
[(index, action)], waiting for at least one job, where action() puts the job's outputs into the run folder (and
raises its error) and runs inside the run's step bookkeeping (gentrend.pipeline.steps); pending() and running
(counts); cancel(). Ray is imported only by the Ray executor.
"""

from __future__ import annotations

from gentrend.core.errors import SettingError

EXECUTORS = ("local", "ray")


def make_executor(name: str = "local", address: str = ""):
    if name == "local":
        from gentrend.pipeline.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from gentrend.pipeline.executors.ray_executor import RayExecutor

        return RayExecutor(address)
    raise SettingError(f"unknown executor {name!r}", f"use one of: {', '.join(EXECUTORS)}")
