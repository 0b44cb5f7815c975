"""Quoting user input in error messages: a short prefix, never the whole input.

Error messages name the bad field and quote its value through :func:`excerpt`, and every error
body is cut by :func:`short_message`, so a 1 MB bad key costs a 1 MB request, never a 1 MB
answer (and a log line of the same size). Free of FastAPI: the serving catalog, the lookup and the API use it.
"""

from __future__ import annotations

__all__ = ["MAX_MESSAGE_CHARS", "excerpt", "short_message"]

#: The longest error message a response carries (a safety net behind :func:`excerpt`).
MAX_MESSAGE_CHARS = 2000


def excerpt(value: object, limit: int = 64, *, quote: bool = True) -> str:
    """``repr(value)`` (or ``str`` without ``quote``) cut to ``limit`` characters, saying how
    long it was, for quoting user input in an error message."""
    text = repr(value) if quote else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def short_message(message: str) -> str:
    """``message`` cut to :data:`MAX_MESSAGE_CHARS`."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[:MAX_MESSAGE_CHARS]}... (message cut: {len(message)} characters)"
