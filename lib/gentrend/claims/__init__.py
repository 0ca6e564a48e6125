"""Claim checks: capability checks (published scores, density) and speed/memory/architecture checks (memory
model, roofline, configs), all registered in `base.CHECKS` and judged by the one rule `base.VERDICT_RULE`."""

from gentrend.claims import capability, speed  # noqa: F401  (importing a module registers its checks)
from gentrend.claims.base import (
    CHECKS,
    COMFORT_HEADROOM,
    VERDICT_RULE,
    VERDICTS,
    ClaimContext,
    Part,
    Verdict,
    argued,
    check,
    overall_verdict,
    shown,
    untested_part,
    untested_parts,
    verdict_of,
)

__all__ = [
    "CHECKS",
    "COMFORT_HEADROOM",
    "VERDICT_RULE",
    "VERDICTS",
    "ClaimContext",
    "Part",
    "Verdict",
    "argued",
    "check",
    "overall_verdict",
    "shown",
    "untested_part",
    "untested_parts",
    "verdict_of",
]
