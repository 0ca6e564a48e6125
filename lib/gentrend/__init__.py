"""gentrend: track how small open-weight language models improve from one generation to the next.

run = gentrend.open_run("latest")          # a finished run: its tables by title, with provenance
gentrend.compare_runs(run, gentrend.open_run("2026-12-01-..."), "density multiplier")
"""

import warnings

from gentrend.core import __version__

# tqdm.auto picks its bar by context: widgets in a Jupyter kernel where ipywidgets is installed, else the plain
# text bar (a terminal, a papermill kernel). Where it falls back it warns "IProgress not found" into the
# notebook's output; the fallback is the intended bar, so the warning says nothing worth reading.
warnings.filterwarnings("ignore", message="IProgress not found")


__all__ = ["__version__", "compare_runs", "open_run"]


def __getattr__(name: str):
    """open_run / compare_runs, imported on first use (pandas and the report layer only when exploring)."""
    if name in ("open_run", "compare_runs"):
        from gentrend.report import explore

        return getattr(explore, name)
    raise AttributeError(f"module 'gentrend' has no attribute {name!r}")
