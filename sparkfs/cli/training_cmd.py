"""``sparkfs training-set``: build, list and reproduce point-in-time training sets."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_table, fmt_time
from sparkfs.errors import ValidationError
from sparkfs.training.inputs import AsOf

__all__ = ["training_set_group"]

_OVERWRITE = click.option("--overwrite", is_flag=True,
                          help="Replace what --out holds even if sparkfs did not write it.")


def _as_of(timestamp: str | None, versions: tuple[str, ...]) -> AsOf:
    if timestamp and versions:
        raise ValidationError("give --as-of or --as-of-version, not both")
    if timestamp:
        try:
            moment = datetime.fromisoformat(timestamp)
        except ValueError:
            raise ValidationError(f"--as-of {timestamp!r} is not an ISO 8601 timestamp") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    pinned: dict[str, int] = {}
    for item in versions:
        view, sep, number = item.partition("=")
        if not sep or not number.isdigit():
            raise ValidationError(f"--as-of-version {item!r}: write VIEW=VERSION, e.g. user_profile=3")
        pinned[view] = int(number)
    return pinned or None


@click.group("training-set", invoke_without_command=True)
@click.option("--spine", default=None, help="Spine path (Delta, Parquet, or .csv): entity keys + a timestamp column.")
@click.option("--features", "-f", multiple=True, help="view:feature or view:* (repeatable).")
@click.option("--feature-service", default=None, help="A feature service instead of --features.")
@click.option("--out", default=None, help="Where to write the training set: a new path, or one sparkfs wrote a training set to.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "delta"]), default="parquet", show_default=True)
@click.option("--timestamp-column", default="event_timestamp", show_default=True, help="The spine's time column.")
@click.option("--as-of", default=None, help="Read the feature tables as they were at this UTC timestamp.")
@click.option("--as-of-version", multiple=True, help="Pin one view's Delta version: VIEW=VERSION (repeatable).")
@click.option("--with-timestamps", is_flag=True, help="Also output each view's matched event timestamp.")
@click.option("--sandbox", is_flag=True, help="Read the sandbox tables (unapproved versions).")
@_OVERWRITE
@click.pass_context
def training_set_group(ctx: click.Context, spine: str | None, features: tuple[str, ...], feature_service: str | None,
                       out: str | None, fmt: str, timestamp_column: str, as_of: str | None,
                       as_of_version: tuple[str, ...], with_timestamps: bool, sandbox: bool,
                       overwrite: bool) -> None:
    """Build a point-in-time correct training set and record it for reproduction.

    Every spine row gets, per feature view, the latest value with event time E such that
    E + availability_delay <= T and E > T - ttl. The Delta version of each feature table and
    each definition version are recorded: `sparkfs training-set reproduce ID` rebuilds it.

    --out must not exist unless sparkfs wrote a training set there (then it is replaced);
    --overwrite replaces anything else, but never the offline or sandbox root, a feature
    view's source or the spine.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not spine or not out:
        raise click.UsageError("--spine and --out are required to build a training set")
    from sparkfs.pipeline.training_sets import write_training_set

    state: CliContext = ctx.obj
    click.echo("building training set ...", err=True)
    record = write_training_set(
        state.spark, state.workspace(sandbox), spine_path=spine, out=out, features=list(features) or None,
        feature_service=feature_service, as_of=_as_of(as_of, as_of_version), fmt=fmt,
        timestamp_column=timestamp_column, include_timestamps=with_timestamps, overwrite=overwrite,
    )
    versions = ", ".join(f"{v}@{n}" for v, n in sorted(record.table_versions.items()))
    click.echo(f"training set {record.id} written to {out} ({fmt}); read {versions}")


@training_set_group.command("reproduce")
@click.argument("training_set_id")
@click.option("--out", required=True, help="Where to write the rebuilt training set (same rules as the build's --out).")
@_OVERWRITE
@click.pass_obj
def reproduce_cmd(state: CliContext, training_set_id: str, out: str, overwrite: bool) -> None:
    """Rebuild a recorded training set row for row (Delta time travel + recorded definitions)."""
    from sparkfs.pipeline.training_sets import reproduce_training_set

    record = reproduce_training_set(state.spark, state.workspace(), training_set_id, out,
                                    overwrite=overwrite)
    click.echo(f"training set {record.id} reproduced to {out}")


@training_set_group.command("list")
@click.option("--limit", default=20, show_default=True)
@click.pass_obj
def list_cmd(state: CliContext, limit: int) -> None:
    """List recorded training sets, newest first."""
    from sparkfs.registry.training_sets import TrainingSetStore

    records = TrainingSetStore(state.engine).list(limit)
    echo_table(["id", "created", "user", "features", "tables", "out"], [
        [r.id, fmt_time(r.created_at), r.user, r.feature_service or f"{len(r.features)} features",
         ", ".join(f"{v}@{n}" for v, n in sorted(r.table_versions.items())), r.out]
        for r in records
    ])
