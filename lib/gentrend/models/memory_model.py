"""Analytical memory model: how much accelerator (or CPU) memory a model needs, from its config alone.

    total = weights + KV cache (grows with context) + linear-attention state (fixed per sequence)
            + activations (peak of one prefill chunk)

Which card fits which model (`fits_table`, `fits`, the memory claims) is read with a `Margin`: the range the
need can lie in around the prediction. With a run that measured memory (`measured_margin`), it is the
model's measured total error: the need lies between predicted / (1 + largest overprediction) and
predicted / (1 - largest underprediction), plus DEFAULT_OVERHEAD_GIB for the CUDA context, which neither a CPU
measurement nor torch's allocated bytes include (stated as unvalidated); a card fits when the top of that range
does, does not fit when its bottom does not, and is "within error" between. With no measurement, the fixed
DEFAULT_OVERHEAD_GIB alone is added, stated as unvalidated (UNVALIDATED).

Units: bytes internally, GiB (2**30 bytes) in every table and chart. GPU memory sizes are named as vendors
sell them ("an 8 GB card") but are treated as GiB: the VRAM of an "8 GB" card is 8 GiB (8 x 2**30 bytes).

Weights. Text-model parameter count from the catalogue (the vision tower optionally added; the MTP head is
never counted: transformers does not build it) times bytes per parameter. For 8-bit and 4-bit weights we
model a GPTQ/AWQ-style checkpoint: every non-embedding parameter is quantized with one fp16 scale per group
of 128 weights (int4 also one 4-bit zero point per group), while embeddings, the LM head and the vision
tower stay in bf16. Norms and biases are counted as quantized too (they are < 0.1 % of the parameters).

KV cache and linear-attention state: from `architecture.describe` (full-attention layers only for Qwen3.5;
the Gated DeltaNet recurrent state is fp32 whatever the model dtype). The cache dtype is the weights dtype
for fp32/bf16/fp16 and bf16 for quantized weights (the usual default).

Activations: the peak of one prefill forward. A long prompt is prefilled in chunks of PREFILL_CHUNK_TOKENS
tokens, as serving engines do (llama.cpp's default batch; vLLM and SGLang chunk prefill likewise), so the
intermediates scale with the chunk while the KV cache (above) holds the whole context: the curves, the fits
table and the memory claims use it. `estimate` defaults to an unchunked prefill (prefill_chunk=None), which
is what transformers' generate() runs and the profiler measures. With c = tokens in the forward
(the chunk, or the whole prompt) and L = tokens attended to (the prompt so far), at batch b, with only one
layer's intermediates alive at a time:
    b x c x (4 x hidden + 3 x intermediate + q/k/v width) x act_bytes          (residual, MLP gate/up/act, q/k/v)
  + b x c x 3 x conv_dim x 4 bytes          for Gated DeltaNet layers (fp32 copies of q/k/v in the kernels)
  + b x heads x c x L x act_bytes x 2       only with attn_implementation="eager" (score matrix + softmax;
                                             sdpa / flash kernels never hold it)
  + 2 x b x vocab x 4 bytes                 (last-position logits in fp32 and the processed scores:
                                             generate() computes logits for the last position only)
It is an estimate, validated against measurement per component (`component_errors`, `error_by_component` over
profiling.results.memory_validation, and benchmarks/memory_long_context.py at long prompts); where it holds and
where not is in docs/measurements.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from gentrend.core.errors import GentrendError
from gentrend.core.vocab import BITS_PER_PARAM, QUANTIZED_PRECISIONS, compute_precision, precision_name
from gentrend.models.architecture import Architecture, describe, text_config
from gentrend.models.catalogue import Catalogue, Model

GIB = 2**30
GROUP_SIZE = 128  # quantization group: one fp16 scale (and for int4 one 4-bit zero point) per 128 weights
GROUP_OVERHEAD_BITS = {"int8": 16, "int4": 20}  # per group: fp16 scale (+ 4-bit zero point for int4)
DEFAULT_MEMORY_SIZES_GB = (8, 12, 16, 24, 48, 80)
DEFAULT_OVERHEAD_GIB = 0.5  # CUDA context (+ allocator slack where nothing was measured): never measured here
PREFILL_CHUNK_TOKENS = 2048  # prefill chunk of the serving view (memory curves, fits, memory claims)


def stored_bits(precision: str) -> float:
    """Bits stored per parameter in the modelled checkpoint format, group scales included."""
    name = precision_name(precision)
    return BITS_PER_PARAM[name] + GROUP_OVERHEAD_BITS.get(name, 0) / GROUP_SIZE


@cache
def _tiny_counts(model: Model) -> tuple[int, int]:
    """(total, embedding) parameter counts of the shrunken test copy, counted on the meta device."""
    import torch  # here, not at the top: `gentrend check` needs no torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(text_config(model, tiny=True))
    total = sum(p.numel() for p in net.parameters())  # parameters() yields tied weights once
    return total, net.get_input_embeddings().weight.numel()


def param_counts(model: Model, tiny: bool = False) -> tuple[int, int]:
    """(text parameters, of which kept unquantized: embedding, plus the LM head when untied)."""
    if tiny:
        total, embedding = _tiny_counts(model)
        arch = describe(model, tiny=True)
        return total, embedding * (1 if arch.tied_embeddings else 2)
    return model.params.total, model.params.total - model.params.non_embedding


def weights_bytes(model: Model, precision: str = "bf16", include_vision: bool = False, tiny: bool = False) -> float:
    """Bytes of the weights at `precision` (see the module docstring for the quantized-format simplification)."""
    precision = precision_name(precision)
    total, kept = param_counts(model, tiny)
    if precision in QUANTIZED_PRECISIONS:
        nbytes = kept * 2 + (total - kept) * stored_bits(precision) / 8
    else:
        nbytes = total * stored_bits(precision) / 8
    if include_vision and model.params.vision and not tiny:
        nbytes += model.params.vision * (4 if precision == "fp32" else 2)
    return float(nbytes)


def weights_read_per_token_bytes(model: Model, precision: str = "bf16", tiny: bool = False) -> float:
    """Weight bytes a decode step reads: all of them, except an untied input embedding (one row per token)."""
    nbytes = weights_bytes(model, precision, tiny=tiny)
    arch = describe(model, tiny=tiny)
    if not arch.tied_embeddings:
        per_param = stored_bits(compute_precision(precision)) / 8
        nbytes -= arch.vocab_size * arch.hidden_size * per_param
    return nbytes


def activation_bytes(
    arch: Architecture,
    batch: int,
    seq: int,
    precision: str = "bf16",
    attn_implementation: str = "sdpa",
    attended: int | None = None,
) -> float:
    """Peak activation bytes of one prefill forward over `seq` tokens that attend to `attended` tokens (default
    `seq`: a whole prompt in one forward); formula in the module docstring."""
    act = stored_bits(compute_precision(precision)) / 8
    qkv = (arch.attention_heads + 2 * arch.kv_heads) * arch.head_dim
    nbytes = batch * seq * (4 * arch.hidden_size + 3 * arch.intermediate_size + qkv) * act
    if arch.linear_attention_layers:
        nbytes += batch * seq * 3 * arch.linear_conv_dim * 4
    if attn_implementation == "eager":
        nbytes += batch * arch.attention_heads * seq * (seq if attended is None else attended) * act * 2
    return nbytes + 2 * batch * arch.vocab_size * 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes needed to run `model` at `precision` with `batch` sequences of `context` tokens, after a prefill
    in chunks of `prefill_chunk` tokens (None: one forward over the whole prompt)."""

    model_id: str
    precision: str
    batch: int
    context: int
    weights_bytes: float
    kv_cache_bytes: float
    linear_state_bytes: float
    activation_bytes: float
    prefill_chunk: int | None = None

    @property
    def kv_state_bytes(self) -> float:
        """What the sequences keep between steps: KV cache + linear-attention state."""
        return self.kv_cache_bytes + self.linear_state_bytes

    @property
    def runtime_bytes(self) -> float:
        return self.kv_state_bytes + self.activation_bytes

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.runtime_bytes

    def as_gib(self) -> dict:
        return {
            "model_id": self.model_id,
            "precision": self.precision,
            "batch": self.batch,
            "context": self.context,
            "prefill_chunk": self.prefill_chunk,
            "weights_gib": self.weights_bytes / GIB,
            "kv_cache_gib": self.kv_cache_bytes / GIB,
            "linear_state_gib": self.linear_state_bytes / GIB,
            "kv_state_gib": self.kv_state_bytes / GIB,
            "activation_gib": self.activation_bytes / GIB,
            "runtime_gib": self.runtime_bytes / GIB,
            "total_gib": self.total_bytes / GIB,
        }


