"""The feature repository: every definition under ``conf/features/``, validated together.

Each YAML file may hold ``entities:``, ``feature_views:`` and ``feature_services:`` lists.
Loading reports *every* problem at once (``file: kind name: field: message``) so a user fixes
them in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from sparkfs.config import expand_env_tree, format_validation_error
from sparkfs.definitions import (
    KINDS,
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    JoinKey,
    definition_version,
)
from sparkfs.errors import ConfigError, DefinitionError, NotFoundError

__all__ = ["FeatureRef", "Repository", "load_repository"]

_SECTIONS: dict[str, type[BaseModel]] = {
    "entities": Entity,
    "feature_views": FeatureView,
    "feature_services": FeatureService,
}


@dataclass(frozen=True)
class FeatureRef:
    """One resolved feature: a view and one of its output columns."""

    view: str
    feature: str

    @property
    def qualified(self) -> str:
        return f"{self.view}:{self.feature}"

    @property
    def column(self) -> str:
        """Column name in training sets: ``view__feature`` (unique across views)."""
        return f"{self.view}__{self.feature}"


@dataclass(frozen=True)
class Repository:
    entities: dict[str, Entity] = field(default_factory=dict)
    feature_views: dict[str, FeatureView] = field(default_factory=dict)
    feature_services: dict[str, FeatureService] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # "kind/name" -> file it came from

    def all(self) -> Iterable[tuple[str, str, Definition]]:
        """(kind, name, definition) for every definition, in a stable order."""
        for kind, table in (
            ("entity", self.entities),
            ("feature_view", self.feature_views),
            ("feature_service", self.feature_services),
        ):
            for name in sorted(table):
                yield kind, name, table[name]

    def versions(self) -> dict[tuple[str, str], str]:
        return {(kind, name): definition_version(d) for kind, name, d in self.all()}

    def feature_view(self, name: str) -> FeatureView:
        try:
            return self.feature_views[name]
        except KeyError:
            raise NotFoundError(
                f"unknown feature view {name!r}; known: {', '.join(sorted(self.feature_views)) or 'none'}"
            ) from None

    def join_keys(self, view: FeatureView) -> list[JoinKey]:
        """The view's join keys, in entity order."""
        return [key for ent in view.entities for key in self.entities[ent].join_keys]

    def resolve(self, refs: Iterable[str]) -> list[FeatureRef]:
        """Expand ``view:feature`` / ``view:*`` references, rejecting unknown ones."""
        out: list[FeatureRef] = []
        for ref in refs:
            view_name, _, feature = ref.partition(":")
            if not feature:
                raise NotFoundError(f"{ref!r} is not a feature reference; write view:feature")
            view = self.feature_view(view_name)
            names = view.feature_names()
            if feature == "*":
                out += [FeatureRef(view_name, n) for n in names]
            elif feature in names:
                out.append(FeatureRef(view_name, feature))
            else:
                raise NotFoundError(
                    f"feature view {view_name!r} has no feature {feature!r}; it has {', '.join(names)}"
                )
        return out

    def service_features(self, name: str) -> list[FeatureRef]:
        if name not in self.feature_services:
            raise NotFoundError(
                f"unknown feature service {name!r}; known: {', '.join(sorted(self.feature_services)) or 'none'}"
            )
        return self.resolve(self.feature_services[name].features)


def _load_file(path: Path, problems: list[str]) -> list[tuple[str, str, Definition]]:
    try:
        data = expand_env_tree(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    except (yaml.YAMLError, ConfigError) as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return []
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: byte {exc.start} is not UTF-8 ({exc.object[exc.start:exc.start + 1]!r}); "
                        "save the file as UTF-8")
        return []
    if data is None:
        return []
    if not isinstance(data, dict):
        problems.append(f"{path}: the top level must be a mapping with entities/feature_views/feature_services")
        return []
    found: list[tuple[str, str, Definition]] = []
    for section, raw_items in data.items():
        model = _SECTIONS.get(section)
        if model is None:
            problems.append(
                f"{path}: unknown section {section!r}; use entities, feature_views or feature_services"
            )
            continue
        if not isinstance(raw_items, list):
            problems.append(f"{path}: {section}: must be a list")
            continue
        for index, raw in enumerate(raw_items):
            label = raw.get("name") if isinstance(raw, dict) else None
            where = f"{path}: {section}[{index}]" + (f" ({label})" if label else "")
            try:
                definition = model.model_validate(raw)
            except PydanticValidationError as exc:
                problems.extend(format_validation_error(where, exc))
                continue
            found.append((KINDS[model], str(path), definition))  # type: ignore[arg-type]
    return found


def _check_references(repo: Repository, problems: list[str]) -> None:
    for name, view in repo.feature_views.items():
        where = f"{repo.files[f'feature_view/{name}']}: feature_views ({name})"
        seen: dict[str, str] = {}
        for ent in view.entities:
            if ent not in repo.entities:
                problems.append(
                    f"{where}: entities: unknown entity {ent!r}; declare it under entities: "
                    f"(known: {', '.join(sorted(repo.entities)) or 'none'})"
                )
                continue
            for key in repo.entities[ent].join_keys:
                if key.name in seen:
                    problems.append(f"{where}: entities: join key {key.name!r} comes from both {seen[key.name]} and {ent}")
                seen[key.name] = ent
        clash = sorted(set(seen) & set(view.feature_names()))
        if clash:
            problems.append(f"{where}: features: {', '.join(clash)} clash with join key names")
    for name, service in repo.feature_services.items():
        where = f"{repo.files[f'feature_service/{name}']}: feature_services ({name})"
        for ref in service.features:
            try:
                repo.resolve([ref])
            except NotFoundError as exc:
                problems.append(f"{where}: features: {exc}")


def load_repository(features_dir: str | Path) -> Repository:
    """Load and validate every ``*.yaml``/``*.yml`` file under ``features_dir``.

    Raises:
        DefinitionError: listing every problem found, each with its file and field.
    """
    root = Path(features_dir)
    if not root.is_dir():
        raise DefinitionError([f"{root}: features directory not found; set features_dir in the config"])
    problems: list[str] = []
    tables: dict[str, dict[str, Any]] = {"entity": {}, "feature_view": {}, "feature_service": {}}
    files: dict[str, str] = {}
    paths = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    for path in paths:
        for kind, file, definition in _load_file(path, problems):
            key = f"{kind}/{definition.name}"
            if key in files:
                problems.append(
                    f"{file}: duplicate {kind.replace('_', ' ')} name {definition.name!r} "
                    f"(first defined in {files[key]}); rename one of them"
                )
                continue
            files[key] = file
            tables[kind][definition.name] = definition
    repo = Repository(
        entities=tables["entity"],
        feature_views=tables["feature_view"],
        feature_services=tables["feature_service"],
        files=files,
    )
    _check_references(repo, problems)
    if problems:
        raise DefinitionError(problems)
    return repo
