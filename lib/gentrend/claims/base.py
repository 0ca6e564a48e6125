"""What every claim check shares: the one verdict rule, the context a check may look at, and the registry.

A check is a plain function registered with @check("name"); data/claims.yaml names it in `check:`. It splits
its claim into parts, gives each part an outcome by the kind of evidence behind it (`shown`, `argued`,
`untested_part`), and returns `verdict_of(parts, based_on)`: the verdict follows from the parts by VERDICT_RULE,
the same rule for every claim, printed above the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import pandas as pd
from pydantic import AfterValidator, ValidationInfo
from typing_extensions import TypedDict

from gentrend.core.vocab import check_track, precision_name
from gentrend.models.catalogue import Catalogue
from gentrend.models.roofline import gpu

PARTLY = "partly supported (a part fails)"
WHERE_TESTED = "supported where tested (a part untested)"
VerdictLabel = Literal["supported", WHERE_TESTED, PARTLY, "not refuted", "refuted", "not testable"]
VERDICTS = ("supported", WHERE_TESTED, PARTLY, "not refuted", "refuted", "not testable")
Outcome = Literal["holds", "fails", "possible", "undecided", "untested"]
COMFORT_HEADROOM = 0.10  # "comfortably", "easily", "with room to spare": at least 10 % of the memory left free
SIZE_MATCH = 0.35  # a size named in a claim ("1.5B") is the catalogue model nearest to it within ±35 % of parameters
ABOUT = 0.20  # a number stated with "about", "roughly", "~": the measured value within ±20 % of it

VERDICT_RULE = f"""**How verdicts are given (one rule for every claim).** A claim is split into its parts (each model,
number, size or condition it states; models that differ in what the claim says of them are separate parts).
Each part gets one outcome from the evidence behind it:

- *holds* or *fails*: shown by published data read directly (scores, configs, model cards) or by a
  measurement made in this run on the claim's own subject;
- *possible* or *fails*: argued from a model (the memory model, the bandwidth roofline). An argument can show
  a claim impossible, never that it happens: it can refute, or not refute;
- *undecided*: the evidence lies inside its own error (a memory headroom smaller than the memory model's
  measured error);
- *untested*: nothing in the data or the models decides it.

Words are read as written. "Comfortably" (and alike) needs at least {COMFORT_HEADROOM:.0%} of the memory left
free; "needs X GB+" is "needs at least X GB": it fits in X GB and does not fit in the next smaller size;
"about N" holds when the measured value is within ±{ABOUT:.0%} of N (a value above that range: the claim
understates; below: it overstates). A size a claim names ("a 1.5B model") is the catalogue model of that
generation nearest to it within ±{SIZE_MATCH:.0%} of its parameters; with none that near, the part is
untested. A claim that admits more than one reading is tested under each; the ledger shows every reading and
states which one decides the verdict and why. The verdict then follows from the parts, in this order:

1. **not testable**: no part is decided (every part untested or undecided);
2. **supported**: every part holds;
3. **{PARTLY}**: some part holds and another fails;
4. **{WHERE_TESTED}**: some part holds, none fails, and another is untested, undecided or only
   possible;
5. **refuted**: no part holds and some part fails;
6. **not refuted**: no part holds or fails, and some part is possible."""


@dataclass(frozen=True)
class Part:
    """One part of a claim, its outcome and the evidence for it (use `shown`, `argued`, `undecided`,
    `untested_part`); `short`: the few words of the ledger's one-line reason (default: the outcome alone)."""

    part: str
    outcome: Outcome
    evidence: str
    short: str = ""


def shown(part: str, holds: bool, evidence: str, short: str = "") -> Part:
    """A part decided by published data or a measurement of the claim's subject: it holds or fails."""
    return Part(part, "holds" if holds else "fails", evidence, short)


def argued(part: str, possible: bool, evidence: str, short: str = "") -> Part:
    """A part argued from a model (memory model, roofline): possible (not refuted) or fails (impossible)."""
    return Part(part, "possible" if possible else "fails", evidence, short)


def undecided(part: str, evidence: str, short: str = "") -> Part:
    """A part whose evidence lies inside its own error (e.g. a headroom smaller than the memory model's error)."""
    return Part(part, "undecided", evidence, short)


def untested_part(part: str, reason: str) -> Part:
    """A part nothing in the data or the models decides."""
    return Part(part, "untested", reason)


def untested_parts(parts: dict[str, str] | None) -> list[Part]:
    """The parts of a claim that no data can test ({part: why}, from data/claims.yaml), as untested parts."""
    return [untested_part(part, reason) for part, reason in (parts or {}).items()]


def overall_verdict(outcomes: list[str]) -> VerdictLabel:
    """The verdict of a claim from its parts' outcomes (VERDICT_RULE)."""
    if all(o in ("untested", "undecided") for o in outcomes):
        return "not testable"
    if all(o == "holds" for o in outcomes):
        return "supported"
    if "holds" in outcomes:
        return PARTLY if "fails" in outcomes else WHERE_TESTED
    return "refuted" if "fails" in outcomes else "not refuted"


REASON_ORDER = ("fails", "holds", "undecided", "possible", "untested")


def reason_of(parts: list[Part]) -> str:
    """The one-line reason of a verdict: the parts grouped by outcome, failures first, each with its few words."""
    groups = []
    for outcome in REASON_ORDER:
        named = [p.part + (f" ({p.short})" if p.short else "") for p in parts if p.outcome == outcome]
        if named:
            groups.append(f"{outcome}: " + ", ".join(named))
    return "; ".join(groups)


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictLabel
    evidence: str
    based_on: str = ""  # the rows or measurements behind it (e.g. "published scores: 15 base benchmarks")
    parts: str = ""  # the outcome of each part, e.g. "Qwen3.5-0.8B: fails; Qwen3.5-2B: holds"
    reason: str = ""  # one line: the parts that decide it, grouped by outcome (`reason_of`)


def verdict_of(parts: list[Part], based_on: str, note: str = "") -> Verdict:
    """The Verdict of a claim from its parts (VERDICT_RULE); `note`: evidence that is no part (context)."""
    evidence = "; ".join(f"{p.part}: {p.evidence}" for p in parts) + (f". {note}" if note else "")
    return Verdict(
        overall_verdict([p.outcome for p in parts]),
        evidence,
        based_on,
        "; ".join(f"{p.part}: {p.outcome}" for p in parts),
        reason_of(parts),
    )


@dataclass
class ClaimContext:
    """What checks may look at: published scores, the catalogue, and measured profiling rows if any."""

    scores: pd.DataFrame
    catalogue: Catalogue
    profiling: pd.DataFrame | None = None


CHECKS: dict[str, Callable[..., Verdict]] = {}


def match_size(catalogue: Catalogue, generation: str, params: float, tolerance: float = SIZE_MATCH):
    """The model of `generation` a size named in a claim stands for: the one nearest `params` (relative
    difference of total parameters) within ±`tolerance`, or None when no model is that near (SIZE_MATCH)."""
    models = catalogue.in_generation(str(generation))
    nearest = min(models, key=lambda m: abs(m.params.total - params))
    return nearest if abs(nearest.params.total - params) <= tolerance * params else None


# --- argument types: data/claims.yaml is validated against these before anything runs -------------------------


def _model(value: str, info: ValidationInfo) -> str:
    info.context["catalogue"].get(value)  # raises with the list of known ids
    return value


def _generation(value: str, info: ValidationInfo) -> str:
    info.context["catalogue"].in_generation(value)
    return value


def _gpu(value: str, info: ValidationInfo) -> str:

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