def estimate(
    model: Model,
    precision: str = "bf16",
    context: int = 4096,
    batch: int = 1,
    *,
    prefill_tokens: int | None = None,
    prefill_chunk: int | None = None,
    include_vision: bool = False,
    attn_implementation: str = "sdpa",
    tiny: bool = False,
) -> MemoryEstimate:
    """Memory for `batch` sequences holding `context` tokens of cache, after a prefill of `prefill_tokens`
    (default: the whole context) in chunks of `prefill_chunk` tokens (default None: one forward, as
    transformers' generate() runs it, to compare with a measurement; PREFILL_CHUNK_TOKENS: the serving view
    of `memory_curve`, `fits_table` and `fits`)."""
    precision = precision_name(precision)
    if batch < 1 or context < 1:
        raise GentrendError(f"batch ({batch}) and context ({context}) must be >= 1", "pass positive integers")
    if prefill_chunk is not None and prefill_chunk < 1:
        raise GentrendError(
            f"prefill_chunk must be >= 1 or None, got {prefill_chunk}", "pass a token count, or None for no chunking"
        )
    arch = describe(model, compute_precision(precision), tiny=tiny)
    prefill = context if prefill_tokens is None else prefill_tokens
    chunk = prefill if prefill_chunk is None else min(prefill_chunk, prefill)
    return MemoryEstimate(
        model_id=model.id,
        precision=precision,
        batch=batch,
        context=context,
        weights_bytes=weights_bytes(model, precision, include_vision, tiny),
        kv_cache_bytes=batch * context * arch.kv_cache_bytes_per_token,
        linear_state_bytes=batch * arch.linear_state_bytes,
        activation_bytes=activation_bytes(arch, batch, chunk, precision, attn_implementation, attended=prefill),
        prefill_chunk=prefill_chunk,
    )


