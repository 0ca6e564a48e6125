"""Text from data on its way to a page: shown as text, never read as markup."""

from __future__ import annotations

import html


def escape(value) -> str:
    """Text from data, safe to put in HTML or Markdown (markup shows as text)."""
    return html.escape(str(value), quote=True)


def shorten(value, limit: int = 60) -> str:
    """repr(value) cut to about `limit` characters, saying how long it was: error messages never print an
    unbounded value."""
    text = str(value)
    if len(text) <= limit:
        return repr(value) if isinstance(value, str) else text
    return f"{text[:limit]!r}… ({len(text):,} characters)"
