"""Text an attacker can put in a lead file, a name, a note or a reason. Each
value names the field it went into, so a failing check says which one
leaked; none of them may ever run in a browser."""

from __future__ import annotations

from markupsafe import escape

SCRIPT = "</script><script>window.__pwned=1</script>"
RAW_MARKUP = ("<img src=x", "<script>window.__pwned", "<svg onload")


def tag(field: str) -> str:
    """An image whose error handler would run, named after its field."""
    return f"<img src=x onerror=window.__pwned=1 alt={field}>"


def assert_shown_escaped(html: str, *values: str) -> None:
    """No hostile markup is in the page as markup, and each value is shown,
    escaped (so the reader sees exactly what was typed)."""
    for marker in RAW_MARKUP:
        at = html.find(marker)
        assert at < 0, f"unescaped {marker!r} in the page: …{html[max(0, at - 80) : at + 80]}…"
    for value in values:
        assert str(escape(value)) in html, f"{value!r} is not shown on the page"
