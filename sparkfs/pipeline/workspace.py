"""Everything a job needs besides the SparkSession: config, definitions, registry, identity.

A :class:`Workspace` is cheap and immutable; the CLI, ``jobs/`` and notebooks build one with
:meth:`Workspace.open` and pass it (with a session) to the offline, training and online code.
``namespace`` is ``production`` or ``sandbox``: sandbox runs write under
``offline.sandbox_root`` and their own Redis namespace, and may use unapproved versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from sqlalchemy import Engine

from sparkfs.config import SparkfsConfig, load_config
from sparkfs.definitions import FeatureView, definition_version
from sparkfs.definitions.loader import Repository, load_repository
from sparkfs.errors import GovernanceError
from sparkfs.governance.identity import Identity, establish
from sparkfs.registry import AuditLog, DefinitionStore, open_engine
from sparkfs.registry.integrity import IntegrityReport, verify_registry
from sparkfs.registry.runs import RunStore

__all__ = ["Namespace", "Workspace"]

Namespace = Literal["production", "sandbox"]


@dataclass(frozen=True)
class Workspace:
    config: SparkfsConfig
    repository: Repository
    engine: Engine
    user: str
    namespace: Namespace = "production"
    #: How ``user`` was established (set by :meth:`open`; None for a hand-built workspace).
    identity: Identity | None = None

    @classmethod
    def open(cls, config: SparkfsConfig | str | None = None, *, user: str | None = None,
             namespace: Namespace = "production", note: Callable[[str], None] | None = None) -> Workspace:
        """Open a project's workspace.

        Args:
            config: the loaded config, or the path of ``sparkfs.yaml`` (default: the project's).
            user: who acts (else ``$SPARKFS_USER``, else the login name), except under
                ``governance.identity: database`` where it is the registry database's user.
            namespace: ``production``, or ``sandbox`` for runs that must not touch production.
            note: under ``governance.identity: database``, naming a user other than the
                database's is refused; with ``note`` it is told to ``note`` instead (the CLI
                prints it) and the workspace acts as the database user.

        Raises:
            GovernanceError: ``user`` is not the database's user (and no ``note`` was given).
        """
        cfg = config if isinstance(config, SparkfsConfig) else load_config(config)
        engine = open_engine(cfg.registry.url)
        identity = establish(cfg.governance.identity, user, engine if cfg.governance.identity == "database" else None)
        if note is not None and identity.claimed is not None and identity.claimed != identity.user:
            note(f"note: acting as the database user {identity.user!r}, not {identity.claimed!r} "
                 "(governance.identity: database)")
        elif note is None and user is not None and user != identity.user:
            raise GovernanceError(
                f"user={user!r} is not the registry database's user {identity.user!r} "
                "(governance.identity: database); leave user out to act as the database user")
        return cls(
            config=cfg,
            repository=load_repository(cfg.features_dir),
            engine=engine,
            user=identity.user,
            namespace=namespace,
            identity=identity,
        )

    def in_namespace(self, namespace: Namespace) -> Workspace:
        return replace(self, namespace=namespace)

    @property
    def offline_root(self) -> str:
        return self.config.offline.root if self.namespace == "production" else self.config.offline.sandbox_root

    @cached_property
    def definitions(self) -> DefinitionStore:
        return DefinitionStore(self.engine)

    @cached_property
    def runs(self) -> RunStore:
        return RunStore(self.engine)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.engine)

    @cached_property
    def integrity(self) -> IntegrityReport:
        """The registry's verification (:mod:`sparkfs.registry.integrity`), done once per
        workspace: a job checks the registry when it first needs an approval."""
        return verify_registry(self.engine)

    def usable_version(self, view: FeatureView) -> str:
        """The version of ``view`` this workspace may run, or a GovernanceError saying why not.

        Production needs the repository's version to be applied (and, with governance enabled,
        approved); the sandbox runs whatever the repository holds.
        """
        version = definition_version(view)
        if self.namespace == "sandbox":
            return version
        head = self.definitions.heads().get(("feature_view", view.name))
        if head != version:
            raise GovernanceError(
                f"feature view {view.name!r}: version {version} in {self.repository.files.get('feature_view/' + view.name, 'the repository')} "
                f"is not applied (registry has {head or 'nothing'}); run `sparkfs apply` first, "
                "or use --sandbox to try it without touching production"
            )
        from sparkfs.governance.enforcement import require_approved

        require_approved(self, "feature_view", view.name, version)
        return version
