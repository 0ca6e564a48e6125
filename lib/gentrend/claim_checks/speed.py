"""Speed, memory, context and architecture claim checks: from the analytical memory model, the bandwidth
roofline and the shipped configs. None of them is a measurement on the claimed hardware: a speed inside the
roofline is *possible*, not shown; a speed above it is impossible at that precision.
"""

from __future__ import annotations

import json

from ..architecture import describe
from .base import (ClaimContext, CpuClaim, GenerationLabel, GpuName, ModelId, Precision, Verdict, check,
                   overall_verdict)
from ..memory_model import DEFAULT_OVERHEAD_GIB, GIB, estimate, fits
from ..vocab import precision_name
from ..roofline import decode_roofline_tokens_per_s
from ..roofline import gpu as gpu_spec

MODEL_BASIS = "analytical memory model (gentrend.memory_model) from catalogue parameter counts and configs"
ROOFLINE_BASIS = "decode roofline (gentrend.roofline): bandwidth / (weights + cache bytes per step)"
NEAR_PEAK = 0.85  # decode implementations rarely sustain more than ~85 % of peak bandwidth


def _measured_note(ctx: ClaimContext, model_ids: list[str]) -> str:
    """What the profiler measured for these models on this machine, if the run profiled them."""
    if ctx.profiling is None or ctx.profiling.empty:
        return ""
    from ..profiling.results import wide

    w = wide(ctx.profiling)
    w = w[(w["status"] == "ok") & w["model_id"].isin(model_ids) & (w["batch_size"] == 1)]
    if w.empty:
        return ""
    notes = []
    for _, r in w.sort_values("prompt_length").drop_duplicates("model_id").iterrows():
        notes.append(f"{r['model']}: {r['decode_tokens_per_s']:.1f} tok/s = {100 * r['roofline_fraction']:.0f} % of this "
                     f"{r['device']}'s roofline ({r['dtype']}, {r['weights']} weights, kernels {r['linear_attention_kernels']})")
    return " Measured here (a different machine from the claim's): " + "; ".join(notes) + "."


@check("decode_speed_within_roofline")
def decode_speed_within_roofline(
    ctx: ClaimContext,
    gpu: GpuName,
    claimed_tokens_per_s: dict[ModelId, float],
    dtype: Precision = "bf16",
    context: int = 1024,
    batch: int = 1,
    fallback_precisions: list[Precision] | None = None,
    memory_gb: float | None = None,
    cpu_claim: CpuClaim | None = None,
) -> Verdict:
    """Each claimed single-stream tok/s against the roofline of `gpu` at `dtype` (and, where it exceeds it or
    the model does not fit the card at `dtype`, at the lower `fallback_precisions`). Above the roofline at
    every precision: refuted; within it at `dtype` and fitting: possible (supported, not measured).
    `cpu_claim` {model, tokens_per_s, bandwidth_gb_s, label}: the bandwidth a CPU claim needs, per precision."""
    card = gpu_spec(gpu)
    bandwidth = card.bandwidth_bytes_per_s
    memory = memory_gb or card.memory_gib
    fallback = [precision_name(p) for p in (fallback_precisions or ["int8", "int4"])]
    dtype = precision_name(dtype)
    parts, passed, partial = [], [], False
    for model_id, claimed in claimed_tokens_per_s.items():
        m = ctx.catalogue.get(model_id)
        roof = decode_roofline_tokens_per_s(m, bandwidth, batch, context, dtype)
        fit, need = fits(m, memory, dtype, context, batch)
        text = f"{m.name} {claimed:g} tok/s vs roofline {roof:.0f} at {dtype} ({100 * claimed / roof:.0f} %)"
        if claimed <= roof and fit:
            ok = True
            if claimed > NEAR_PEAK * roof:
                text += ", needs near-peak bandwidth"
                partial = True
        else:
            reasons = []
            if claimed > roof:
                reasons.append("above the roofline")
            if not fit:
                reasons.append(f"needs {need:.1f} GiB > {memory:g} GiB at {dtype}")
            alternatives = []
            for p in fallback:
                r = decode_roofline_tokens_per_s(m, bandwidth, batch, context, p)
                if claimed <= r and fits(m, memory, p, context, batch)[0]:
                    alternatives.append(f"{p} (roofline {r:.0f})")
            text += f": impossible at {dtype} ({', '.join(reasons)})"
            text += f"; possible with {', '.join(alternatives)} weights" if alternatives else "; impossible at every precision"
            ok = bool(alternatives)
            partial = True
        parts.append(text)
        passed.append(ok)
    if cpu_claim:
        m = ctx.catalogue.get(cpu_claim["model"])
        tps = float(cpu_claim["tokens_per_s"])
        needs = {p: tps * decode_roofline_tokens_per_s(m, 1.0, 1, context, p) ** -1 / 1e9 for p in [dtype, *fallback]}
        have = float(cpu_claim.get("bandwidth_gb_s", 0))
        text = (f"CPU claim {m.name} {tps:g} tok/s needs " + ", ".join(f"{v:.0f} GB/s at {p}" for p, v in needs.items()))
        if have:
            possible = [p for p, v in needs.items() if v <= have]
            text += f"; a {cpu_claim.get('label', 'laptop')} offers ~{have:g} GB/s: " + (
                f"possible at {', '.join(possible)}" if possible else "impossible at every precision")
            passed.append(bool(possible))
            partial |= dtype not in possible
        parts.append(text)
    verdict = overall_verdict(passed)
    if verdict == "supported" and partial:
        verdict = "partly supported"
    evidence = (f"{card.name}: {card.bandwidth_gb_s:g} GB/s, {card.memory_gib:g} GiB ({card.source}); batch {batch}, "
                f"context {context}. " + "; ".join(parts) + ". Roofline = upper bound, not a measurement on that GPU."
                + _measured_note(ctx, list(claimed_tokens_per_s) + ([cpu_claim["model"]] if cpu_claim else [])))
    return Verdict(verdict, evidence, ROOFLINE_BASIS + "; data/gpus.yaml")


