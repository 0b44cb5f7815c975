"""Subcommands contributed by subsystems (materialize, training sets, sync, serve, review...)."""

from __future__ import annotations

import click

__all__ = ["all_commands"]


def all_commands() -> list[click.Command]:
    from sparkfs.cli.review_cmd import audit_cmd, review_group
    from sparkfs.cli.validate_cmd import validate_cmd

    return [review_group, audit_cmd, validate_cmd]
