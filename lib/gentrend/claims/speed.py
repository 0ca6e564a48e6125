"""Speed, memory, context and architecture claim checks: from the analytical memory model, the bandwidth
roofline and the shipped configs. The model arguments are no measurement on the claimed hardware: a part is
*possible* (not refuted) or *fails* (impossible), never shown to hold (base.VERDICT_RULE); a speed measured by
this run on the claim's own GPU decides its part (holds within MEASURED_TOLERANCE, else fails); the configs
and model cards are published data, so context-length and layout parts hold or fail.
"""

from __future__ import annotations

import json

import pandas as pd
from typing_extensions import TypedDict

from gentrend.claims.base import (
    COMFORT_HEADROOM,
    ClaimContext,
    CpuClaim,
    GenerationLabel,
    GpuName,
    ModelId,
    Precision,
    Verdict,
    argued,
    check,
    shown,
    undecided,
    untested_parts,
    verdict_of,
)
from gentrend.core.vocab import precision_name
from gentrend.models.architecture import describe
from gentrend.models.memory_model import (
    DEFAULT_MEMORY_SIZES_GB,
    GIB,
    PREFILL_CHUNK_TOKENS,
    UNVALIDATED,
    WITHIN_ERROR,
    Margin,
    estimate,
    fit_status,
    fits,
    measured_margin,
    needed_gib,
)
from gentrend.models.roofline import decode_roofline_tokens_per_s, gpu_for_device_name
from gentrend.models.roofline import gpu as gpu_spec
from gentrend.profiling.results import memory_validation, wide

MODEL_BASIS = (
    "analytical memory model (gentrend.models.memory_model) from catalogue parameter counts and configs, "
    f"prefill in chunks of {PREFILL_CHUNK_TOKENS} tokens"
)
ROOFLINE_BASIS = "decode roofline (gentrend.models.roofline): bandwidth / (weights + cache bytes per step)"
NEAR_PEAK = 0.85  # decode implementations rarely sustain more than ~85 % of peak bandwidth


class MemoryCard(TypedDict, total=False):
    memory_gb: float  # GiB of memory ("a 12 GB card" = 12 GiB)
    comfortably: bool  # the claim says "comfortably" (or alike): COMFORT_HEADROOM must stay free
    at_least: bool  # the claim says "needs X GB+": X is the least it needs, so it must not fit in `below_gb`
    below_gb: float  # the size "needs X GB+" rules out (default: the next smaller of DEFAULT_MEMORY_SIZES_GB)
    label: str  # how the claim names it, e.g. "RTX 4080"


def memory_margin(ctx: ClaimContext) -> Margin:
    """The memory model's margin in this run: its measured total error where the run measured memory, else the
    fixed allowance, stated as unvalidated (memory_model.measured_margin)."""
    if ctx.profiling is None or ctx.profiling.empty:
        return UNVALIDATED
    return measured_margin(memory_validation(ctx.profiling, ctx.catalogue))


MEASURED_TOLERANCE = 0.10  # a measured speed within 10 % of a claimed "~N tok/s" bears it out


def _points(ctx: ClaimContext) -> pd.DataFrame:
    """The run's measured batch-1 points that completed (wide: one row per point), or an empty frame."""
    if ctx.profiling is None or ctx.profiling.empty:
        return pd.DataFrame()

    w = wide(ctx.profiling)
    return w[(w["status"] == "ok") & (w["batch_size"] == 1)] if not w.empty else w


def _measured_on(points: pd.DataFrame, card, model_id: str, precisions: list[str]) -> pd.Series | None:
    """The fastest batch-1 decode measured for `model_id` on the claim's own GPU at one of `precisions`, or None."""
    if points.empty:
        return None
    on_card = points["device_name"].map(lambda name: getattr(gpu_for_device_name(str(name)), "name", None)) == card.name
    rows = points[on_card & (points["model_id"] == model_id) & points["dtype"].isin(precisions)]
    return rows.loc[rows["decode_tokens_per_s"].idxmax()] if not rows.empty else None


