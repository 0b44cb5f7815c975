"""``sparkfs plan | apply | list | describe``: definitions and their versions."""

from __future__ import annotations

import json
from typing import Any

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json, echo_table, fmt_time
from sparkfs.errors import NotFoundError
from sparkfs.registry import Plan

__all__ = ["apply_cmd", "describe_cmd", "list_cmd", "plan_cmd"]

_SYMBOL = {"add": "+", "change": "~", "remove": "-"}


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _echo_plan(plan: Plan) -> None:
    if plan.empty:
        click.echo("No changes: the registry matches the repository.")
        return
    for change in plan.changes:
        versions = f"{change.old_version or ''} -> {change.new_version or ''}".strip(" ->")
        click.echo(f"{_SYMBOL[change.action]} {change.kind} {change.name} ({versions})")
        for path, old, new in change.fields:
            click.echo(f"      {path}: {_short(old)} -> {_short(new)}")
    counts = {a: sum(c.action == a for c in plan.changes) for a in ("add", "change", "remove")}
    click.echo(f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['remove']} to remove.")


@click.command("plan")
@click.pass_obj
def plan_cmd(state: CliContext) -> None:
    """Show what `apply` would record: added, changed (field by field) and removed definitions."""
    _echo_plan(state.definitions.plan(state.repository))


@click.command("apply")
@click.pass_obj
def apply_cmd(state: CliContext) -> None:
    """Validate conf/features and record new definition versions in the registry.

    Versions are content hashes: applying an unchanged repository records nothing. Old
    versions are kept forever; removed definitions are marked removed, not deleted.
    """
    plan = state.definitions.apply(state.repository, user=state.user)
    _echo_plan(plan)
    if not plan.empty:
        click.echo(f"Applied {len(plan.changes)} change(s) as {state.user}.")


@click.command("list")
@click.option(
    "--kind",
    type=click.Choice(["entity", "feature_view", "feature_service"]),
    default=None,
    help="Only this kind of definition.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_cmd(state: CliContext, kind: str | None, as_json: bool) -> None:
    """List the definitions recorded in the registry with their current versions."""
    heads = state.definitions.heads()
    rows = [(k, n, v) for (k, n), v in sorted(heads.items()) if kind is None or k == kind]
    if as_json:
        echo_json([{"kind": k, "name": n, "version": v} for k, n, v in rows])
        return
    if not rows:
        click.echo("The registry is empty: run `sparkfs apply` first.")
        return
    echo_table(["kind", "name", "version"], rows)


@click.command("describe")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def describe_cmd(state: CliContext, name: str, as_json: bool) -> None:
    """Show the current definition NAME and its version history."""
    found = state.definitions.find(name)
    if not found:
        raise NotFoundError(f"no definition named {name!r} in the registry; `sparkfs list` shows what is there")
    out: list[dict[str, Any]] = []
    for kind, _ in found:
        history = state.definitions.history(kind, name)
        current = next((r for r in history if r.current), None)
        out.append({
            "kind": kind,
            "name": name,
            "current_version": current.version if current else None,
            "spec": (current or history[-1]).spec,
            "history": [
                {"version": r.version, "created_at": r.created_at, "created_by": r.created_by, "current": r.current}
                for r in history
            ],
        })
    if as_json:
        echo_json(out)
        return
    for item in out:
        status = item["current_version"] or "removed"
        click.echo(f"{item['kind']} {name}  (current: {status})")
        click.echo(json.dumps(item["spec"], indent=2, sort_keys=True))
        click.echo("history:")
        echo_table(
            ["version", "created_at", "created_by", "current"],
            [[h["version"], fmt_time(h["created_at"]), h["created_by"], "*" if h["current"] else ""] for h in item["history"]],
        )
