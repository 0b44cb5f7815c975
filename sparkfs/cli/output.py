"""Plain-text tables and JSON for CLI output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from sparkfs.control_chars import escape_control

__all__ = ["echo_json", "echo_table", "fmt_time"]


def fmt_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Aligned columns; control characters in a cell are printed as escapes (``\\n``, ``\\x1b``),
    so a stored value cannot start a line, move the cursor or recolour the table."""
    cells = [[str(h) for h in headers],
             *[["" if c is None else escape_control(str(c)) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
