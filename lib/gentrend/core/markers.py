"""A test hook for signals: hold a run at a named moment so a test signals it there, deterministically.

With GENTREND_HOLD_AT=<moment> and GENTREND_HOLD_MARKER=<file> in the environment, `hold(moment)` touches <file>
and waits (at most HOLD_S) for a signal; otherwise it returns at once. Moments: `notebook:<output name>` (before
that notebook's kernel starts, gentrend.pipeline.notebooks) and `render` (gentrend.report.render).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HOLD_S = 600


def hold(moment: str) -> None:
    if os.environ.get("GENTREND_HOLD_AT") != moment:
        return
    Path(os.environ["GENTREND_HOLD_MARKER"]).touch()
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