def _measured_note(ctx: ClaimContext, model_ids: list[str]) -> str:
    """What the profiler measured for these models on this machine (each precision it measured: bf16, int8, int4),
    if the run profiled them. A measurement on another device says what that device does, not the claimed one."""
    w = _points(ctx)
    w = w[w["model_id"].isin(model_ids)] if not w.empty else w
    if w.empty:
        return ""
    notes = []
    for _, r in w.sort_values("prompt_length").drop_duplicates(["model_id", "dtype"]).iterrows():
        notes.append(
            f"{r['model']} at {r['dtype']}: {r['decode_tokens_per_s']:.1f} tok/s = "
            f"{100 * r['roofline_fraction']:.0f} % of "
            f"this {r['device']}'s measured-bandwidth roofline, peak {r['peak_memory_gib']:.2f} GiB "
            f"({r['weights']} weights, kernels {r['linear_attention_kernels']})"
        )
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
    """Each claimed single-stream tok/s is a part, argued from the roofline of `gpu`: possible when it lies
    within the roofline at `dtype` or one of the lower `fallback_precisions` where the model fits the card,
    else it fails (impossible at every precision). `cpu_claim` {model, tokens_per_s, bandwidth_gb_s, label}:
    one more part, the bandwidth the CPU claim needs per precision against the stated bandwidth."""
    card = gpu_spec(gpu)
    bandwidth = card.bandwidth_bytes_per_s
    memory = memory_gb or card.memory_gib
    precisions = [precision_name(dtype)] + [precision_name(p) for p in (fallback_precisions or ["int8", "int4"])]
    margin = memory_margin(ctx)
    parts = []
    for model_id, claimed in claimed_tokens_per_s.items():
        m = ctx.catalogue.get(model_id)
        notes, possible = [], []
        for p in precisions:
            roof = decode_roofline_tokens_per_s(m, bandwidth, batch, context, p)
            fit, need = fits(m, memory, p, context, batch, margin=margin)
            note = f"{p} roofline {roof:.0f} ({100 * claimed / roof:.0f} % of it)"
            if fit == "no":
                note += f", needs {_range(need)} GiB > {memory:g}"
            elif claimed <= roof:
                possible.append(p)
                if claimed > NEAR_PEAK * roof:
                    note += f", above {NEAR_PEAK:.0%} of peak"
            notes.append(note)
        verdict = f"possible at {', '.join(possible)}" if possible else "impossible at every precision"
        part = f"{m.name} {claimed:g} tok/s on the {card.name}"
        measured = _measured_on(_points(ctx), card, model_id, precisions)
        if measured is not None:  # a measurement on the claim's own hardware decides the part
            fast = measured["decode_tokens_per_s"]
            parts.append(
                shown(
                    part,
                    fast >= (1 - MEASURED_TOLERANCE) * claimed,
                    f"measured here on a {measured['device_name']}: {fast:.1f} tok/s at {measured['dtype']} "
                    f"(batch 1, prompt {int(measured['prompt_length'])}; within {MEASURED_TOLERANCE:.0%} "
                    f"counts); roofline: {'; '.join(notes)}",
                )
            )
        else:
            parts.append(argued(part, bool(possible), f"{'; '.join(notes)}: {verdict}"))
    if cpu_claim:
        m = ctx.catalogue.get(cpu_claim["model"])
        tps = float(cpu_claim["tokens_per_s"])
        needs = {p: tps / decode_roofline_tokens_per_s(m, 1.0, 1, context, p) / 1e9 for p in precisions}
        have = float(cpu_claim["bandwidth_gb_s"])
        possible = [p for p, v in needs.items() if v <= have]
        parts.append(
            argued(
                f"{m.name} {tps:g} tok/s on a {cpu_claim.get('label', 'laptop CPU')}",
                bool(possible),
                "needs "
                + ", ".join(f"{v:.0f} GB/s at {p}" for p, v in needs.items())
                + f" against ~{have:g} GB/s: "
                + (f"possible at {', '.join(possible)}" if possible else "impossible at every precision"),
            )
        )
    note = (
        f"{card.name}: {card.bandwidth_gb_s:g} GB/s, {card.memory_gib:g} GiB ({card.source}); batch {batch}, "
        f"context {context}. The roofline is an upper bound, not a measurement on that hardware."
        + _measured_note(ctx, list(claimed_tokens_per_s) + ([cpu_claim["model"]] if cpu_claim else []))
    )
    return verdict_of(parts, ROOFLINE_BASIS + "; data/gpus.yaml", note + f" Memory margin: {margin.basis}.")


def _range(need: tuple[float, float]) -> str:
    low, high = need
    return f"{low:.1f}" if abs(high - low) < 0.05 else f"{low:.1f}–{high:.1f}"


def _next_smaller(size: float) -> float | None:
    smaller = [s for s in DEFAULT_MEMORY_SIZES_GB if s < size]
    return max(smaller) if smaller else None


