"""Subcommands contributed by subsystems (materialize, training sets, sync, serve, review...)."""

from __future__ import annotations

import click

__all__ = ["all_commands"]


def all_commands() -> list[click.Command]:
    from sparkfs.cli.consistency_cmd import consistency_cmd
    from sparkfs.cli.demo_cmd import demo_group
    from sparkfs.cli.lineage_cmd import lineage_cmd
    from sparkfs.cli.offline_cmd import backfill_cmd, materialize_cmd
    from sparkfs.cli.registry_cmd import registry_group
    from sparkfs.cli.report_cmd import report_cmd
    from sparkfs.cli.review_cmd import audit_cmd, review_group
    from sparkfs.cli.schedule_cmd import schedule_group
    from sparkfs.cli.serve_cmd import serve_cmd
    from sparkfs.cli.sync_cmd import sync_cmd
    from sparkfs.cli.training_cmd import training_set_group
    from sparkfs.cli.validate_cmd import validate_cmd

    return [
        materialize_cmd, backfill_cmd, validate_cmd, training_set_group, sync_cmd,
        consistency_cmd, serve_cmd, lineage_cmd,
        review_group, audit_cmd, demo_group, schedule_group, registry_group, report_cmd,
    ]