@check("fits_in_memory")
def fits_in_memory(
    ctx: ClaimContext,
    model: ModelId,
    memory_gb: float,
    precisions: list[Precision] | None = None,
    context: int = 4096,
    batch: int = 1,
    include_vision: bool = False,
    also_gb: list[float] | None = None,
    dtype: Precision | None = None,
) -> Verdict:
    """Does `model` fit `memory_gb` (GiB of VRAM) at the first of `precisions` (the claim's), or only at a lower
    one? supported / partly supported (only quantized) / refuted (at none). `also_gb`: further sizes reported."""
    m = ctx.catalogue.get(model)
    precisions = [precision_name(p) for p in (precisions or ([dtype] if dtype else ["bf16", "int8", "int4"]))]
    results = {p: fits(m, memory_gb, p, context, batch, include_vision) for p in precisions}
    lines = [f"{p}: needs {need:.1f} GiB ({'fits' if ok else 'does not fit'})" for p, (ok, need) in results.items()]
    for size in also_gb or []:
        lines.append(f"{size} GB card: " + ", ".join(f"{p} {'fits' if fits(m, size, p, context, batch, include_vision)[0] else 'does not fit'}" for p in precisions))
    first_ok = results[precisions[0]][0]
    any_ok = any(ok for ok, _ in results.values())
    verdict = "supported" if first_ok else "partly supported" if any_ok else "refuted"
    vision = "text + vision tower" if include_vision else "text model"
    if include_vision and not m.params.vision:
        vision += " (vision size not in the catalogue: not counted)"
    evidence = (f"{m.name} ({vision}) in {memory_gb:g} GB (= GiB of VRAM) at context {context}, batch {batch}, "
                f"+ {DEFAULT_OVERHEAD_GIB} GiB runtime overhead: " + "; ".join(lines)
                + ". 8/4-bit: GPTQ/AWQ-style, embeddings and vision in bf16. Image/video tokens only add context.")
    return Verdict(verdict, evidence, MODEL_BASIS)


