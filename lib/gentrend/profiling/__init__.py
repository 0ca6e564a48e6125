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

from gentrend.core.lazy import lazy_exports

# each name is imported from its module when first used: reading results never imports torch
__all__ = lazy_exports(
    __name__,
    {
        "backends": ("GenerateRunner", "StaticDecoder", "compile_counters"),
        "cache": ("CacheWarning",),
        "estimate": ("profile_plan", "quantized_models", "sweep_seconds"),
        "measure": ("measure_point",),
        "profile": ("ProfilingWarning", "profile", "profile_precisions"),
        "results": (
            "SCHEMA_COLUMNS",
            "bandwidth_path",
            "load_run_results",
            "memory_validation",
            "partial_results_path",
            "precision_table",
            "results_path",
            "save_results",
            "summary_table",
            "wide",
        ),
        "settings": ("BACKENDS", "ProfileSettings", "ProfileSettingsError", "defaults_for", "quantized_precisions"),
        "sweep": ("is_oom", "run_sweep"),
    },
)
