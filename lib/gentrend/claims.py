"""The claims ledger: each public claim in data/claims.yaml gets a verdict and the evidence behind it.

A claim names a registered check and its arguments. Checks are plain functions registered with @check;
capability checks live with the density analysis, speed and memory checks with the profiler. A check
returns a Verdict; a claim whose check cannot run on the data at hand is 'not testable', with the reason.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import pandas as pd
import yaml

from . import paths
from .catalogue import Catalogue
from .errors import DataError

VerdictLabel = Literal["supported", "partly supported", "refuted", "not testable"]


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


def overall_verdict(passed: list[bool]) -> VerdictLabel:
    """All parts of a claim hold: supported; none: refuted; some: partly supported."""
    return "supported" if all(passed) else "refuted" if not any(passed) else "partly supported"


def check(name: str):
    """Register a claim check under `name` (the `check:` field of data/claims.yaml)."""

    def register(fn: Callable[..., Verdict]):
        CHECKS[name] = fn
        return fn

    return register


def load_claims(path: Path | str | None = None) -> list[dict]:
    """Read data/claims.yaml and check that each claim names a registered check with arguments it accepts."""
    from . import claim_checks  # noqa: F401  (registers the checks)

    path = Path(path or paths.CLAIMS_FILE)
    if not path.exists():
        raise DataError(f"claims file not found: {path}", "restore data/claims.yaml from the repository")
    claims = (yaml.safe_load(path.read_text()) or {}).get("claims", [])
    for i, claim in enumerate(claims):
        for key in ("id", "category", "text", "source", "check"):
            if key not in claim:
                raise DataError(f"{path}: claim #{i + 1} has no {key!r}", "every claim needs id, category, text, source, check")
        fn = CHECKS.get(claim["check"])
        if fn is None:
            raise DataError(f"{path}: claim {claim['id']}: unknown check {claim['check']!r}", f"use one of {sorted(CHECKS)}")
        try:
            inspect.signature(fn).bind(None, **claim.get("args", {}))
        except TypeError as e:
            raise DataError(f"{path}: claim {claim['id']}: bad args for check {claim['check']!r}: {e}",
                            f"give the arguments of {claim['check']}{inspect.signature(fn)}") from None
    return claims


def claims_ledger(ctx: ClaimContext, path: Path | str | None = None) -> pd.DataFrame:
    """One row per claim: id, category, claim, verdict, evidence, based_on, source."""
    rows = []
    for claim in load_claims(path):
        verdict = CHECKS[claim["check"]](ctx, **claim.get("args", {}))
        rows.append(
            {
                "id": claim["id"],
                "category": claim["category"],
                "claim": claim["text"],
                "verdict": verdict.verdict,
                "evidence": verdict.evidence,
                "based_on": verdict.based_on,
                "source": claim["source"],
            }
        )
    return pd.DataFrame(rows)
