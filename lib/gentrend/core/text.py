"""Text from data on its way to a page: shown as text, never read as markup."""

from __future__ import annotations

import html


def escape(value) -> str:
    """Text from data, safe to put in HTML or Markdown (markup shows as text)."""
    return html.escape(str(value), quote=True)
