"""``sparkfs sync``: the online store sync."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext

__all__ = ["sync_cmd"]


@click.command("sync")
@click.argument("feature_views", nargs=-1)
@click.option("--full", is_flag=True, help="Rebuild a new generation and switch readers to it atomically.")
@click.option("--sandbox", is_flag=True, help="Sync the sandbox tables into the sandbox key namespace.")
@click.option("--wait", "wait_s", default=0.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0),
              help="Wait this long for another running sync of a view to finish instead of refusing.")
@click.pass_obj
def sync_cmd(state: CliContext, feature_views: tuple[str, ...], full: bool, sandbox: bool,
             wait_s: float) -> None:
    """Push online FEATURE_VIEWS (default: all) to Redis: per entity, its current row and the later
    rows the offline table already has (an aggregation's windows keep sliding after the sync).

    Incremental by default: only rows changed since the last synced Delta version are read.
    A changed definition version, a missing checkpoint or vacuumed history means a full refresh.
    One sync per view at a time: a second one refuses, naming the running one (or waits, --wait).
    With no names, views deleted from the repository (or now online: false) lose their keys.
    """
    from sparkfs.pipeline.sync import sync_online

    results = sync_online(state.spark, state.workspace(sandbox), list(feature_views) or None,
                          full=full, wait_s=wait_s)
    for r in results:
        click.echo(f"{r.view_name}@{r.definition_version[:8]}: {r.mode} ({r.reason}), delta "
                   f"{r.from_delta_version}->{r.to_delta_version}, {r.entities_written} written, "
                   f"{r.entities_deleted} deleted, generation {r.generation}, {r.duration_s:.1f}s")
