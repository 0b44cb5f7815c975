"""``sparkfs sync``: the online store sync."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext

__all__ = ["sync_cmd"]


@click.command("sync")
@click.argument("feature_views", nargs=-1)
@click.option("--full", is_flag=True, help="Rebuild a new generation and switch readers to it atomically.")
@click.option("--sandbox", is_flag=True, help="Sync the sandbox tables into the sandbox key namespace.")
@click.pass_obj
def sync_cmd(state: CliContext, feature_views: tuple[str, ...], full: bool, sandbox: bool) -> None:
    """Push the latest value per entity (within ttl) of online FEATURE_VIEWS (default: all) to Redis.

    Incremental by default: only rows changed since the last synced Delta version are read.
    A changed definition version, a missing checkpoint or vacuumed history means a full refresh.
    With no names, views deleted from the repository (or now online: false) lose their keys.
    """
    from sparkfs.online_sync import sync_online

    results = sync_online(state.spark, state.workspace(sandbox), list(feature_views) or None, full=full)
    for r in results:
        click.echo(f"{r.view_name}@{r.definition_version[:8]}: {r.mode} ({r.reason}), delta "
                   f"{r.from_delta_version}->{r.to_delta_version}, {r.entities_written} written, "
                   f"{r.entities_deleted} deleted, generation {r.generation}, {r.duration_s:.1f}s")
