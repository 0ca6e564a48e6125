"""`gentrend check` on oversized data: the wall time of the whole command (interpreter start, imports, the check),
median of --repeat runs, for each file the limits must refuse in seconds: a published_scores.csv of 500,000 rows and
a claim text of 50 MB; the intact data beside them for reference. Not a test: run it by hand on a quiet machine.

    PYTHONPATH=lib .venv/bin/python benchmarks/check_time.py [--repeat 3]

Each case is built in a temporary copy of data/ by the edits the tests of bad input use (tests/fixtures/
data_edits.py); every run must end as the tests require: exit 2 with one message (exit 0 on intact data).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.data_edits import copy_data, longer_claim_text, more_score_rows

LIMIT_S = 5  # issue 18: a bad file fails `gentrend check` in under 5 s
CASES = {
    "intact data": (None, 0),
    "published_scores.csv of 500,000 rows": (more_score_rows(500_000), 2),
    "claim text of 50 MB": (longer_claim_text(50_000_000), 2),
}


def timed_check(data: Path) -> tuple[float, int, str]:
    """One `gentrend check` in a fresh interpreter on `data`: (wall seconds, exit code, what it printed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gentrend.cli", "check"],
        env=os.environ | {"GENTREND_DATA": str(data)},
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, done.returncode, done.stderr + done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (the median is printed)")
    args = ap.parse_args()
    for case, (edit, expected) in CASES.items():
        with tempfile.TemporaryDirectory(prefix="gentrend-check-time-") as tmp:
            data = copy_data(Path(tmp))
            if edit:
                edit(data)
            runs = [timed_check(data) for _ in range(args.repeat)]
            said = runs[0][2].splitlines()[0].replace(f"{tmp}/", "")
        for _, code, out in runs:
            messages = out.count("gentrend: error:")
            if code != expected or messages != (expected != 0) or "Traceback" in out:
                sys.exit(f"{case}: exit {code} (expected {expected}), {messages} message(s):\n{out}")
        seconds = [s for s, _, _ in runs]
        median = statistics.median(seconds)
        verdict = "" if expected == 0 else f"  ({'under' if median < LIMIT_S else 'OVER'} {LIMIT_S} s)"
        print(f"{case:40} median {median:5.2f} s of {', '.join(f'{s:.2f}' for s in seconds)}{verdict}")
        print(f"{'':40} {said}")


if __name__ == "__main__":
    main()
