"""``sparkfs sync``: push online feature views from their Delta tables to Redis.

Adapts definitions to the online store (:class:`~sparkfs.online.view.OnlineView`), keeps the
checkpoints in the registry, records each sync as a run, and removes the keys of views that
were deleted from the repository or turned ``online: false``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkfs.definitions.schema import ViewSchema
from sparkfs.errors import ValidationError
from sparkfs.offline.conform import CREATED_AT
from sparkfs.online.sync import SyncResult, sync_feature_view
from sparkfs.online.topology import OnlineTarget, make_client
from sparkfs.online.view import Field, OnlineView
from sparkfs.pipeline.materialize import offline_table
from sparkfs.pipeline.runs import recorded_run
from sparkfs.registry.checkpoints import SqlCheckpointStore

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["online_target", "online_view", "retire_views", "sync_online"]


def online_target(workspace: Workspace) -> OnlineTarget:
    """The Redis target of this workspace; the sandbox gets its own key namespace."""
    online = workspace.config.online
    if workspace.namespace == "sandbox":
        return online.model_copy(update={"namespace": f"{online.namespace}-sandbox"})
    return online


def online_view(spark: SparkSession, workspace: Workspace, name: str) -> tuple[OnlineView, str]:
    """(the served descriptor, the offline table path) for the usable version of ``name``."""
    view = workspace.repository.feature_view(name)
    version = workspace.usable_version(view)
    table = offline_table(workspace, view)
    if not table.exists(spark):
        raise ValidationError(f"feature view {name!r} has no offline table yet; run `sparkfs materialize {name}` first")
    types = {f.name: f.dataType.simpleString() for f in table.read(spark).schema.fields}
    schema = ViewSchema.of(view, workspace.repository.join_keys(view), types)
    return OnlineView(
        name=name, version=version,
        keys=tuple(Field(c.name, c.type) for c in schema.keys),
        features=tuple(Field(n, t) for n, t in schema.online_features()),
        ttl=view.ttl, availability_delay=view.availability_delay,
        created=CREATED_AT in types, availability=view.availability,
    ), table.path


def sync_online(
    spark: SparkSession, workspace: Workspace, names: list[str] | None = None, *, full: bool = False,
    wait_s: float = 0.0,
) -> list[SyncResult]:
    """Sync the named (default: every online) feature views; each sync is recorded as a run."""
    repo = workspace.repository
    if names:
        for name in names:
            if not repo.feature_view(name).online:
                raise ValidationError(f"feature view {name!r} has online: false; it is not synced")
    targets = names or sorted(n for n, v in repo.feature_views.items() if v.online)
    checkpoints = SqlCheckpointStore(workspace.engine, workspace.namespace)
    results = []
    for name in targets:
        view, path = online_view(spark, workspace, name)
        checkpoints.will_write_features(name, [(f.name, f.dtype) for f in view.features])
        with recorded_run(workspace, "sync", spark=spark, feature_view=name, version=view.version) as run:
            result = sync_feature_view(spark, table_path=path, view=view, online=online_target(workspace),
                                       checkpoints=checkpoints, full=full, wait_s=wait_s)
            run.rows_in, run.rows_out = result.rows_sent, result.entities_written
            run.input_versions = {path: result.to_delta_version}
            run.details = {"mode": result.mode, "reason": result.reason, "generation": result.generation}
        results.append(result)
    if not names:
        retire_views(workspace)
    return results


def retire_views(workspace: Workspace) -> list[str]:
    """Remove the keys of synced views that are gone from the repository or no longer online."""
    from sparkfs.online.generations import Generations

    checkpoints = SqlCheckpointStore(workspace.engine, workspace.namespace)
    wanted = {n for n, v in workspace.repository.feature_views.items() if v.online}
    retired = [name for name in checkpoints.views() if name not in wanted]
    if not retired:
        return []
    target = online_target(workspace)
    client = make_client(target)
    try:
        generations = Generations(client, target.namespace)
        for name in retired:
            generations.drop_view(name)
            checkpoints.forget(name)
            workspace.audit.append(user=workspace.user, action="sync.retire", kind="feature_view", name=name,
                                   outcome="ok", comment="keys removed: view deleted or online: false")
    finally:
        client.close()
    return retired
