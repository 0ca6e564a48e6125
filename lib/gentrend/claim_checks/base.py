"""What every claim check shares: the verdict type, the context a check may look at, and the registry.

A check is a plain function registered with @check("name"); data/claims.yaml names it in `check:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable, Literal

import pandas as pd
from pydantic import AfterValidator, ValidationInfo
from typing_extensions import TypedDict

from ..catalogue import Catalogue
from ..vocab import check_track, precision_name

VerdictLabel = Literal["supported", "partly supported", "refuted", "not testable"]
VERDICTS = ("supported", "partly supported", "refuted", "not testable")


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictLabel
    evidence: str
    based_on: str = ""  # the rows or measurements behind it (e.g. "published scores: 15 base benchmarks")


@dataclass
class ClaimContext:
    """What checks may look at: published scores, the catalogue, and measured profiling rows if any."""

    scores: pd.DataFrame
    catalogue: Catalogue
    profiling: pd.DataFrame | None = None


CHECKS: dict[str, Callable[..., Verdict]] = {}


# --- argument types: data/claims.yaml is validated against these before anything runs -------------------------


def _model(value: str, info: ValidationInfo) -> str:
    info.context["catalogue"].get(value)  # raises with the list of known ids
    return value


def _generation(value: str, info: ValidationInfo) -> str:
    info.context["catalogue"].in_generation(value)
    return value


def _gpu(value: str, info: ValidationInfo) -> str:
    from ..roofline import gpu

    gpu(value)
    return value


ModelId = Annotated[str, AfterValidator(_model)]
GenerationLabel = Annotated[str, AfterValidator(_generation)]
Track = Annotated[str, AfterValidator(check_track)]
Precision = Annotated[str, AfterValidator(precision_name)]
GpuName = Annotated[str, AfterValidator(_gpu)]


class CpuClaim(TypedDict, total=False):
    model: ModelId
    tokens_per_s: float
    bandwidth_gb_s: float
    label: str


def check(name: str):
    """Register a claim check under `name` (the `check:` field of data/claims.yaml)."""

    def register(fn: Callable[..., Verdict]):
        CHECKS[name] = fn
        return fn

    return register


def overall_verdict(passed: list[bool]) -> VerdictLabel:
    """All parts of a claim hold: supported; none: refuted; some: partly supported."""
    return "supported" if all(passed) else "refuted" if not any(passed) else "partly supported"
