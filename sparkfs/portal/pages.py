"""HTML rendering of the catalog pages (Jinja2 templates shipped in the package, autoescaped).

Each function takes what :class:`~sparkfs.portal.readmodel.CatalogReader` read and returns a
whole HTML document. The style sheet is inlined in every page, so a page needs nothing else
from the server (and the static report, which uses the same templates, nothing at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sparkfs.durations import format_duration
from sparkfs.portal.charts import quality_chart_svg
from sparkfs.portal.lineage_view import FeatureLineage
from sparkfs.portal.readmodel import ViewDetail
from sparkfs.portal.search import KINDS, SearchPage

__all__ = ["environment", "render", "render_search", "render_view"]


def fmt_age(value: timedelta | None) -> str:
    """``3d 4h``, ``12m``, ``40s``; ``never`` for None."""
    if value is None:
        return "never"
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    if minutes:
        return f"{sign}{minutes}m {secs}s"
    return f"{sign}{secs}s"


def fmt_time(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("sparkfs.portal", "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(age=fmt_age, time=fmt_time, value=fmt_value, duration=format_duration)
    env.globals["css"] = Markup(
        resources.files("sparkfs.portal").joinpath("templates/portal.css").read_text("utf-8"))
    return env


def render(template: str, **context: Any) -> str:
    """Render one template of ``sparkfs/portal/templates`` with ``context``."""
    context.setdefault("base", "/catalog")
    context.setdefault("static", False)
    return environment().get_template(template).render(**context)


def _page_url(page: SearchPage, number: int) -> str:
    q = page.query
    params = {k: v for k, v in (("q", q.q), ("kind", "" if q.kind == "all" else q.kind),
                                ("owner", q.owner), ("tag", q.tag), ("entity", q.entity),
                                ("state", q.state), ("pii", q.pii),
                                ("freshness", q.freshness)) if v}
    params["page"] = str(number)
    return "/catalog?" + urlencode(params)


def render_search(page: SearchPage, *, project: str, user: str) -> str:
    return render("index.html", page=page, project=project, user=user, kinds=KINDS,
                  prev_url=_page_url(page, page.page - 1) if page.page > 1 else None,
                  next_url=_page_url(page, page.page + 1) if page.page < page.pages else None)


def render_view(detail: ViewDetail, *, project: str, lineage_svg: str | None,
                lineage_note: str, offline_sla: timedelta, online_sla: timedelta,
                server: str, columns: Mapping[str, FeatureLineage]) -> str:
    return render("feature_view.html", d=detail, v=detail.summary, project=project,
                  quality_svg=Markup(quality_chart_svg(detail.quality)),
                  lineage_svg=Markup(lineage_svg) if lineage_svg else None,
                  lineage_note=lineage_note, offline_sla=offline_sla, online_sla=online_sla,
                  server=server, columns=columns)
