"""Text from data on its way to a page: shown as text, never read as markup."""

from __future__ import annotations

import html
import unicodedata


def escape(value) -> str:
    """Text from data, safe to put in HTML or Markdown (markup shows as text)."""
    return html.escape(str(value), quote=True)


def shorten(value, limit: int = 60, quote: bool = True) -> str:
    """repr(value) (str(value) without quote) cut to about `limit` characters, saying how long it was: error
    messages never print an unbounded value, nor an invisible or bidirectional character (written as \\uXXXX)."""
    text = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in str(value))
    if len(text) > limit:
        cut = repr(text[:limit]) if quote else text[:limit]
        return f"{cut}… ({len(text):,} characters)"
    return repr(value) if quote and isinstance(value, str) else text
