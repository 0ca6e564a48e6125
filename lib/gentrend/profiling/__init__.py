"""Latency and memory profiler for catalogue models (CPU and CUDA; synthetic or real weights).

    rows = profile("qwen3-0.6b", settings=defaults_for("cpu"))      # tidy long rows, cached
    save_results(rows, "qwen3-0.6b", output_dir)                      # <run>/results/profile_<model>.csv
    summary_table(load_run_results(output_dir))                       # what the trend report shows

Modules: settings (validated ProfileSettings, per-device defaults), measure (one point: TTFT, TPOT, decode/prefill throughput, memory, energy), sweep (the grid; OOM and errors
recorded, sweep continues), cache (reuse results), profile (load + sweep + rows, gentrend.environment on every row), results (schema,
tables).
"""

from .measure import measure_point
from .profile import profile
from .results import (SCHEMA_COLUMNS, load_run_results, memory_validation, partial_results_path, results_path,
                      save_results, summary_table, wide)
from .settings import BACKENDS, ProfileSettings, ProfileSettingsError, defaults_for
from .sweep import is_oom, run_sweep

__all__ = [
    "BACKENDS", "ProfileSettings", "ProfileSettingsError", "SCHEMA_COLUMNS", "defaults_for", "is_oom",
    "load_run_results", "measure_point", "memory_validation", "partial_results_path", "profile", "results_path", "run_sweep",
    "save_results", "summary_table", "wide",
]
