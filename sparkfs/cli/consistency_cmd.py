"""``sparkfs consistency``: online lookups against the point-in-time join at one instant."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json

__all__ = ["consistency_cmd"]


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time such as "
                                 "2026-12-01T09:30:00Z", param_hint="--at") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("consistency")
@click.argument("feature_views", nargs=-1)
@click.option("--sample", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Entities per view, drawn at random from the synced table version.")
@click.option("--at", "at", default=None, metavar="TIME",
              help="The instant of both lookups (ISO 8601, UTC unless it says otherwise). "
                   "Default: now.")
@click.option("--seed", default=0, show_default=True, help="Seed of the entity sample.")
@click.option("--sandbox", is_flag=True, help="Check the sandbox tables and key namespace.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def consistency_cmd(state: CliContext, feature_views: tuple[str, ...], sample: int,
                    at: str | None, seed: int, sandbox: bool, as_json: bool) -> None:
    """Compare online values of FEATURE_VIEWS (default: every online view) with the offline store.

    Samples entities of each synced view, looks them up in Redis and joins them point-in-time
    against the table version the last sync read, both at the same instant, and prints the
    mismatch rate per view with a few examples. Exits 1 when any entity differs: run it after
    a deploy, a sync or a Redis restore.
    """
    from sparkfs.pipeline.consistency import check_consistency

    results = check_consistency(state.spark, state.workspace(sandbox),
                                list(feature_views) or None, sample=sample, at=_instant(at),
                                seed=seed)
    if as_json:
        echo_json([{
            "view": r.view, "version": r.version, "at": r.at.isoformat(),
            "synced_delta_version": r.synced_delta_version,
            "table_delta_version": r.table_delta_version, "checked": r.checked,
            "mismatched": r.mismatched, "examples": [m.describe() for m in r.examples],
        } for r in results])
    else:
        for r in results:
            behind = ("" if r.table_delta_version == r.synced_delta_version else
                      f"; the table is at version {r.table_delta_version}, run `sparkfs sync "
                      f"{r.view}` to serve it")
            click.echo(f"{r.view}@{r.version[:8]} (delta version {r.synced_delta_version}): "
                       f"{r.mismatched} of {r.checked} entities differ ({r.rate:.2%}) at "
                       f"{r.at.isoformat()}{behind}")
            for example in r.examples:
                click.echo(f"  {example.describe()}")
    if any(r.mismatched for r in results):
        raise SystemExit(1)
