"""What the server may serve: approved registry heads adapted to online views.

The catalog is built from the registry (head versions and their stored specs), never from the
YAML files, so a server serves what was applied, not what happens to sit on disk. Each feature
view and feature service head passes through :func:`sparkfs.governance.enforcement.is_approved`;
unapproved heads are left out (a lookup of them answers 404, as if they did not exist).

A :class:`Catalog` is immutable. :class:`CatalogSource` rebuilds it when the heads change and is
polled off the request path (at most every ``serving.registry_refresh_s``), so a lookup never
reads the registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from sparkfs.definitions import Entity, FeatureService, FeatureView
from sparkfs.definitions.schema import UNKNOWN, ViewSchema
from sparkfs.echo import excerpt
from sparkfs.errors import DefinitionError, NotFoundError, ValidationError
from sparkfs.governance.enforcement import is_approved
from sparkfs.online.view import Field, OnlineView
from sparkfs.registry.schema import sync_checkpoints

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = [
    "Catalog",
    "CatalogSource",
    "FeatureColumn",
    "ServedService",
    "ServedView",
    "SyncState",
    "online_view_of",
]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FeatureColumn:
    """One requested feature: a served view and one of its features."""

    view: str
    feature: str

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.feature}"

    @property
    def full_name(self) -> str:
        """Feast's ``full_feature_names`` form (``view__feature``)."""
        return f"{self.view}__{self.feature}"


@dataclass(frozen=True)
class SyncState:
    """The last successful sync of a view (from the registry's ``sync_checkpoints``)."""

    definition_version: str
    delta_version: int
    generation: int
    updated_at: datetime
    #: (name, type) of the features as the sync encoded them; None before the first recorded sync
    features: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class ServedView:
    """An approved, online feature view head and how the online store reads it."""

    online: OnlineView
    definition: FeatureView
    sync: SyncState | None = None

    @property
    def name(self) -> str:
        return self.online.name

    @property
    def version(self) -> str:
        return self.online.version


@dataclass(frozen=True)
class ServedService:
    name: str
    version: str
    definition: FeatureService
    columns: tuple[FeatureColumn, ...]


@dataclass(frozen=True)
class Catalog:
    """An immutable snapshot of everything servable; lookups resolve names against it only."""

    views: Mapping[str, ServedView] = field(default_factory=dict)
    services: Mapping[str, ServedService] = field(default_factory=dict)
    built_at: float = 0.0

    def view(self, name: str) -> ServedView:
        served = self.views.get(name)
        if served is None:
            raise NotFoundError(f"feature view {excerpt(name)} is not served; GET /v1/feature-views "
                                "lists the served views (online, applied and approved)",
                                kind="feature_view")
        return served

    def service(self, name: str) -> ServedService:
        served = self.services.get(name)
        if served is None:
            raise NotFoundError(f"feature service {excerpt(name)} is not served; GET "
                                "/v1/feature-services lists the served services",
                                kind="feature_service")
        return served

    def resolve(self, refs: Sequence[str]) -> tuple[FeatureColumn, ...]:
        """``view:feature`` / ``view:*`` references to columns, in request order, deduplicated.

        Raises:
            ValidationError: a reference is not of the form view:feature.
            NotFoundError: the view is not served or has no such feature.
        """
        out: dict[FeatureColumn, None] = {}
        for index, ref in enumerate(refs):
            view_name, sep, feature = ref.partition(":")
            if not sep or not view_name or not feature:
                raise ValidationError(f"features[{index}]: {excerpt(ref)} is not a feature reference; "
                                      "write view:feature or view:*")
            view = self.view(view_name).online
            if feature == "*":
                out.update((FeatureColumn(view_name, f), None) for f in view.feature_names)
            elif feature in view.feature_names:
                out[FeatureColumn(view_name, feature)] = None
            else:
                raise NotFoundError(f"features[{index}]: feature view {view_name!r} has no "
                                    f"feature {excerpt(feature)}; it has {', '.join(view.feature_names)}",
                                    kind="feature")
        return tuple(out)


