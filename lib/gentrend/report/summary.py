"""Page one's numbers: the run's headline findings as one table of numbers (never display strings), taken from
the tables the analysis notebooks published, and published by the trend report notebook as the artefact
`summary` / `headlines`. gentrend.report.layout turns each row into words; it adds no number of its own.

One row per headline number (HEADLINE_COLUMNS):
- density: each newer generation against the track's reference, and against the generation just before it
  where that one is not the reference (`against`); value (exact) or NaN, low / high (bootstrap interval of
  an exact value, where a bound can lie otherwise), level (of the interval), bound
  (gentrend.core.vocab.BOUND_WORDS), n_models,
  n_families, bounded_share, mixed_pipelines, holds (the robustness check, rule of
  gentrend.analysis.robustness).
- trend: the doubling time per track, value NaN where refused (n_generations exact generations besides the
  reference, fewer than a trend needs).
- per-size: the largest and smallest median change of one model over its size-class baseline, with the size
  ratio of the two models (a change between unequal sizes is partly size).
- fits: per model, the GiB the memory model says it needs at bf16 and the smallest listed card that holds it.
- speed: per model, decode tokens/s median and p10-p90 at the smallest point, with the device class, threads,
  precision and weights that measured it (a CPU measurement says nothing about GPU speed).
- claims: the ledger's count per verdict.
A finding whose tables the run did not produce has no rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gentrend.analysis.density import LEVEL, MIN_TREND_GENERATIONS
from gentrend.core.vocab import BOUND_WORDS, TRACKS
from gentrend.report.publish import Publisher, producer_name

HEADLINE_COLUMNS = [
    "finding",
    "section",
    "track",
    "subject",
    "against",
    "value",
    "low",
    "high",
    "bound",
    "level",
    "unit",
    "n_models",
    "n_families",
    "n_benchmarks",
    "n_generations",
    "bounded_share",
    "mixed_pipelines",
    "holds",
    "size_ratio",
    "context",
    "setting",
]
FIT_PRECISION = "bf16"  # the precision the fits headline answers for


def _row(**values) -> dict:
    return {column: values.get(column, np.nan) for column in HEADLINE_COLUMNS}


def _density(run) -> list[dict]:
    rows = []
    for track in TRACKS:
        producer = producer_name("density", track)
        robust = run.frame(producer, "robustness")
        holds = {} if robust is None or robust.empty else dict(zip(robust["generation"], robust["holds"]))
        tables = [run.frame(producer, "multipliers"), run.frame(producer, "previous_generation")]
        for i, table in enumerate(tables):
            if table is None or table.empty:
                continue
            for r in table[table["method"] != "reference"].itertuples():
                exact = r.bound == "="
                against_reference = i == 0  # the robustness check varies the multipliers against the reference
                rows.append(
                    _row(
                        finding="density",
                        section="Capability-density",
                        track=track,
                        subject=r.generation,
                        against=r.reference,
                        value=r.multiplier if exact else np.nan,
                        low=r.ci_low if exact else r.multiplier_low,
                        high=r.ci_high if exact else r.multiplier_high,
                        bound=BOUND_WORDS[r.bound],
                        level=LEVEL if exact else np.nan,
                        unit="×",
                        n_models=r.n_models,
                        n_families=r.n_families,
                        bounded_share=r.bounded_share,
                        mixed_pipelines=bool(r.mixed_pipelines),
                        holds=holds.get(r.generation, np.nan) if against_reference else np.nan,
                    )
                )
    return rows


def _trend(run) -> list[dict]:
    rows = []
    for track in TRACKS:
        table = run.frame(producer_name("density", track), "doubling_time")
        if table is None or table.empty:
            continue
        r = table.iloc[0]
        rows.append(
            _row(
                finding="trend",
                section="Capability-density",
                track=track,
                subject="doubling time",
                against=r["reference"],
                value=r["doubling_months"],
                low=r["ci_low"],
                high=r["ci_high"],
                bound=BOUND_WORDS[r["bound"]],
                level=LEVEL,
                unit="months",
                n_generations=r["n_exact_generations"],
                bounded_share=r["bounded_share"],
                context=r["per_generation"],
                setting=f"a trend needs {MIN_TREND_GENERATIONS} generations with exact multipliers "
                "besides the reference",
            )
        )
    return rows


def _per_size(run) -> list[dict]:
    frames = []
    for track in TRACKS:
        table = run.frame(producer_name("per-size", track), "summary")
        if table is not None and not table.empty:
            frames.append(table.assign(track=track))
    models = run.frame("run", "models")
    if not frames or models is None:
        return []
    params = dict(zip(models["model"], models["params_total"]))
    table = pd.concat(frames, ignore_index=True).sort_values("median_delta")
    rows = []
    for which, r in (("largest", table.iloc[-1]), ("smallest", table.iloc[0])):
        rows.append(
            _row(
                finding="per-size",
                section="Per-size-comparisons",
                track=r["track"],
                subject=r["model"],
                against=r["baseline_model"],
                value=r["median_delta"],
                bound=BOUND_WORDS["="],
                unit="points",
                n_benchmarks=r["n_benchmarks"],
                n_families=r["n_votes"],
                size_ratio=params[r["model"]] / params[r["baseline_model"]],
                context=which,
            )
        )
    return rows


def _fits(run) -> list[dict]:
    table = run.frame("speed-memory", "fits")
    if table is None or table.empty:
        return []
    cards = [c for c in table.columns if c.endswith(" GB")]  # the memory model's card columns, smallest first
    rows = []
    for _, r in table[table["precision"] == FIT_PRECISION].iterrows():
        holding = [card for card in cards if r[card] == "yes"]
        rows.append(
            _row(
                finding="fits",
                section="Speed-and-memory",
                subject=r["model_id"],
                value=r["needed_gib"],
                bound=BOUND_WORDS["="],
                unit="GiB",
                context=holding[0] if holding else "none of the listed cards",
                setting=f"{FIT_PRECISION}, analytical memory model, {int(r['context']):,}-token context",
            )
        )
    return rows


def _speed(run) -> list[dict]:
    table = run.frame("speed-memory", "summary")
    needed = {"decode_tokens_per_s", "decode_tokens_per_s_p10", "decode_tokens_per_s_p90", "device_type"}
    if table is None or table.empty or not needed <= set(table.columns):
        return []
    rows = []
    for r in table.dropna(subset=["decode_tokens_per_s"]).itertuples():
        device = "GPU" if r.device_type == "cuda" else "CPU"
        threads = f"{int(r.torch_threads)}-thread " if device == "CPU" and pd.notna(r.torch_threads) else ""
        rows.append(
            _row(
                finding="speed",
                section="Speed-and-memory",
                subject=r.model,
                value=r.decode_tokens_per_s,
                low=r.decode_tokens_per_s_p10,
                high=r.decode_tokens_per_s_p90,
                bound=BOUND_WORDS["="],
                unit="tok/s",
                setting=f"on this {threads}{device} at {r.dtype}, {r.weights} weights, batch {int(r.batch_size)}, "
                f"prompt {int(r.prompt_length)}"
                + ("; says nothing about GPU speed" if device == "CPU" else f" ({r.device})"),
            )
        )
    return rows


def _claims(run) -> list[dict]:
    ledger = run.frame("claims", "ledger")
    if ledger is None or ledger.empty:
        return []
    counts = {"all": len(ledger), **ledger["verdict"].value_counts().to_dict()}
    return [
        _row(finding="claims", section="Claims-ledger", subject=verdict, value=n, unit="claims")
        for verdict, n in counts.items()
    ]


def headline_table(run) -> pd.DataFrame:
    """Page one's numbers from a run's published tables (a gentrend.report.layout.RunArtefacts; see the module
    docstring). Columns: HEADLINE_COLUMNS."""
    rows = _density(run) + _trend(run) + _per_size(run) + _fits(run) + _speed(run) + _claims(run)
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def publish(run, output_dir: str | Path | None = None) -> pd.DataFrame:
    """Publish page one's numbers into the run folder (producer `summary`, key `headlines`)."""
    table = headline_table(run)
    Publisher(output_dir, "summary").table(
        table, "headlines", "Page one: headline numbers", source="this run's tables", empty="no tables to summarise"
    )
    return table
