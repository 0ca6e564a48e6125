"""Errors a user can meet. Each carries what is wrong and how to fix it; the CLI prints them in one line."""


class GentrendError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""

    def __init__(self, problem: str, fix: str = ""):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}\n  How to fix: {fix}" if fix else problem)


class CatalogueError(GentrendError):
    """The model catalogue (data/models.yaml) is malformed or names an unknown model."""


class DataError(GentrendError):
    """A data file (scores, claims, results) is missing or malformed."""


class ModelLoadError(GentrendError):
    """A model could not be loaded in the requested mode."""


class NotebookError(GentrendError):
    """A notebook failed, or was given parameters it does not declare."""
