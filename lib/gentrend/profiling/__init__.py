"""Latency and memory profiler for catalogue models (CPU and CUDA; synthetic, real or int8/int4 weights).

    rows = profile("qwen3-0.6b", settings=defaults_for("cpu"))      # tidy long rows, cached
    save_results(rows, "qwen3-0.6b", output_dir)                      # <run>/results/profile_<model>.csv
    summary_table(load_run_results(output_dir))                       # what the trend report shows

Modules: settings (validated ProfileSettings, per-device defaults), backends (compiled: static cache + compiled
decode step; eager: transformers generate), measure (one point: warm-up until stable, TTFT, TPOT, decode/prefill
throughput, memory, energy, compiles), sweep (the grid; one backend runner per batch size; OOM and errors
recorded, sweep goes on), guard (per-device lock, busy note), cache (checksummed reuse, interrupted sweeps
resumed), profile (load + sweep + rows, gentrend.core.environment on every row), estimate (how long a sweep takes,
through gentrend.models.planner), stopping (when a point has run enough), compile_cache (compiles kept per
machine), results (schema, tables).
"""

from gentrend.profiling.backends import GenerateRunner, StaticDecoder, compile_counters
from gentrend.profiling.cache import CacheWarning
from gentrend.profiling.estimate import profile_plan, quantized_models, sweep_seconds
from gentrend.profiling.measure import measure_point
from gentrend.profiling.profile import ProfilingWarning, profile, profile_precisions
from gentrend.profiling.results import (
    SCHEMA_COLUMNS,
    bandwidth_path,
    load_run_results,
    memory_validation,
    partial_results_path,
    precision_table,
    results_path,
    save_results,
    summary_table,
    wide,
)
from gentrend.profiling.settings import (
    BACKENDS,
    ProfileSettings,
    ProfileSettingsError,
    defaults_for,
    quantized_precisions,
)
from gentrend.profiling.sweep import is_oom, run_sweep

__all__ = [
    "BACKENDS",
    "CacheWarning",
    "GenerateRunner",
    "ProfileSettings",
    "ProfileSettingsError",
    "SCHEMA_COLUMNS",
    "StaticDecoder",
    "bandwidth_path",
    "compile_counters",
    "defaults_for",
    "profile_plan",
    "is_oom",
    "load_run_results",
    "measure_point",
    "memory_validation",
    "partial_results_path",
    "precision_table",
    "profile",
    "profile_precisions",
    "ProfilingWarning",
    "quantized_models",
    "quantized_precisions",
    "results_path",
    "run_sweep",
    "save_results",
    "summary_table",
    "sweep_seconds",
    "wide",
]
