"""Reading and writing files, once for the whole suite.

Writing is atomic: content goes to a temporary file in the target's folder, which is renamed over the target
only when complete, so a killed run, a full disk or two writers never leave a half-written file under its
final name. Reading data files names the file in every error, with the fix.
"""

from __future__ import annotations

import collections.abc
import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from gentrend.core.errors import DataError, GentrendError

_UMASK = os.umask(0)
os.umask(_UMASK)


class OutputError(GentrendError):
    """A file of the run cannot be written (read-only folder, full disk, ...)."""


def output_error(error: OSError, path: str | os.PathLike | None = None) -> OutputError:
    """One line for an OSError met writing `path` (default: the file the error names), with the fix."""
    path = path or error.filename
    reason = os.strerror(error.errno) if error.errno else str(error)
    if path is None:
        problem = f"cannot write the run's files: {reason}"
    else:
        path = Path(path)
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            return OutputError(
                f"cannot write {path}: {blocking} is a file, not a folder",
                "move that file away, or set GENTREND_REPORTS to another folder",
            )
        problem = f"cannot write {path}: {reason}"
    fix = {
        errno.ENOSPC: "free disk space (e.g. `gentrend clean`), then run again",
        errno.EDQUOT: "free disk space (e.g. `gentrend clean`), then run again",
        errno.EACCES: "make the folder writable, or set GENTREND_REPORTS to a writable folder",
        errno.EROFS: "set GENTREND_REPORTS to a folder on a writable disk",
    }.get(error.errno, "check the folder exists and is writable, or set GENTREND_REPORTS to another folder")
    return OutputError(problem, fix)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the final file gets the usual permissions
    except OSError as e:
        raise output_error(e, path) from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise output_error(e, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def require_file(path: str | os.PathLike, what: str) -> Path:
    """`path` if it exists, else a DataError naming `what` and how to get it back."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{what} not found: {path}",
            "restore it from the repository (git checkout -- data/), or set GENTREND_DATA to a data folder",
        )
    return path


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (plain YAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with `<<` may be overridden: that is what merging is for
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, collections.abc.Hashable):
                continue  # the parent class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"found the key {key!r} twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: str | os.PathLike, what: str):
    """Parse a YAML file (safe tags only, no key twice); a syntax error names the file and the position."""
    path = require_file(path, what)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise DataError(f"{path} ({what}) is not valid YAML{at}: {problem}", "fix the YAML syntax there") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} ({what}) is not UTF-8 text", "save the file as UTF-8") from None
    except ValueError as e:  # a well-formed but impossible value, e.g. the date 2024-19-09
        raise DataError(
            f"{path} ({what}) holds an invalid value: {e}", "correct the value (dates are YYYY-MM-DD)"
        ) from None


def read_csv(path: str | os.PathLike, what: str, **kwargs) -> pd.DataFrame:
    """Read a CSV file; an unreadable or empty file is a DataError naming the file."""
    path = require_file(path, what)
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} ({what}) is empty", "restore the file: it needs a header line and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise DataError(
            f"{path} ({what}) cannot be parsed as CSV: {detail}",
            "fix that line (a stray comma or an unclosed quote), or restore the file",
        ) from None
