"""``sparkfs review ...`` (the approval workflow) and ``sparkfs audit`` (the audit log)."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json, echo_table, fmt_time
from sparkfs.control_chars import escape_control
from sparkfs.governance import ReviewBoard, ReviewState

__all__ = ["audit_cmd", "review_group"]

_KIND = click.option("--kind", type=click.Choice(["entity", "feature_view", "feature_service"]), default=None,
                     help="Kind of definition, when several kinds share NAME.")
_COMMENT = click.option("--comment", "-m", default="", help="Why; recorded with the action in the audit log.")


def _board(state: CliContext) -> ReviewBoard:
    return ReviewBoard(state.engine, state.config.governance)


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

    NAME@VERSION picks a version (a prefix is enough); the default is the current one. The
    acting user is --user, else $SPARKFS_USER. Approvers come from governance.approvers and
    governance.approvers_by_tag; an author cannot approve their own version.
    """


@review_group.command("request")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def request_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Put a draft (or rejected) version up for review."""
    name, version = _split(ref)
    _echo_state(_board(state).request(state.user, name, version, kind=kind, comment=comment))


@review_group.command("approve")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def approve_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Approve the version in review (needs governance.required_approvals distinct approvers)."""
    name, version = _split(ref)
    _echo_state(_board(state).approve(state.user, name, version, kind=kind, comment=comment))


@review_group.command("reject")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def reject_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Reject the version in review; the author may fix it and request review again."""
    name, version = _split(ref)
    _echo_state(_board(state).reject(state.user, name, version, kind=kind, comment=comment))


@review_group.command("deprecate")
@click.argument("ref", metavar="NAME[@VERSION]")
@_KIND
@_COMMENT
@click.pass_obj
def deprecate_cmd(state: CliContext, ref: str, kind: str | None, comment: str) -> None:
    """Deprecate an approved version: production jobs and serving stop accepting it."""
    name, version = _split(ref)
    _echo_state(_board(state).deprecate(state.user, name, version, kind=kind, comment=comment))


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


@click.command("audit")
@click.argument("name", required=False)
@click.option("--limit", default=100, show_default=True, help="How many of the newest entries to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def audit_cmd(state: CliContext, name: str | None, limit: int, as_json: bool) -> None:
    """The append-only audit log (applies, reviews, refusals, gate failures), oldest first."""
    entries = state.audit.entries(name=name, limit=limit)
    if as_json:
        echo_json([e.__dict__ for e in entries])
        return
    echo_table(
        ["id", "at", "user", "action", "kind", "name", "version", "outcome", "comment / reason"],
        [[e.id, fmt_time(e.at), e.user, e.action, e.kind, e.name, (e.version or "")[:16], e.outcome,
          _note(e.comment, (e.details or {}).get("reason"))] for e in entries],
    )