@check("fits_in_memory")
def fits_in_memory(
    ctx: ClaimContext,
    model: ModelId,
    cards: list[MemoryCard],
    precisions: list[Precision] | None = None,
    claimed_precision: Precision | None = None,
    context: int = 4096,
    batch: int = 1,
    include_vision: bool = False,
) -> Verdict:
    """Each memory size in `cards` is a part, argued from the memory model with its margin (`memory_margin`):
    possible when the model fits at `claimed_precision` (or, when the claim names none, at one of
    `precisions`) over the whole range its need can lie in (and, for a card claimed to run it "comfortably",
    with COMFORT_HEADROOM of the memory still free); fails when it fits at none even at the bottom of the range;
    undecided between. A card read "needs X GB+" (`at_least`) adds a part: it must not fit in the next smaller
    size at any precision tried (fails where it does, undecided within the margin)."""
    m = ctx.catalogue.get(model)
    margin = memory_margin(ctx)
    tried = [
        precision_name(p)
        for p in ([claimed_precision] if claimed_precision else precisions or ["bf16", "int8", "int4"])
    ]
    need = {p: margin.need_gib(needed_gib(m, p, context, batch, include_vision)) for p in tried}
    parts = []
    for card in cards:
        size, comfortably = float(card["memory_gb"]), bool(card.get("comfortably", False))
        allowed = size * (1 - COMFORT_HEADROOM) if comfortably else size
        status = {p: fit_status(need[p], allowed) for p in tried}
        ok = [p for p in tried if status[p] == "yes"]
        on_card = {p: fit_status(need[p], size) for p in tried}
        said = {"yes": "fits", "no": "does not fit", WITHIN_ERROR: WITHIN_ERROR}
        notes = [
            f"{p} needs {_range(need[p])} GiB ({said[on_card[p]]}"
            + (f", {size - need[p][1]:.1f} GiB = {(size - need[p][1]) / size:.0%} free" if on_card[p] == "yes" else "")
            + ")"
            for p in tried
        ]
        free = f" with {COMFORT_HEADROOM:.0%} free" if comfortably else ""
        name = f"{card.get('label', f'{size:g} GB')} ({size:g} GB{', comfortably' if comfortably else ''})"
        evidence = "; ".join(notes)
        if ok:
            parts.append(argued(name, True, f"{evidence}: fits at {', '.join(ok)}{free}", f"fits at {', '.join(ok)}"))
        elif WITHIN_ERROR in status.values():
            parts.append(undecided(name, f"{evidence}: within the memory model's error{free}", "within the error"))
        else:
            parts.append(argued(name, False, f"{evidence}: fits at no precision{free}", "fits at no precision"))
        below = card.get("below_gb") or _next_smaller(size)
        if card.get("at_least") and below:
            below = float(below)
            under = {p: fit_status(need[p], below) for p in tried}
            runs = [p for p in tried if under[p] == "yes"]
            part = f"needs at least {size:g} GB: not in {below:g} GB"
            evidence = "; ".join(f"{p} needs {_range(need[p])} GiB" for p in tried)
            if runs:
                parts.append(argued(part, False, f"{evidence}: fits {below:g} GB at {', '.join(runs)}", "it fits"))
            elif WITHIN_ERROR in under.values():
                within = [p for p in tried if under[p] == WITHIN_ERROR]
                parts.append(
                    undecided(
                        part,
                        f"{evidence}: at {', '.join(within)} {below:g} GB is within the memory model's error",
                        f"{', '.join(within)} within the error",
                    )
                )
            else:
                parts.append(argued(part, True, f"{evidence}: fits {below:g} GB at no precision", "does not fit"))
    vision = "text + vision tower" if include_vision else "text model"
    if include_vision and not m.params.vision:
        vision += " (vision size not in the catalogue: not counted)"
    note = (
        f"{m.name} ({vision}) at context {context}, batch {batch}; margin: {margin.basis}; "
        "8/4-bit: GPTQ/AWQ-style, embeddings and vision in bf16. Image/video tokens only add context."
    )
    return verdict_of(parts, MODEL_BASIS, note)


