"""Claim checks, registered with gentrend.claims.check: capability checks (published scores, density) and
speed/memory/architecture checks (memory model, roofline, configs)."""

from . import capability, speed  # noqa: F401
