"""gentrend: track how small open-weight language models improve from one generation to the next."""

__version__ = "0.1.0"
