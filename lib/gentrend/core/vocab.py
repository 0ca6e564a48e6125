"""The suite's vocabulary, defined once: precision names, comparison tracks, size conventions, display labels
and generation colours. Every other module imports these instead of spelling them again.

Precision. Canonical names fp32, bf16, fp16 (floating point) and int8, int4 (weight-only quantized). Aliases
('bfloat16', 'torch.float16', '8bit', ...) are accepted on input and never stored. "auto" has one meaning:
bf16 on a GPU, fp32 on the CPU (where bf16 matmuls are slow on most processors); it is resolved once, with
the device, by `resolve_precision`.
"""

from __future__ import annotations

from gentrend.core.errors import SettingError
from gentrend.core.text import shorten

# --- precision ----------------------------------------------------------------------------------------------

FLOAT_PRECISIONS = ("fp32", "bf16", "fp16")
QUANTIZED_PRECISIONS = ("int8", "int4")
PRECISIONS = FLOAT_PRECISIONS + QUANTIZED_PRECISIONS
BITS_PER_PARAM = {"fp32": 32, "bf16": 16, "fp16": 16, "int8": 8, "int4": 4}
TORCH_DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "8bit": "int8", "4bit": "int4"}


def precision_name(precision) -> str:
    """Canonical precision name of a name, alias or torch dtype: fp32, bf16, fp16, int8 or int4."""
    name = str(precision).removeprefix("torch.").lower()
    name = _ALIASES.get(name, name)
    if name not in BITS_PER_PARAM:
        raise SettingError(f"unknown precision {shorten(precision)}", f"use auto or one of: {', '.join(PRECISIONS)}")
    return name


def resolve_precision(precision: str, device_type: str) -> str:
    """'auto' → bf16 on a GPU, fp32 elsewhere; any other name → its canonical name."""
    if precision == "auto":
        return "bf16" if device_type == "cuda" else "fp32"
    return precision_name(precision)


def bytes_per_param(precision) -> float:
    return BITS_PER_PARAM[precision_name(precision)] / 8


def compute_precision(precision) -> str:
    """The floating-point precision tensors are computed and cached in: quantized weights compute in bf16."""
    name = precision_name(precision)
    return name if name in FLOAT_PRECISIONS else "bf16"


def torch_dtype(precision):
    """The torch dtype of a floating-point precision (quantized precisions load as bf16 before quantizing)."""
    import torch

    return getattr(torch, TORCH_DTYPE_NAMES[compute_precision(precision)])


# --- comparison tracks and size conventions --------------------------------------------------------------------

TRACKS = ("base", "non-thinking", "thinking")
TRACK_OF_VARIANT = {"base": "base", "instruct": "non-thinking", "non-thinking": "non-thinking", "thinking": "thinking"}
SIZE_COLUMNS = {"total": "params_total", "non_embedding": "params_non_embedding"}
SIZE_CONVENTIONS = {"total": "text-only total parameters", "non_embedding": "non-embedding parameters"}


BACKENDS = ("eager", "compiled")  # profiling backends: transformers generate as is, or static cache + torch.compile
BACKEND_LABELS = {
    "compiled": "compiled (static cache + torch.compile, CUDA graphs on a GPU)",
    "eager": "transformers eager (reference)",
}
WEIGHT_MODES = ("synthetic", "hub", "local")


def backend_label(backend: str) -> str:
    """How tables name a profiling backend: eager is the "transformers eager" reference, labelled as such."""
    return BACKEND_LABELS.get(backend, backend)


def check_track(track: str) -> str:
    if track not in TRACKS:
        raise SettingError(f"unknown track {shorten(track)}", f"use one of: {', '.join(TRACKS)}")
    return track


def size_column(size: str) -> str:
    """The parameter-count column of a size convention ('total' → params_total)."""
    if size not in SIZE_COLUMNS:
        raise SettingError(f"unknown size convention {size!r}", f"use one of: {', '.join(SIZE_COLUMNS)}")
    return SIZE_COLUMNS[size]


# --- display labels ----------------------------------------------------------------------------------------------


def generation_label(family: str, generation: str) -> str:
    """'Qwen3.5' from family 'Qwen' and generation '3.5'."""
    return f"{family}{generation}"


def model_label(family: str, generation: str, size_label: str) -> str:
    """'Qwen3-1.7B': how every table and chart names a model."""
    return f"{generation_label(family, generation)}-{size_label}"


def model_labels(frame):
    """`model_label` over a frame with family, generation and size_label columns."""
    return frame["family"] + frame["generation"].astype(str) + "-" + frame["size_label"]


# --- generation colours --------------------------------------------------------------------------------------------

GENERATION_PALETTE = "viridis"


def generation_colors(generations: list[str]) -> dict[str, tuple]:
    """One colour per generation, fixed by its position in the catalogue's order (pass the catalogue's
    `generations`, not the subset a chart happens to show, so colours agree across charts)."""
    import seaborn as sns

    colors = sns.color_palette(GENERATION_PALETTE, n_colors=max(len(generations), 3))
    return {str(g): colors[i] for i, g in enumerate(generations)}


# --- bounds and table columns in words -----------------------------------------------------------------------------

# The `bound` of a value (gentrend.analysis.density: '=', '>', '<', '<>', 'n/e'), in the words tables print.
BOUND_WORDS = {"=": "exact", ">": "at least", "<": "at most", "<>": "between", "n/e": "not estimable"}

# Column names of published tables, in the words (and units) a reader sees; a column not listed is shown with
# its underscores as spaces. One vocabulary for every table of the report.
COLUMN_LABELS = {
    "model_id": "model id",
    "params": "parameters",
    "params_total": "parameters (total)",
    "params_non_embedding": "parameters (non-embedding)",
    "effective_label": "effective size",
    "density_label": "density",
    "density": "density (×)",
    "density_low": "density can lie from (×)",
    "density_high": "density can lie to (×)",
    "ci_low": "95% interval, low",
    "ci_high": "95% interval, high",
    "multiplier": "multiplier (×)",
    "multiplier_low": "multiplier can lie from (×)",
    "multiplier_high": "multiplier can lie to (×)",
    "label": "value",
    "bound": "bound",
    "n_models": "models",
    "n_families": "benchmark families",
    "n_votes": "votes",
    "n_exact": "exact votes",
    "n_above": "votes above the curve",
    "n_below": "votes below the curve",
    "n_benchmarks": "number of benchmarks",
    "n_outside": "benchmarks outside the range",
    "n_members": "members",
    "n_exact_generations": "exact generations",
    "bounded_share": "bounded share",
    "mixed_pipelines": "mixed pipelines",
    "curve_sources": "sources of the curve",
    "source_url": "source",
    "reference_sources": "sources of the curve",
    "size_convention": "size axis",
    "median_delta": "median change (points)",
    "baseline_model": "baseline model",
    "release_date": "released",
    "doubling_months": "doubling time (months)",
    "per_generation": "per generation",
    "slope_per_month": "slope (log2 per month)",
    "intercept_log2": "intercept (log2)",
    "interval_low": "interval, low (×)",
    "interval_high": "interval, high (×)",
    "family_left_out": "one family left out (min–max)",
    "non_embedding": "non-embedding parameters",
    "source_rule": "other source rule",
    "near_chance_removed": "near-chance scores removed",
    "weights_gib": "weights (GiB)",
    "needed_gib": "needed (GiB)",
    "range_low": "reference range from",
    "range_high": "reference range to",
}


def column_label(name) -> str:
    """How a table names a column: COLUMN_LABELS, else the name with underscores as spaces."""
    return COLUMN_LABELS.get(str(name), str(name).replace("_", " "))
