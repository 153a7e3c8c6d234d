"""How wide text is, in one model that workbooks (column widths), row heights and decks share; and
text shortened with "…", written once.

A character's width is counted in units of a Latin digit ("0", Excel's column unit) from its UTF-8 length,
which runs at C speed over a whole string (row heights measure every wrapped cell of a 90,000-row
register): ASCII 1; two-byte characters (accented Latin, Greek, Cyrillic, ×, °) 1.5; three-byte characters
2 — the CJK ideographs and the punctuation 宋体 sets full width (，。、“”…—）; four-byte characters
(rare ideographs, emoji) 2.5. The 2 of a CJK character is one em of the font; decks turn units into
ems of their font (`ems`).
"""

from __future__ import annotations

from typing import Any

ELLIPSIS = "…"


def char_units(ch: str) -> float:
    """Width of one character in units of a Latin digit: 1, 1.5, 2 or 2.5 (its UTF-8 length + 1, halved)."""
    return (len(ch.encode("utf-8", "surrogatepass")) + 1) / 2


def text_units(text: str) -> float:
    """Width of one line of text in units of a Latin digit: the sum of its characters' `char_units`."""
    return (len(text.encode("utf-8", "surrogatepass")) + len(text)) / 2


def text_width(value: Any) -> float:
    """Width of a cell value's longest line in Excel column units (None is 0)."""
    if value is None:
        return 0
    return max((text_units(line) for line in str(value).splitlines() or [""]), default=0)


def ems(units: float, narrow_em: float) -> float:
    """`units` of one character as ems of a font whose narrow (one-unit) characters are `narrow_em` wide and
    whose CJK characters (two units) are one em."""
    return narrow_em + (1.0 - narrow_em) * (units - 1)


def shorten(text: Any, n: int) -> str:
    """`text` (None as "") cut to at most `n` characters, the last of them "…" when anything was cut."""
    text = str(text or "")
    return text if len(text) <= n else text[: n - 1] + ELLIPSIS
