"""Claim checks: capability checks (published scores, density) and speed/memory/architecture checks (memory
model, roofline, configs), all registered in `base.CHECKS`."""

from . import capability, speed  # noqa: F401  (importing a module registers its checks)
from .base import CHECKS, VERDICTS, ClaimContext, Verdict, check, overall_verdict

__all__ = ["CHECKS", "VERDICTS", "ClaimContext", "Verdict", "check", "overall_verdict"]
