"""``sparkfs registry status|upgrade``: the registry's schema revision, and bringing it up to
this sparkfs's (docs/registry.md)."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json
from sparkfs.governance.identity import establish
from sparkfs.registry.database import connect
from sparkfs.registry.migration import schema_status, upgrade_registry

__all__ = ["registry_group"]


@click.group("registry")
def registry_group() -> None:
    """The registry database's schema: its revision, and upgrading it after upgrading sparkfs."""


@registry_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def status_cmd(state: CliContext, as_json: bool) -> None:
    """Print the registry's schema revision and this sparkfs's; exit 1 unless they match."""
    engine = connect(state.config.registry.url)
    try:
        status = schema_status(engine)
    finally:
        engine.dispose()
    if as_json:
        echo_json({"current": status.current, "head": status.head, "state": status.state,
                   "recorded": status.recorded, "pending": list(status.pending)})
    else:
        click.echo(f"registry: {engine.url.render_as_string(hide_password=True)}")
        click.echo(f"schema revision: {status.describe()}")
        click.echo(f"this sparkfs:    {status.head}")
        advice = {
            "current": "up to date",
            "empty": "empty: created at the newest revision on first use (or by `sparkfs registry upgrade`)",
            "behind": f"behind by {len(status.pending)} revision(s) ({', '.join(status.pending)}): "
                      "run `sparkfs registry upgrade`",
            "ahead": "NEWER than this sparkfs: a newer sparkfs upgraded it; install that version",
        }
        click.echo(f"state: {advice[status.state]}")
    if status.state in ("behind", "ahead"):
        raise SystemExit(1)


@registry_group.command("upgrade")
@click.pass_obj
def upgrade_cmd(state: CliContext) -> None:
    """Upgrade the registry's schema in place to this sparkfs's revision (one transaction).

    Run it after upgrading sparkfs, once, as the owner of the registry's tables (on PostgreSQL),
    after backing the database up. Rows are kept; rows written before the hash chains are
    sealed as they are. An up-to-date registry is left alone; a newer one is refused.
    """
    engine = connect(state.config.registry.url)
    try:
        user = establish(state.config.governance.identity, state.user_override, engine).user
        done = upgrade_registry(engine, user=user)
    finally:
        engine.dispose()
    if done.recorded:
        click.echo(f"registry already at revision {done.after}: recorded it (the registry was made "
                   "before sparkfs recorded revisions); nothing else to do")
        return
    if done.before == done.after:
        click.echo(f"registry already at revision {done.after}: nothing to do")
        return
    for step in done.applied:
        click.echo(f"applied {step}")
    sealed = ", ".join(f"{n} {t} row(s)" for t, n in done.sealed_rows.items() if n)
    click.echo(f"registry upgraded from {done.before or 'an empty database'} to {done.after}"
               + (f" (sealed {sealed})" if sealed else ""))
