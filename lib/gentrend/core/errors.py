"""Errors a user can meet. Each carries what is wrong and how to fix it; the CLI prints them in one line and
exits with the class's `exit_code` (documented in the README: 0 ok, 2 user error, 3 run locked, 4 partial)."""


class GentrendError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""

    exit_code = 2

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


class SettingError(GentrendError):
    """A value the suite cannot use: an unknown precision, track, device, backend, or an impossible grid."""


class RunLockedError(GentrendError):
    """Another run holds the reports folder."""

    exit_code = 3