COMPONENTS = ("weights", "kv_state", "activations", "runtime", "total")  # runtime = kv_state + activations


def _error(predicted_gib: float, measured_gib: float) -> dict:
    m = float(measured_gib)
    return {
        "predicted_gib": predicted_gib,
        "measured_gib": m,
        "error_gib": predicted_gib - m,
        "error_pct": 100 * (predicted_gib - m) / m if m else float("nan"),
    }


def component_errors(predicted: MemoryEstimate, measured: dict[str, float]) -> list[dict]:
    """Per component of COMPONENTS that `measured` gives (GiB): predicted, measured, error (GiB and % of the
    measurement). The validation table of the memory model: one row per component, so an error in the
    activations is not hidden by the weights."""
    gib = {
        "weights": predicted.weights_bytes,
        "kv_state": predicted.kv_state_bytes,
        "activations": predicted.activation_bytes,
        "runtime": predicted.runtime_bytes,
        "total": predicted.total_bytes,
    }
    return [{"component": c, **_error(gib[c] / GIB, measured[c])} for c in COMPONENTS if c in measured]


COMPONENT_NAMES = {
    "weights": "weights",
    "kv_state": "KV cache + state",
    "activations": "activations",
    "runtime": "runtime (cache + activations)",
    "total": "total",
}
ERROR_COLUMNS = [
    "model",
    "device",
    "dtype",
    "point (batch × prompt)",
    "component",
    "predicted GiB",
    "measured GiB",
    "error GiB",
    "error %",
    "measured as",
]


def error_by_component(validation: pd.DataFrame) -> pd.DataFrame:
    """The memory model's error per component and measured point, from the validation table (profiling.
    memory_validation: <component>_predicted_gib / <component>_measured_gib per point): one row per point and
    component of COMPONENTS, columns ERROR_COLUMNS. A component the profiler does not measure apart (the KV
    cache and the activations, both inside the measured runtime) has its prediction and no error."""
    rows = []
    for _, r in validation.iterrows():
        for c in COMPONENTS:
            measured = r.get(f"{c}_measured_gib", float("nan"))
            e = _error(r[f"{c}_predicted_gib"], measured)
            rows.append(
                {
                    "model": r["model"],
                    "device": r["device"],
                    "dtype": r["dtype"],
                    "point (batch × prompt)": f"{int(r['batch_size'])} × {int(r['prompt_length'])}",
                    "component": COMPONENT_NAMES[c],
                    "predicted GiB": e["predicted_gib"],
                    "measured GiB": e["measured_gib"],
                    "error GiB": e["error_gib"],
                    "error %": e["error_pct"],
                    "measured as": r["measured_as"] if pd.notna(measured) else "inside the runtime, not apart",
                }
            )
    return pd.DataFrame(rows, columns=ERROR_COLUMNS)


def context_grid(max_context: int, start: int = 32) -> list[int]:
    """Powers of two from `start` up to and including `max_context`."""
    grid, c = [], start
    while c < max_context:
        grid.append(c)
        c *= 2
    return grid + [max_context]


def memory_curve(
    models: list[Model],
    precision: str = "bf16",
    batch: int = 1,
    contexts: list[int] | None = None,
    tiny: bool = False,
    prefill_chunk: int | None = PREFILL_CHUNK_TOKENS,
) -> pd.DataFrame:
    """Memory vs context length, one row per (model, context), up to each model's stated maximum context, with
    a prefill chunked at `prefill_chunk` tokens (None: unchunked, to lay measured generate() points on it). GiB
    columns (kv_state_gib apart from activation_gib); generation and params_total for colouring and ordering."""
    rows = []
    for m in models:
        grid = contexts or context_grid(m.context_length)
        for c in grid:
            e = estimate(m, precision, c, batch, prefill_chunk=prefill_chunk, tiny=tiny)
            rows.append({"generation": m.generation, "params_total": m.params.total, **e.as_gib()})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Margin:
    """The range the memory a model needs can lie in around the prediction p: [p x low + fixed_gib,
    p x high + fixed_gib] GiB; `basis` says where it comes from, `validated` whether a measurement backs it."""

    low: float
    high: float
    fixed_gib: float
    basis: str
    validated: bool

    def need_gib(self, predicted_gib: float) -> tuple[float, float]:
        return predicted_gib * self.low + self.fixed_gib, predicted_gib * self.high + self.fixed_gib