def online_view_of(view: FeatureView, version: str, entities: Mapping[str, Entity],
                   synced: SyncState | None = None) -> OnlineView:
    """Adapt one feature view definition version to the descriptor the online store reads.

    Feature order and types are the ones the last sync of this version recorded (values are
    decoded exactly as they were encoded: an aggregate's type depends on its source column).
    Before any sync of this version no key of it exists, so the declared types are only a
    placeholder: every lookup is ``NOT_FOUND``.

    Raises:
        DefinitionError: an entity is unknown or a feature type cannot be stored online.
    """
    join_keys = []
    for name in view.entities:
        if name not in entities:
            raise DefinitionError([f"feature view {view.name!r}: entity {name!r} is not applied"])
        join_keys += entities[name].join_keys
    schema = ViewSchema.of(view, join_keys)
    keys = tuple(Field(c.name, c.type) for c in schema.keys)
    if synced is not None and synced.definition_version == version and synced.features:
        return OnlineView(view.name, version, keys, tuple(Field(n, t) for n, t in synced.features),
                          view.ttl, view.availability_delay)
    # Not synced yet: no key of this version exists, every lookup is NOT_FOUND, and an aggregate
    # whose type follows its source column (UNKNOWN until the table is written) decodes nothing.
    features = tuple(Field(n, "float64" if t == UNKNOWN else t) for n, t in schema.online_features())
    return OnlineView(view.name, version, keys, features, view.ttl, view.availability_delay)


SpecReader = Callable[[str, str, str], dict[str, Any]]


def build_catalog(workspace: Workspace, heads: Mapping[tuple[str, str], str],
                  spec: SpecReader, syncs: Mapping[str, SyncState]) -> Catalog:
    """Adapt approved heads; a head that cannot be served is logged and left out (one bad
    definition must not take the others offline)."""
    entities = {name: Entity.model_validate(spec("entity", name, version))
                for (kind, name), version in heads.items() if kind == "entity"}
    views: dict[str, ServedView] = {}
    for (kind, name), version in sorted(heads.items()):
        if kind != "feature_view" or not is_approved(workspace, kind, name, version):
            continue
        try:
            definition = FeatureView.model_validate(spec(kind, name, version))
            if not definition.online:
                continue
            online = online_view_of(definition, version, entities, syncs.get(name))
        except (DefinitionError, PydanticValidationError) as exc:
            log.warning("not serving feature view %s@%s: %s", name, version, exc)
            continue
        views[name] = ServedView(online, definition, syncs.get(name))
    catalog = Catalog(views=views)
    services: dict[str, ServedService] = {}
    for (kind, name), version in sorted(heads.items()):
        if kind != "feature_service" or not is_approved(workspace, kind, name, version):
            continue
        try:
            service = FeatureService.model_validate(spec(kind, name, version))
            columns = catalog.resolve(service.features)
        except (NotFoundError, ValidationError, PydanticValidationError) as exc:
            log.warning("not serving feature service %s@%s: %s", name, version, exc)
            continue
        services[name] = ServedService(name, version, service, columns)
    return Catalog(views=views, services=services, built_at=time.time())


class CatalogSource:
    """Holds the current :class:`Catalog`; :meth:`refresh` rebuilds it when the registry moved.

    Specs are cached per (kind, name, version): versions are immutable, so a refresh reads only
    the heads, the sync checkpoints and the specs of versions it has not seen.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._specs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._seen: tuple[Any, ...] | None = None
        self.catalog = Catalog()

    def refresh(self) -> bool:
        """Re-read heads, approvals and checkpoints (blocking); returns whether anything changed.

        Approvals are re-checked on every refresh: a revoked approval stops serving a view
        within one refresh period even though its head did not move.
        """
        heads = self.workspace.definitions.heads()
        syncs = self._sync_states()
        approved = tuple(is_approved(self.workspace, kind, name, version)
                         for (kind, name), version in sorted(heads.items()))
        seen = (tuple(sorted(heads.items())), tuple(sorted(syncs.items())), approved)
        if seen == self._seen:
            return False
        self.catalog = build_catalog(self.workspace, heads, self._spec, syncs)
        self._seen = seen
        return True

    def invalidate(self) -> None:
        """Make the next :meth:`refresh` rebuild the catalog even if the registry looks the same."""
        self._seen = None

    def _spec(self, kind: str, name: str, version: str) -> dict[str, Any]:
        key = (kind, name, version)
        if key not in self._specs:
            self._specs[key] = self.workspace.definitions.spec(kind, name, version)
        return self._specs[key]

    def _sync_states(self) -> dict[str, SyncState]:
        table = sync_checkpoints
        query = select(table).where(table.c.namespace == self.workspace.namespace)
        with self.workspace.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {r.feature_view: SyncState(r.definition_version, r.delta_version, r.generation, r.updated_at,
                                          tuple((n, t) for n, t in r.features) if r.features else None)
                for r in rows}


def freshness(state: SyncState | None, now: datetime) -> timedelta | None:
    """How long ago the last sync of a view finished (``None`` if never synced)."""
    if state is None:
        return None
    updated = state.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=now.tzinfo)
    return now - updated
