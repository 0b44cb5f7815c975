"""Subcommands contributed by subsystems (materialize, training sets, sync, serve, review...)."""

from __future__ import annotations

import click

__all__ = ["all_commands"]


def all_commands() -> list[click.Command]:
    return []
