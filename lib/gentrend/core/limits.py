"""What a data file may hold, stated once: sizes, depths, lengths and the rule for names that become paths.

The README's "Limits" section lists these constants, and `gentrend check` enforces them before anything is
parsed at length, so an oversized or hostile file fails in seconds with one message.

- Every data file (YAML, CSV, JSON config): at most MAX_FILE_BYTES.
- YAML: nested at most MAX_YAML_DEPTH levels; no anchors or aliases (`&a`, `*a`), so nothing expands.
- published_scores.csv: at most MAX_SCORE_ROWS rows.
- A name that becomes part of a file name (generation label, model id, task name, run id): SAFE_NAME, i.e. a
  letter or digit, then up to 63 letters, digits, `.`, `_`, `+`, `-`, and never `..`.
- A name shown in tables (family, size label, benchmark, repo id, ...): at most MAX_NAME_CHARS characters, no
  control, invisible or bidirectional character (Unicode categories Cc and Cf: zero-width space, RLO, ...).
- Free text (a claim, a source, a note): at most MAX_TEXT_CHARS characters, no invisible or bidirectional
  character (line breaks and tabs are allowed).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_SCORE_ROWS = 20_000
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 4_000
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
SAFE_NAME_RULE = "a letter or digit, then up to 63 letters, digits, '.', '_', '+' or '-', never '..'"
_TEXT_CONTROLS = {"\n", "\t", "\r"}


def hidden_character(value: str, allow: set[str] = frozenset()) -> str | None:
    """The first control, invisible or bidirectional character of `value`, described (None when there is none)."""
    for i, char in enumerate(value):
        if char not in allow and unicodedata.category(char) in ("Cc", "Cf"):
            name = unicodedata.name(char, "control character")
            return f"U+{ord(char):04X} ({name}) at character {i + 1}"
    return None


def is_safe_name(value: str) -> bool:
    return bool(SAFE_NAME.match(value)) and ".." not in value


def _safe_name(value: str) -> str:
    if not is_safe_name(value):
        hidden = hidden_character(value)
        raise ValueError(f"holds the invisible character {hidden}" if hidden else f"must be {SAFE_NAME_RULE}")
    return value


def _visible(allow: set[str]):
    def check(value: str) -> str:
        hidden = hidden_character(value, allow)
        if hidden:
            raise ValueError(f"holds the invisible or control character {hidden}; delete it")
        return value

    return check


SafeName = Annotated[str, AfterValidator(_safe_name)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(_visible(set()))]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(_visible(_TEXT_CONTROLS))]
