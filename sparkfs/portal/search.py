"""Search and filters over the catalog: feature views, features, services and entities.

Filtering and paging happen on the server, so a page holds at most ``page_size`` rows whatever
the size of the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sparkfs.config import CatalogConfig
from sparkfs.portal.readmodel import CatalogReader, is_pii

__all__ = ["Hit", "SearchPage", "SearchQuery", "search"]

Kind = Literal["all", "feature_view", "feature", "feature_service", "entity"]
KINDS: tuple[Kind, ...] = ("all", "feature_view", "feature", "feature_service", "entity")


@dataclass(frozen=True)
class SearchQuery:
    """What a person asked for; empty strings mean "any"."""

    q: str = ""
    kind: Kind = "all"
    owner: str = ""
    tag: str = ""  # a tag key (any value) or key=value
    entity: str = ""
    state: str = ""  # draft, in_review, approved, rejected, deprecated
    pii: str = ""  # yes / no
    freshness: str = ""  # fresh / stale / never
    page: int = 1


@dataclass(frozen=True)
class Hit:
    kind: str
    name: str
    url: str
    description: str
    owner: str
    tags: dict[str, str]
    pii: bool
    entities: tuple[str, ...] = ()
    state: str = ""
    freshness: str = ""  # fresh / stale / never ("" where it does not apply)
    detail: str = ""


@dataclass(frozen=True)
class SearchPage:
    query: SearchQuery
    hits: tuple[Hit, ...]
    total: int
    page: int
    pages: int
    page_size: int


def _tag_matches(rule: str, tags: dict[str, str]) -> bool:
    key, sep, value = rule.partition("=")
    if sep:
        return tags.get(key.strip()) == value.strip()
    return key.strip() in tags


def _hits(reader: CatalogReader, config: CatalogConfig) -> list[Hit]:
    hits: list[Hit] = []
    for view in reader.views():
        sla = config.sla(view.name)
        f = view.freshness
        fresh = ("never" if f.last_materialized is None else
                 "fresh" if f.within(sla.offline_max_age, sla.online_max_age) else "stale")
        entities = tuple(view.definition.entities)
        url = f"/catalog/feature-views/{view.name}"
        hits.append(Hit("feature_view", view.name, url, view.definition.description, view.owner,
                        view.tags, view.pii, entities, view.review.state, fresh,
                        f"{len(view.features)} features"))
        for feature in view.features:
            hits.append(Hit("feature", f"{view.name}:{feature.name}", f"{url}#feature-{feature.name}",
                            feature.description, view.owner, {**view.tags, **feature.tags},
                            feature.pii or is_pii(view.tags), entities, view.review.state, fresh,
                            feature.type))
    for service in reader.services():
        d = service.definition
        hits.append(Hit("feature_service", service.name, f"/catalog/feature-services/{service.name}",
                        d.description, d.owner, dict(d.tags), is_pii(d.tags), (),
                        service.review.state, "", f"{len(d.features)} feature references"))
    for entity in reader.entities():
        e = entity.definition
        hits.append(Hit("entity", entity.name, f"/catalog?entity={entity.name}", e.description,
                        e.owner, dict(e.tags), is_pii(e.tags), (entity.name,), "", "",
                        ", ".join(f"{k.name} ({k.type})" for k in e.join_keys)))
    return hits


def _keep(hit: Hit, query: SearchQuery) -> bool:
    q = query.q.strip().lower()
    checks = [
        not q or q in hit.name.lower() or q in hit.description.lower(),
        query.kind == "all" or hit.kind == query.kind,
        not query.owner or query.owner.lower() in hit.owner.lower(),
        not query.tag or _tag_matches(query.tag, hit.tags),
        not query.entity or query.entity in hit.entities,
        not query.state or hit.state == query.state,
        not query.pii or hit.pii == (query.pii == "yes"),
        not query.freshness or hit.freshness == query.freshness,
    ]
    return all(checks)


def search(reader: CatalogReader, config: CatalogConfig, query: SearchQuery) -> SearchPage:
    """One page of the hits matching every filter, views first, then by name."""
    order: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
    found = sorted((h for h in _hits(reader, config) if _keep(h, query)),
                   key=lambda h: (order.get(h.kind, 9), h.name))
    size = config.page_size
    pages = max(1, -(-len(found) // size))
    page = min(max(1, query.page), pages)
    return SearchPage(query, tuple(found[(page - 1) * size: page * size]), len(found), page,
                      pages, size)
