"""The lowest layer: errors, paths, files, vocabulary, devices, environment, text. The version lives here so that
every layer can name it without importing the package root (which exposes the run-exploration API above it)."""

__version__ = "0.1.0"
