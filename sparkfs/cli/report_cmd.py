"""``sparkfs report``: the governance checklist and lineage report as static files."""

from __future__ import annotations

from pathlib import Path

import click

from sparkfs.cli.context import CliContext

__all__ = ["report_cmd"]

_FAIL_ON = ("never", "warn", "fail")


@click.command("report")
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path),
              help="Directory to write into (default: <data_dir>/report).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md", "json"]),
              help="Repeatable; default: all three.")
@click.option("--fail-on", "fail_on", type=click.Choice(_FAIL_ON), default="never",
              show_default=True, help="Exit 1 when any check is at this level or worse (a CI gate).")
@click.pass_obj
def report_cmd(state: CliContext, out_dir: Path | None, formats: tuple[str, ...],
               fail_on: str) -> None:
    """Write the governance report: a checklist per feature view, service and training set
    (pass / warn / fail with the reason), freshness, quality charts and the lineage report.

    report.html is one self-contained file (pictures inline); report.md and report.json hold
    the same checklist. A registry failing `sparkfs audit verify` is flagged as a failure.
    """
    from sparkfs.report.build import build_report
    from sparkfs.report.checklist import LEVELS
    from sparkfs.report.writers import FORMATS, write_report

    report = build_report(state.workspace())
    target = out_dir or Path(state.config.data_dir) / "report"
    chosen = [f for f in FORMATS if f in formats] if formats else list(FORMATS)
    written = write_report(report, target, chosen)
    counts = report.counts()
    click.echo(f"governance report: {report.level.upper()} ({counts['pass']} pass, "
               f"{counts['warn']} warn, {counts['fail']} fail)")
    for subject in report.subjects:
        for check in subject.checks:
            if check.level == "fail":
                click.echo(f"  FAIL {subject.kind} {subject.name}: {check.item}: {check.reason}")
    for fmt, path in written.items():
        click.echo(f"  {fmt:<4} {path}")
    if fail_on != "never" and LEVELS.index(report.level) >= LEVELS.index(fail_on):
        raise SystemExit(1)