UNVALIDATED = Margin(
    1.0,
    1.0,
    DEFAULT_OVERHEAD_GIB,
    f"a fixed {DEFAULT_OVERHEAD_GIB:g} GiB allowance, unvalidated (no memory measured in this run)",
    False,
)
WITHIN_ERROR = "within error"  # a fit the margin leaves open


def measured_margin(validation: pd.DataFrame) -> Margin:
    """The Margin of the model's measured total errors: `validation` has error_pct ((predicted - measured) /
    measured, %) and device per measured point (profiling.memory_validation); UNVALIDATED when it is empty."""
    errors = validation["error_pct"].dropna() / 100 if not validation.empty else pd.Series(dtype=float)
    if errors.empty:
        return UNVALIDATED
    over, under = max(errors.max(), 0.0), min(errors.min(), 0.0)
    devices = ", ".join(sorted(set(validation["device"])))
    return Margin(
        1 / (1 + over),
        1 / (1 + under),
        DEFAULT_OVERHEAD_GIB,
        f"the memory model's measured total error, {100 * errors.min():+.1f} % to {100 * errors.max():+.1f} % "
        f"over {len(errors)} points on {devices} in this run, plus {DEFAULT_OVERHEAD_GIB:g} GiB for the CUDA "
        "context, which no measurement here includes (unvalidated)",
        True,
    )


def fit_status(need: tuple[float, float], memory_gb: float) -> str:
    """'yes' when the top of the need range fits `memory_gb` GiB, 'no' when its bottom does not, else WITHIN_ERROR."""
    low, high = need
    return "yes" if high <= memory_gb else "no" if low > memory_gb else WITHIN_ERROR


def fits_table(
    catalogue: Catalogue | list[Model],
    memory_sizes_gb: tuple[int, ...] | list[int] = DEFAULT_MEMORY_SIZES_GB,
    precisions: tuple[str, ...] | list[str] = ("bf16", "int8", "int4"),
    context: int = 4096,
    batch: int = 1,
    include_vision: bool = False,
    margin: Margin = UNVALIDATED,
) -> pd.DataFrame:
    """Which model fits which GPU memory size: one row per (model, precision), the range the need can lie in
    by `margin` around the GiB predicted at `context` tokens (prefill in chunks of PREFILL_CHUNK_TOKENS):
    needed_low_gib to needed_gib (its top: what a card must hold for a "yes"), one column per size ("8 GB" =
    8 GiB of VRAM): yes / no / within error (`fit_status`), the margin's basis; then generation, context,
    weights and the prediction (the decisive columns first: a print shows the first ones)."""
    rows = []
    for m in catalogue:
        for p in precisions:
            predicted = needed_gib(m, p, context, batch, include_vision)
            need = margin.need_gib(predicted)
            row = {
                "model_id": m.id,
                "precision": precision_name(p),
                "needed_low_gib": need[0],
                "needed_gib": need[1],
            }
            row |= {f"{size} GB": fit_status(need, size) for size in memory_sizes_gb}
            rows.append(
                row
                | {
                    "margin": margin.basis,
                    "generation": m.generation,
                    "context": context,
                    "weights_gib": weights_bytes(m, p, include_vision) / GIB,
                    "predicted_gib": predicted,
                }
            )
    return pd.DataFrame(rows)


def needed_gib(
    model: Model,
    precision: str = "bf16",
    context: int = 4096,
    batch: int = 1,
    include_vision: bool = False,
) -> float:
    """GiB the memory model predicts one model needs on a card (prefill in chunks of PREFILL_CHUNK_TOKENS), before
    any margin."""
    e = estimate(model, precision, context, batch, prefill_chunk=PREFILL_CHUNK_TOKENS, include_vision=include_vision)
    return e.total_bytes / GIB


def fits(
    model: Model,
    memory_gb: float,
    precision: str = "bf16",
    context: int = 4096,
    batch: int = 1,
    include_vision: bool = False,
    margin: Margin = UNVALIDATED,
) -> tuple[str, tuple[float, float]]:
    """(yes / no / within error, the need range in GiB) for one model on one memory size, same rule as
    `fits_table`."""
    need = margin.need_gib(needed_gib(model, precision, context, batch, include_vision))
    return fit_status(need, memory_gb), need
