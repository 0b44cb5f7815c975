"""The governance report as files: ``report.html`` (self-contained), ``report.md``, ``report.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from sparkfs.portal.charts import quality_chart_svg
from sparkfs.portal.pages import fmt_age, fmt_time, render
from sparkfs.report.build import GovernanceReport

__all__ = ["FORMATS", "Format", "to_html", "to_json", "to_markdown", "write_report"]

Format = Literal["html", "md", "json"]
FORMATS: tuple[Format, ...] = ("html", "md", "json")


def to_json(report: GovernanceReport) -> dict[str, Any]:
    """The report as plain JSON data (what ``report.json`` holds)."""
    return {
        "project": report.project,
        "generated_at": report.generated_at.isoformat(),
        "level": report.level,
        "counts": report.counts(),
        "registry": {"intact": report.integrity.intact, "problems": list(report.integrity.problems),
                     "anchors": dict(report.integrity.anchors)},
        "refused": report.refused or None,
        "checklist": [
            {"kind": s.kind, "name": s.name, "version": s.version, "level": s.level,
             "checks": [{"item": c.item, "level": c.level, "reason": c.reason} for c in s.checks]}
            for s in report.subjects],
        "feature_views": [
            {"name": v.name, "version": v.version, "owner": v.owner,
             "description": v.definition.description, "tags": v.tags, "pii": v.pii,
             "state": v.review.state, "entities": list(v.definition.entities),
             "features": [{"name": f.name, "type": f.type, "pii": f.pii} for f in v.features],
             "freshness": {
                 "last_materialized": _iso(v.freshness.last_materialized),
                 "offline_version": v.freshness.offline_version,
                 "last_synced": _iso(v.freshness.last_synced),
                 "synced_version": v.freshness.synced_version,
                 "lag_s": v.freshness.lag.total_seconds() if v.freshness.lag is not None else None},
             "quality": [{"run_id": p.run_id, "at": p.at.isoformat(), "passed": p.passed,
                          "warned": p.warned, "failed": p.failed}
                         for p in report.quality.get(v.name, ())]}
            for v in report.views],
        "feature_services": [
            {"name": s.name, "version": s.version, "state": s.review.state,
             "features": list(s.definition.features), "feature_views": list(s.views)}
            for s in report.services],
        "training_sets": [
            {"id": t.id, "created_at": t.created_at.isoformat(), "feature_service": t.feature_service,
             "table_versions": t.table_versions, "definition_versions": t.definition_versions,
             "reproduce": f"sparkfs training-set reproduce {t.id} --out DIR"}
            for t in report.training_sets],
        "lineage": {
            "graph": report.lineage_graph,
            "features": [
                {"feature": f.ref, "how": f.how, "sources": [list(s) for s in f.sources],
                 "detail": f.detail, "recorded": f.recorded,
                 "training_sets": [{"id": i, "feature_service": svc} for i, svc in f.training_sets]}
                for f in report.features]},
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_ICON = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def to_markdown(report: GovernanceReport) -> str:
    counts = report.counts()
    lines = [f"# Governance report: {report.project}", "",
             f"Generated {fmt_time(report.generated_at)}. Overall: **{report.level.upper()}** "
             f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail).", ""]
    if not report.integrity.intact:
        lines += [f"> **The registry fails `sparkfs audit verify`**: {report.integrity.problems[0]}",
                  ""]
    if report.refused:
        lines += [f"> {report.refused}", ""]
    lines += ["## Checklist", ""]
    for subject in report.subjects:
        title = f"{subject.kind.replace('_', ' ')} {subject.name}"
        lines += [f"### {_md(title)} — {subject.level.upper()}", "",
                  "| item | result | reason |", "| --- | --- | --- |"]
        lines += [f"| {_md(c.item)} | {_ICON[c.level]} | {_md(c.reason)} |" for c in subject.checks]
        lines.append("")
    if report.views:
        lines += ["## Freshness", "", "| feature view | last materialization | last sync | lag |",
                  "| --- | --- | --- | --- |"]
        for v in report.views:
            f = v.freshness
            lines.append(f"| {v.name} | {fmt_time(f.last_materialized)} | "
                         f"{fmt_time(f.last_synced) if v.definition.online else 'offline only'} | "
                         f"{fmt_age(f.lag) if f.lag is not None else '—'} |")
        lines.append("")
    if report.features:
        picture = report.lineage_picture
        lines += ["## Lineage", "",
                  f"The whole graph: {picture.note if picture else 'not drawn'} (the picture is in "
                  "report.html, the graph as data in report.json).", "",
                  "| feature | column lineage | read by training sets (model) |", "| --- | --- | --- |"]
        for item in report.features:
            sources = ", ".join(f"{src}.{col}" for src, col in item.sources) or "—"
            used = ", ".join(f"{i} ({svc or 'no service'})" for i, svc in item.training_sets) or "—"
            lines.append(f"| {_md(item.ref)} | {item.how} of {_md(sources)}"
                         f"{' — ' + _md(item.detail) if item.detail else ''} | {_md(used)} |")
        lines.append("")
    if report.training_sets:
        lines += ["## Training sets", "", "| id | feature service | reproduce |", "| --- | --- | --- |"]
        lines += [f"| {t.id} | {t.feature_service or '—'} | "
                  f"`sparkfs training-set reproduce {t.id} --out DIR` |" for t in report.training_sets]
        lines.append("")
    return "\n".join(lines)


def to_html(report: GovernanceReport) -> str:
    """One HTML file: styles and pictures (SVG) inline, no link to anything."""
    charts = {name: Markup(quality_chart_svg(points))  # our SVG; every text in it is escaped
              for name, points in report.quality.items()}
    picture = report.lineage_picture
    lineage_svg = Markup(picture.svg) if picture and picture.svg else None  # Graphviz's SVG
    return render("report.html", r=report, project=report.project, counts=report.counts(),
                  charts=charts, static=True, lineage_svg=lineage_svg)


def write_report(report: GovernanceReport, out_dir: str | Path,
                 formats: Sequence[Format] = FORMATS) -> dict[str, Path]:
    """Write the report in ``formats`` under ``out_dir`` (created); returns format -> file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:
        path = out / f"report.{fmt}"
        if fmt == "json":
            text = json.dumps(to_json(report), indent=2, sort_keys=True, default=str)
        elif fmt == "md":
            text = to_markdown(report)
        else:
            text = to_html(report)
        path.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
        written[fmt] = path
    return written
