"""One screen about a GPU run folder: device and both bandwidths, then per model and weight precision the
compile time, batch-1 decode speed, share of both rooflines, peak memory against the memory model, kernel
path per op and any fallback; then the reference loop's ratio (from results/reference_loop.json).

    python benchmarks/gpu_summary.py reports/<run-id>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from gentrend.profiling import load_run_results, precision_table, summary_table, wide


def summary(run_dir: Path) -> str:
    rows = load_run_results(run_dir)
    if rows.empty:
        return f"{run_dir}: no profiling results"
    w = wide(rows)
    first = w.iloc[0]
    datasheet = first.get("memory_bandwidth_datasheet_gb_s")
    lines = [
        f"{run_dir.name}: {first['device_name']} ({first['device']}), torch {rows['torch'].iloc[0]}, "
        f"transformers {rows['transformers'].iloc[0]}",
        f"memory bandwidth: measured {first['memory_bandwidth_gb_s']:.0f} GB/s (copy test), datasheet "
        + (f"{datasheet:.0f} GB/s" if pd.notna(datasheet) else "unknown"),
        "",
    ]
    table = summary_table(rows)[
        [
            "model",
            "dtype",
            "point (batch × prompt)",
            "decode tok/s median [p10–p90]",
            "% of roofline (measured bandwidth)",
            "% of roofline (datasheet bandwidth)",
            "compile s",
            "peak memory GiB",
            "kernel path",
            "fallback",
            "device busy",
        ]
    ]
    lines += [table.to_string(index=False, float_format=lambda v: f"{v:.1f}"), ""]
    precisions = precision_table(rows)
    if not precisions.empty:
        lines += [
            "weight precisions (batch 1): measured vs memory model",
            precisions[
                [
                    "model",
                    "dtype",
                    "decode tok/s",
                    "speed vs float weights",
                    "peak memory GiB (measured)",
                    "memory GiB (memory model)",
                    "energy J/token",
                ]
            ].to_string(index=False, float_format=lambda v: f"{v:.2f}"),
            "",
        ]
    loop_file = run_dir / "results" / "reference_loop.json"
    if loop_file.exists():
        r = json.loads(loop_file.read_text())
        lines.append(
            f"reference loop ({r['model']}, batch {r['batch']}, prompt {r['prompt']}): loop {r['loop_tokens_per_s']:.1f} "
            f"tok/s, profiler {r['profiler_tokens_per_s']:.1f} tok/s = {100 * r['profiler_vs_loop']:.0f} % of the loop "
            "(target >= 90 %); loop at "
            + ", ".join(f"{100 * v:.0f} % of the {k}-bandwidth roofline" for k, v in r["loop_vs_roofline"].items())
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
