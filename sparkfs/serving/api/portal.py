"""The catalog pages under ``/catalog``: server-rendered HTML, read-only.

With ``serving.auth_enabled`` every page needs a configured API key, sent like the API's
(``Authorization: Bearer``, ``X-API-Key``) or, for a browser, as the cookie that
``POST /catalog/login`` sets. What the pages show comes from :mod:`sparkfs.portal`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sparkfs.errors import AuthError, NotFoundError
from sparkfs.portal import pages
from sparkfs.portal.lineage_view import feature_lineage, view_picture
from sparkfs.portal.readmodel import CatalogReader
from sparkfs.portal.search import KINDS, Kind, SearchQuery, search
from sparkfs.serving.api.deps import RuntimeDep
from sparkfs.serving.runtime import ServingRuntime

__all__ = ["COOKIE", "PageRefused", "refused_page", "router"]

#: The cookie a browser signs in with (set by ``POST /catalog/login``, HttpOnly).
COOKIE = "sparkfs_api_key"

router = APIRouter(prefix="/catalog", tags=["catalog pages"], include_in_schema=False)


def _error(runtime: ServingRuntime, status: int, title: str, message: str,
           login: bool = False) -> HTMLResponse:
    html = pages.render("error.html", project=runtime.settings.project, status=status,
                        title=title, message=message, login=login)
    return HTMLResponse(html, status_code=status)


class PageRefused(Exception):
    """A page request without a valid key: answered with the sign-in page (401) by
    :func:`refused_page`, which the app factory registers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def refused_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return _error(request.app.state.sparkfs, 401, "sign in", exc.reason, login=True)


async def get_reader(request: Request, runtime: RuntimeDep) -> CatalogReader:
    """The catalog's read model, for a request that presented a valid key (if auth is on)."""
    headers = request.headers
    key = headers.get("x-api-key") or request.cookies.get(COOKIE)
    try:
        runtime.keys.authenticate(headers.get("authorization"), key)
    except AuthError as exc:
        raise PageRefused(str(exc)) from None
    return CatalogReader(runtime.workspace, clock=runtime.clock)


ReaderDep = Annotated[CatalogReader, Depends(get_reader)]


@router.get("", response_class=HTMLResponse)
def search_page(reader: ReaderDep, runtime: RuntimeDep, q: str = "", kind: str = "",
                owner: str = "", tag: str = "", entity: str = "", state: str = "", pii: str = "",
                freshness: str = "", page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Search and filter views, features, services and entities."""
    chosen: Kind = next((k for k in KINDS if k == kind), "all")
    query = SearchQuery(q=q, kind=chosen, owner=owner, tag=tag, entity=entity, state=state,
                        pii=pii, freshness=freshness, page=page)
    found = search(reader, runtime.settings.catalog, query)
    return HTMLResponse(pages.render_search(found, project=runtime.settings.project,
                                            user=runtime.workspace.user))


@router.get("/feature-views/{name}", response_class=HTMLResponse)
def view_page(name: str, reader: ReaderDep, runtime: RuntimeDep) -> Response:
    """One feature view: definition, versions, reviews, runs, quality, freshness, lineage."""
    try:
        detail = reader.view(name)
    except NotFoundError as exc:
        return _error(runtime, 404, "not found", str(exc))
    graph, picture = view_picture(runtime.workspace, name)
    columns = {c.ref.split(":", 1)[1]: c for c in feature_lineage(
        runtime.workspace, graph, detail.training_sets, view=name)}
    sla = runtime.settings.catalog.sla(name)
    serving = runtime.settings.serving
    return HTMLResponse(pages.render_view(
        detail, project=runtime.settings.project, lineage_svg=picture.svg, lineage_note=picture.note, columns=columns,
        offline_sla=sla.offline_max_age, online_sla=sla.online_max_age,
        server=f"http://{serving.host}:{serving.port}"))


@router.get("/feature-services/{name}", response_class=HTMLResponse)
def service_page(name: str, reader: ReaderDep, runtime: RuntimeDep) -> Response:
    """One feature service: its features, versions, reviews and training sets."""
    found = [s for s in reader.services() if s.name == name]
    if not found:
        return _error(runtime, 404, "not found", f"no applied feature service {name!r}; "
                      "search the catalog for the services there are")
    training = [t for t in reader.training_sets() if t.feature_service == name]
    return HTMLResponse(pages.render(
        "feature_service.html", project=runtime.settings.project, s=found[0],
        training_sets=training, versions=reader.versions("feature_service", name),
        reviews=reader.reviews("feature_service", name)))


@router.get("/training-sets", response_class=HTMLResponse)
def training_sets_page(reader: ReaderDep, runtime: RuntimeDep) -> Response:
    """Every recorded training set, newest first."""
    return HTMLResponse(pages.render("training_sets.html", project=runtime.settings.project,
                                     training_sets=reader.training_sets(limit=500)))


@router.get("/training-sets/{training_set_id}", response_class=HTMLResponse)
def training_set_page(training_set_id: str, reader: ReaderDep, runtime: RuntimeDep) -> Response:
    """One training set: what it read and the command that rebuilds it."""
    try:
        record = reader.training_set(training_set_id)
    except NotFoundError as exc:
        return _error(runtime, 404, "not found", str(exc))
    return HTMLResponse(pages.render("training_set.html", project=runtime.settings.project,
                                     t=record))


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    """Check the key of the sign-in form and keep it in an HttpOnly cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    try:
        runtime.keys.authenticate(None, key)
    except AuthError as exc:
        return _error(runtime, 401, "sign in", str(exc), login=True)
    response = RedirectResponse("/catalog", status_code=303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/catalog")
    return response
