"""A test hook for signals: hold a run at a named moment so a test signals it there, deterministically.

With GENTREND_HOLD_AT=<moment> and GENTREND_HOLD_MARKER=<file> in the environment, `hold(moment)` writes its
process id into <file> (atomically) and waits (at most HOLD_S) for a signal; otherwise it returns at once.
Moments: `notebook:<output name>` (before that notebook's kernel starts, gentrend.pipeline.notebooks; on a Ray
worker too, which gets these VARIABLES from the driver) and `render` (gentrend.report.render).
"""

from __future__ import annotations

import os
import time

from gentrend.core.files import write_text

HOLD_S = 600
VARIABLES = ("GENTREND_HOLD_AT", "GENTREND_HOLD_MARKER")


def hold(moment: str) -> None:
    if os.environ.get("GENTREND_HOLD_AT") != moment:
        return
    write_text(os.environ["GENTREND_HOLD_MARKER"], str(os.getpid()))
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
