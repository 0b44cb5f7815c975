"""Control characters in user-supplied text: refused on the way in, escaped on the way out.

A user name or a comment is printed by ``sparkfs audit``, ``sparkfs review status`` and the
error messages. A newline, a carriage return, an ANSI escape (``ESC[``) or a bidirectional
override in one could forge a line of that output (an "approved" row that was never written),
so :func:`refuse_control` rejects them where names and comments enter sparkfs, and
:func:`escape_control` renders whatever is stored (rows written before the check existed)
visibly: ``\\n``, ``\\x1b``, ``\\u202e``.
"""

from __future__ import annotations

import unicodedata

from sparkfs.errors import ValidationError

__all__ = ["escape_control", "find_control", "refuse_control"]

#: Format characters that reorder or hide text (Trojan Source); other Cf (e.g. U+200D, the
#: zero-width joiner of emoji sequences) are harmless.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI


def find_control(text: str) -> str | None:
    """The first control character of ``text`` (None when it has none)."""
    return next((c for c in text if _is_control(c)), None)


def refuse_control(text: str, what: str) -> str:
    """``text`` unchanged, or a ValidationError naming ``what`` and the offending character.

    Args:
        what: how the user gave it, e.g. ``"--user"`` or ``"the comment (--comment)"``.
    """
    char = find_control(text)
    if char is not None:
        raise ValidationError(
            f"{what} '{escape_control(text)[:80]}' contains the control character "
            f"{escape_control(char)} (at position {text.index(char)}); user names and comments "
            "must be printable text on one line: remove it")
    return text


def escape_control(text: str, keep: str = "") -> str:
    """``text`` with every control character (except those in ``keep``) written as an escape."""
    if find_control(text) is None:
        return text
    out = []
    for char in text:
        if char in keep or not _is_control(char):
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)
