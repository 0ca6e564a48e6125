"""The one way to name a set of inputs by its content: a sha256 of sorted JSON (reuse keys, cache keys, machine
fingerprints) and of a file's bytes (what a run produced or read)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

KEY_LENGTH = 24  # hex characters: 96 bits, no collision among the runs and cache entries of one reports folder


def digest(*parts) -> str:
    """A short hash of JSON-serialisable parts (dict keys sorted; other objects by str)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:KEY_LENGTH]


def file_digest(path: Path) -> str:
    """The full sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
