"""Reading and writing files, once for the whole suite.

Writing is atomic: content goes to a temporary file in the target's folder, which is renamed over the target
only when complete, so a killed run, a full disk or two writers never leave a half-written file under its
final name. Writes are contained: a target that is a symlink, or whose path holds `..`, is refused, and a
target under the reports folder must resolve inside it (a linked folder on the way is refused too).
CSV output neutralises text cells that a spreadsheet would run as a formula (OWASP: prefix `'`).

Reading data files names the file in every error, with the fix, and enforces gentrend.core.limits: a size
cap before anything is parsed, and YAML without anchors or aliases, nested at most MAX_YAML_DEPTH deep.
"""

from __future__ import annotations

import collections.abc
import contextlib
import errno
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH
from gentrend.core.text import shorten

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


def _within(path: Path, root: Path) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(root))


def contained(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """`path`, checked before a write or a delete: not a symlink, no `..`, and resolving inside `root` (default:
    the reports folder, for a path under it). An OutputError naming the cause otherwise."""
    path = Path(path)
    if ".." in path.parts:
        raise OutputError(
            f"refusing to write {shorten(str(path), 200)}: the path climbs out of its folder with '..'",
            "name files after safe names only (see the README's Limits)",
        )
    if path.is_symlink():
        raise OutputError(
            f"refusing to write or delete {path}: it is a symlink (gentrend never writes through a link)",
            "remove the link, then run again",
        )
    if root is None and _within(path, paths.reports_dir()):
        root = paths.reports_dir()
    if root is not None:
        resolved = path.parent.resolve() / path.name
        if not resolved.is_relative_to(Path(root).resolve()):
            raise OutputError(
                f"refusing to write or delete {path}: it resolves to {resolved}, outside {root} "
                "(a symlinked folder on the way)",
                "replace the linked folder by a real one (or set GENTREND_REPORTS to the folder you meant)",
            )
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, root: str | os.PathLike | None = None):
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is removed. The target
    is checked by `contained` first."""
    path = contained(path, root)
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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _neutralised(value):
    """A text cell a spreadsheet would read as a formula, prefixed with `'` (OWASP CSV injection); numbers,
    including negative ones written as text, stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


def _restored(value):
    """The inverse of `_neutralised`, for reading back what gentrend wrote (a code such as "=" stays "=")."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    text = frame.select_dtypes(include=["object", "string"]).columns
    frame = frame.assign(**{str(c): frame[c].map(_neutralised) for c in text}) if len(text) else frame
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def lock_file(path: str | os.PathLike) -> Path:
    """Create (or keep) a lock file without following a link: a symlink there is refused, saying so."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o666))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputError(
                f"the lock file {path} is a symlink: gentrend never writes through a link",
                "delete the link (nothing else holds it), then run again",
            ) from None
        raise
    return path


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
    """The safe loader, refusing a key given twice in one mapping (plain YAML silently keeps the last), anchors
    and aliases (so nothing expands), and nesting deeper than MAX_YAML_DEPTH."""

    _depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "found an anchor or alias (&name / *name): data files may not use them", event.start_mark
            )
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


def read_data(path: str | os.PathLike, what: str) -> str:
    """The text of a data file: at most MAX_FILE_BYTES, UTF-8 (an encoding error names the line)."""
    path = require_file(path, what)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(
            f"{path} ({what}) is {size:,} bytes, above the limit of {MAX_FILE_BYTES:,} bytes for a data file",
            "a data file this large is not one gentrend wrote: restore it from the repository (git checkout -- data/)",
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path} ({what}) is not UTF-8 text: line {line} holds the byte 0x{data[e.start]:02x}, which is not "
            "valid in the UTF-8 encoding",
            "save the file with the UTF-8 encoding (e.g. in your editor's 'Save with encoding')",
        ) from None


def read_yaml(path: str | os.PathLike, what: str):
    """Parse a YAML file (safe tags only, no key twice, no alias, limited depth and size); an error names the
    file and the position."""
    text = read_data(path, what)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise DataError(
            f"{path} ({what}) is not valid YAML{at}: {shorten(problem, 200, quote=False)}",
            f"fix the YAML there (plain YAML: no anchors or aliases, at most {MAX_YAML_DEPTH} levels deep)",
        ) from None
    except ValueError as e:  # a well-formed but impossible value, e.g. the date 2024-19-09
        raise DataError(
            f"{path} ({what}) holds an invalid value: {shorten(str(e), 200, quote=False)}",
            "correct the value (dates are YYYY-MM-DD)",
        ) from None


def read_csv(path: str | os.PathLike, what: str, max_rows: int | None = None, **kwargs) -> pd.DataFrame:
    """Read a CSV file (at most MAX_FILE_BYTES, and `max_rows` rows when given); an unreadable, empty or
    oversized file is a DataError naming the file."""
    path = Path(path)
    text = read_data(path, what)
    try:
        frame = pd.read_csv(io.StringIO(text), nrows=None if max_rows is None else max_rows + 1, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} ({what}) is empty", "restore the file: it needs a header line and rows") from None
    except (pd.errors.ParserError, ValueError) as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise DataError(
            f"{path} ({what}) cannot be parsed as CSV: {shorten(detail, 200, quote=False)}",
            "fix that line (a stray comma or an unclosed quote), or restore the file",
        ) from None
    if max_rows is not None and len(frame) > max_rows:
        raise DataError(
            f"{path} ({what}) has more than {max_rows:,} rows, the limit for this file",
            "a table this long is not one gentrend wrote: restore it from the repository (git checkout -- data/)",
        )
    text_columns = frame.select_dtypes(include=["object", "string"]).columns
    return frame.assign(**{str(c): frame[c].map(_restored) for c in text_columns}) if len(text_columns) else frame