@check("quantized_memory_ratio")
def quantized_memory_ratio(
    ctx: ClaimContext, model: ModelId, bits: int, claimed_ratio: float, tolerance: float = 0.1, context: int = 4096,
    accuracy_claim: str = "",
) -> Verdict:
    """Memory at `bits`-bit weights / memory at bf16 vs the claimed ratio (within `tolerance`). An accuracy
    part of the claim cannot be tested (no scores of quantized models) and caps the verdict."""
    m = ctx.catalogue.get(model)
    precision = {8: "int8", 4: "int4"}.get(int(bits))
    if precision is None:
        return Verdict("not testable", f"no memory model for {bits}-bit weights (8 and 4 are modelled)", MODEL_BASIS)
    q, full = estimate(m, precision, context), estimate(m, "bf16", context)
    total_ratio = q.total_bytes / full.total_bytes
    weights_ratio = q.weights_bytes / full.weights_bytes
    ok = abs(total_ratio - claimed_ratio) <= tolerance
    evidence = (f"{m.name}: {precision} {q.total_bytes / GIB:.1f} GiB vs bf16 {full.total_bytes / GIB:.1f} GiB at context "
                f"{context} (ratio {total_ratio:.2f}; weights alone {weights_ratio:.2f}; claimed ~{claimed_ratio:g}) — "
                f"{'consistent' if ok else 'inconsistent'} with the claim (tolerance ±{tolerance:g}). Embeddings stay bf16, "
                f"so the cut is less than 4x.")
    if accuracy_claim:
        evidence += f" Not testable: {accuracy_claim}."
    verdict = ("partly supported" if accuracy_claim else "supported") if ok else "refuted"
    return Verdict(verdict, evidence, MODEL_BASIS)


@check("context_length")
def context_length(ctx: ClaimContext, claimed: dict[GenerationLabel, int], max_params: float | None = None) -> Verdict:
    """Stated context length (catalogue) of every model of each generation vs the claimed length; the
    config's max_position_embeddings is reported beside it. `max_params` limits to "small" models."""
    parts, passed = [], []
    for generation, tokens in claimed.items():
        models = [m for m in ctx.catalogue.in_generation(str(generation)) if max_params is None or m.params.total <= max_params]
        matches = [m for m in models if m.context_length == int(tokens)]
        others = [m for m in models if m.context_length != int(tokens)]
        text = f"Qwen{generation} claimed {int(tokens):,}: " + ", ".join(
            f"{m.size_label} {m.context_length:,} (config {describe(m).max_context:,})" for m in models)
        parts.append(text)
        passed.append(bool(matches) and not others)
        if matches and others:
            passed[-1] = None  # partial
    if all(p is True for p in passed):
        verdict = "supported"
    elif all(p is False for p in passed):
        verdict = "refuted"
    else:
        verdict = "partly supported"
    return Verdict(verdict, "; ".join(parts) + ". Stated = model card / catalogue (128K for Qwen2.5-7B and Qwen3-4B/8B "
                   "uses YaRN scaling).", "data/models.yaml context_length; data/configs max_position_embeddings")


@check("dense_hybrid_layout")
def dense_hybrid_layout(ctx: ClaimContext, generation: GenerationLabel) -> Verdict:
    """Dense = no mixture-of-experts fields in the config (every parameter used for every token); hybrid = both
    linear-attention (Gated DeltaNet) and full-attention layers in layer_types."""
    parts, dense_all, hybrid_all = [], True, True
    for m in ctx.catalogue.in_generation(str(generation)):
        raw = json.loads(m.config_path.read_text())
        text_cfg = raw.get("text_config", raw)
        moe = [k for k in ("num_experts", "num_experts_per_tok", "moe_intermediate_size") if text_cfg.get(k)]
        a = describe(m)
        dense_all &= not moe
        hybrid_all &= a.linear_attention_layers > 0 and a.full_attention_layers > 0
        parts.append(f"{m.size_label}: {'MoE ' + ','.join(moe) if moe else 'dense'}, {a.layers} layers = {a.attention_mix}")
    verdict = "supported" if dense_all and hybrid_all else "refuted" if not (dense_all or hybrid_all) else "partly supported"
    return Verdict(verdict, "; ".join(parts) + ".", "official configs (data/configs)")
