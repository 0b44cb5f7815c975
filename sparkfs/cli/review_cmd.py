"""``sparkfs review ...`` (the approval workflow) and ``sparkfs audit`` (the audit log)."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json, echo_table, fmt_time
from sparkfs.control_chars import escape_control
from sparkfs.errors import TamperedRegistryError
from sparkfs.governance import ReviewBoard, ReviewState
from sparkfs.governance.identity import review_refusal

__all__ = ["audit_cmd", "review_group"]

_KIND = click.option("--kind", type=click.Choice(["entity", "feature_view", "feature_service"]), default=None,
                     help="Kind of definition, when several kinds share NAME.")
_COMMENT = click.option("--comment", "-m", default="", help="Why; recorded with the action in the audit log.")


def _board(state: CliContext) -> ReviewBoard:
    return ReviewBoard(state.engine, state.config.governance)


def _reviewer(state: CliContext, action: str, name: str, version: str | None, kind: str | None,
              comment: str) -> str:
    """The acting user of a review action, or an audited refusal (governance.identity)."""
    identity = state.identity
    reason = review_refusal(identity, action)
    if reason is not None:
        _board(state).refuse(identity.user, action, name, version, kind=kind, comment=comment, reason=reason)
    if identity.mode == "trusted":
        click.echo(f"warning: governance.identity is trusted: acting as {identity.user!r} because "
                   f"{'--user / $SPARKFS_USER says so' if identity.claimed else 'that is the login name'}; "
                   "nothing checks it, anyone can claim any name (docs/governance.md, Trust model)",
                   err=True)
    return identity.user


def _split(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    return name, version or None


def _echo_state(result: ReviewState) -> None:
    counted = f"{len(result.approvals)}/{result.required}"
    click.echo(escape_control(f"{result.kind} {result.name}@{result.version}: {result.state} (approvals {counted}: "
                              f"{', '.join(result.approvals) or 'none'})"))
    if result.missing and result.state == "in_review":
        click.echo(escape_control(f"  still needs {'; '.join(result.missing)}"))


@click.group("review")
def review_group() -> None:
    """Review definition versions: draft -> in_review -> approved -> deprecated (or rejected).

    NAME@VERSION picks a version (a prefix is enough); the default is the current one. Who acts
    depends on governance.identity: trusted (--user, else $SPARKFS_USER: unchecked), database
    (the registry database's user) or api_key (reviews only through the server). Approvers come
    from governance.approvers and governance.approvers_by_tag; an author cannot approve their
    own version.
    """


@review_group.command("request")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def request_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Put a draft (or rejected) version up for review."""
    name, version = _split(ref)
    user = _reviewer(state, "request", name, version, kind, comment)
    _echo_state(_board(state).request(user, name, version, kind=kind, comment=comment))


@review_group.command("approve")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def approve_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Approve the version in review (needs governance.required_approvals distinct approvers)."""
    name, version = _split(ref)
    user = _reviewer(state, "approve", name, version, kind, comment)
    _echo_state(_board(state).approve(user, name, version, kind=kind, comment=comment))


@review_group.command("reject")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def reject_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Reject the version in review; the author may fix it and request review again."""
    name, version = _split(ref)
    user = _reviewer(state, "reject", name, version, kind, comment)
    _echo_state(_board(state).reject(user, name, version, kind=kind, comment=comment))


@review_group.command("deprecate")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def deprecate_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Deprecate an approved version: production jobs and serving stop accepting it."""
    name, version = _split(ref)
    user = _reviewer(state, "deprecate", name, version, kind, comment)
    _echo_state(_board(state).deprecate(user, name, version, kind=kind, comment=comment))


@review_group.command("status")
@click.argument("name", required=False)
@_KIND
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def status_cmd(state: CliContext, name: str | None, kind: str | None, as_json: bool) -> None:
    """Lifecycle state of every current definition, or of every version of NAME."""
    states = _board(state).status(name, kind)
    if as_json:
        echo_json([{**s.__dict__, "approvals": list(s.approvals), "eligible": list(s.eligible),
                    "missing": list(s.missing)} for s in states])
        return
    if not state.config.governance.enabled:
        click.echo("note: governance.enabled is false, so production does not require approval yet.")
    echo_table(
        ["kind", "name", "version", "state", "approvals", "author", "current", "last_action"],
        [[s.kind, s.name, s.version, s.state, f"{len(s.approvals)}/{s.required} {','.join(s.approvals)}".strip(),
          s.author, "*" if s.current else "", fmt_time(s.last_action_at)] for s in states],
    )


def _note(comment: str, reason: object) -> str:
    text = " | ".join(p for p in (comment, str(reason or "")) if p)
    return text if len(text) <= 160 else text[:157] + "..."


class _AuditGroup(click.Group):
    """``sparkfs audit [NAME]`` lists entries and ``sparkfs audit verify`` checks the registry: a
    first argument that is not a subcommand is the NAME to filter on."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        name = None
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            name, args = args[0], args[1:]
        rest = super().parse_args(ctx, args)
        ctx.params["name"] = name
        return rest

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[NAME] [--limit N] [--json] | verify [--json]")


@click.group("audit", cls=_AuditGroup, invoke_without_command=True)
@click.option("--limit", default=100, show_default=True, help="How many of the newest entries to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def audit_cmd(ctx: click.Context, name: str | None, limit: int, as_json: bool) -> None:
    """The append-only audit log (applies, reviews, refusals, gate failures), oldest first.

    NAME (first) shows the entries of one definition. `sparkfs audit verify` checks that the
    registry's history is what sparkfs wrote.
    """
    if ctx.invoked_subcommand is not None:
        return
    state: CliContext = ctx.obj
    entries = state.audit.entries(name=name, limit=limit)
    if as_json:
        echo_json([e.__dict__ for e in entries])
        return
    echo_table(
        ["id", "at", "user", "action", "kind", "name", "version", "outcome", "comment / reason"],
        [[e.id, fmt_time(e.at), e.user, e.action, e.kind, e.name, (e.version or "")[:16], e.outcome,
          _note(e.comment, (e.details or {}).get("reason"))] for e in entries],
    )


@audit_cmd.command("verify")
@click.option("--anchor", "anchors", multiple=True, metavar="TABLE#ID:HASH",
              help="An anchor printed by an earlier verify, which the chain must still hold (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def verify_cmd(state: CliContext, anchors: tuple[str, ...], as_json: bool) -> None:
    """Verify the registry: the hash chains of the audit log and the reviews, every definition
    spec against its version, the heads and review rows against the audit log.

    Prints what was checked and an anchor per chain (TABLE#ID:HASH of its last row): keep them
    where the registry's writers cannot change them and pass them back with --anchor, so that a
    cut-off or recomputed chain is caught too. Exits 1 naming the first broken link.
    """
    from sparkfs.registry.integrity import verify_registry

    report = verify_registry(state.engine, anchors)
    if as_json:
        echo_json({"intact": report.intact, "problems": list(report.problems), "rows": dict(report.rows),
                   "anchors": dict(report.anchors)})
    else:
        for table, count in report.rows.items():
            anchor = f", anchor {report.anchors[table]}" if table in report.anchors else ""
            click.echo(f"{table}: {count} row(s) checked{anchor}")
        for problem in report.problems:
            click.echo(escape_control(f"BROKEN: {problem}"))
    if not report.intact:
        raise TamperedRegistryError(
            f"the registry fails verification ({len(report.problems)} problem(s)); the first broken "
            f"link: {report.problems[0]}; restore the registry from a backup and find out who "
            "could write to it")
    if not as_json:
        click.echo("registry verified: intact")