@check("quantized_memory_ratio")
def quantized_memory_ratio(
    ctx: ClaimContext,
    model: ModelId,
    bits: int,
    claimed_ratio: float,
    tolerance: float = 0.1,
    context: int = 4096,
    untested: dict[str, str] | None = None,
) -> Verdict:
    """One part, argued from the memory model: memory at `bits`-bit weights / memory at bf16 is possible when
    within `tolerance` of the claimed ratio, else it fails. `untested`: parts the data cannot test."""
    m = ctx.catalogue.get(model)
    precision = {8: "int8", 4: "int4"}.get(int(bits))
    part = f"{bits}-bit memory ~{claimed_ratio:g}x of bf16"
    if precision is None:
        return verdict_of(
            [
                *untested_parts({part: f"no memory model for {bits}-bit weights (8 and 4 are modelled)"}),
                *untested_parts(untested),
            ],
            MODEL_BASIS,
        )
    q, full = (estimate(m, p, context, prefill_chunk=PREFILL_CHUNK_TOKENS) for p in (precision, "bf16"))
    total_ratio = q.total_bytes / full.total_bytes
    evidence = (
        f"{precision} {q.total_bytes / GIB:.1f} GiB vs bf16 {full.total_bytes / GIB:.1f} GiB at context "
        f"{context}: ratio {total_ratio:.2f} (weights alone {q.weights_bytes / full.weights_bytes:.2f}; "
        f"tolerance ±{tolerance:g}; embeddings stay bf16, so the cut is less than 4x)"
    )
    return verdict_of(
        [argued(part, abs(total_ratio - claimed_ratio) <= tolerance, evidence), *untested_parts(untested)], MODEL_BASIS
    )


@check("context_length")
def context_length(
    ctx: ClaimContext,
    claimed: dict[GenerationLabel, int],
    max_params: float | None = None,
    native: dict[ModelId, int] | None = None,
) -> Verdict:
    """Each generation is a part, from the model cards (catalogue): it holds when every model of the
    generation states the claimed context length; the config's max_position_embeddings is reported beside it.
    Models that differ in what the claim says of them are separate parts: `native` {model: tokens} gives the
    native length of a model whose stated length needs rope scaling (YaRN); such models form their own part,
    which fails when the stated (scaled) length differs from the claim (the claim then describes the native
    length only). `max_params` limits to "small" models."""
    native = native or {}
    parts = []
    for generation, tokens in claimed.items():
        models = [
            m
            for m in ctx.catalogue.in_generation(str(generation))
            if max_params is None or m.params.total <= max_params
        ]
        groups: dict[bool, list] = {}
        for m in models:
            groups.setdefault(m.id in native, []).append(m)
        for scaled, group in groups.items():
            sizes = ", ".join(m.size_label for m in group)
            name = f"Qwen{generation} {int(tokens):,} tokens" + (f" ({sizes})" if len(groups) > 1 else "")
            holds = all(m.context_length == int(tokens) for m in group)
            stated = ", ".join(
                f"{m.size_label} {m.context_length:,}"
                + (f" with YaRN, {native[m.id]:,} native" if scaled else "")
                + f" (config {describe(m).max_context:,})"
                for m in group
            )
            short = "stated " + "/".join(sorted({f"{m.context_length:,}" for m in group}))
            parts.append(shown(name, holds, stated, short + (" with YaRN" if scaled else "")))
    return verdict_of(
        parts,
        "data/models.yaml context_length; data/configs max_position_embeddings; model cards (YaRN)",
        "Stated = model card / catalogue.",
    )


@check("dense_hybrid_layout")
def dense_hybrid_layout(ctx: ClaimContext, generation: GenerationLabel) -> Verdict:
    """Two parts from the official configs: dense = no mixture-of-experts fields in any config (every
    parameter used for every token); hybrid = both linear-attention (Gated DeltaNet) and full-attention layers
    in every model's layer_types."""
    dense, hybrid = [], []
    for m in ctx.catalogue.in_generation(str(generation)):
        raw = json.loads(m.config_path.read_text())
        text_cfg = raw.get("text_config", raw)
        moe = [k for k in ("num_experts", "num_experts_per_tok", "moe_intermediate_size") if text_cfg.get(k)]
        a = describe(m)
        dense.append((m.size_label, moe))
        hybrid.append(
            (
                m.size_label,
                a.linear_attention_layers > 0 and a.full_attention_layers > 0,
                f"{a.layers} layers = {a.attention_mix}",
            )
        )
    parts = [
        shown(
            "dense",
            not any(moe for _, moe in dense),
            ", ".join(f"{s}: {'MoE ' + ','.join(moe) if moe else 'dense'}" for s, moe in dense),
        ),
        shown(
            "hybrid Gated DeltaNet + attention",
            all(ok for _, ok, _ in hybrid),
            ", ".join(f"{s}: {mix}" for s, _, mix in hybrid),
        ),
    ]
    return verdict_of(parts, "official configs (data/configs)")
