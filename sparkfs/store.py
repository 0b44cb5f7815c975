"""``FeatureStore``: the notebook-facing API, a thin front over the subsystems.

It holds a SparkSession (passed in, never created here) and a :class:`Workspace`, and
delegates: no logic of its own beyond argument plumbing, so the CLI, ``jobs/`` and notebooks
all run the same code.

Example::

    spark = build_session(load_config("conf/sparkfs.yaml"))
    fs = FeatureStore.open(spark, "conf/sparkfs.yaml")
    fs.materialize("user_profile")
    train = fs.get_training_set(spine, feature_service="fraud_model")
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sparkfs.registry import Plan
from sparkfs.registry.runs import RunRecord

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.config import SparkfsConfig
    from sparkfs.pipeline.consistency import ViewConsistency
    from sparkfs.pipeline.materialize import BackfillResult
    from sparkfs.pipeline.workspace import Namespace, Workspace
    from sparkfs.training.inputs import AsOf

__all__ = ["FeatureStore"]


class FeatureStore:
    def __init__(self, spark: SparkSession, workspace: Workspace) -> None:
        self.spark = spark
        self.workspace = workspace

    @classmethod
    def open(cls, spark: SparkSession, config: SparkfsConfig | str | None = None, *, user: str | None = None,
             namespace: Namespace = "production") -> FeatureStore:
        from sparkfs.pipeline.workspace import Workspace

        return cls(spark, Workspace.open(config, user=user, namespace=namespace))

    def sandbox(self) -> FeatureStore:
        """The same store in the sandbox namespace (unapproved versions, separate tables/keys)."""
        return FeatureStore(self.spark, self.workspace.in_namespace("sandbox"))

    # definitions -------------------------------------------------------------------------
    def plan(self) -> Plan:
        return self.workspace.definitions.plan(self.workspace.repository)

    def apply(self) -> Plan:
        return self.workspace.definitions.apply(self.workspace.repository, user=self.workspace.user)

    # offline -----------------------------------------------------------------------------
    def materialize(self, feature_view: str, start: date | None = None, end: date | None = None) -> RunRecord:
        from sparkfs.pipeline.materialize import materialize

        return materialize(self.spark, self.workspace, feature_view, start=start, end=end)

    def backfill(self, feature_view: str, start: date, end: date, step: timedelta = timedelta(days=7)) -> BackfillResult:
        from sparkfs.pipeline.materialize import backfill

        return backfill(self.spark, self.workspace, feature_view, start, end, step=step)

    def read_feature_view(self, feature_view: str, version: int | None = None) -> DataFrame:
        """The offline table of a view (optionally at a Delta version)."""
        from sparkfs.pipeline.materialize import offline_table

        view = self.workspace.repository.feature_view(feature_view)
        return offline_table(self.workspace, view).read(self.spark, version)

    # training ----------------------------------------------------------------------------
    def get_training_set(
        self, spine: DataFrame, *, features: list[str] | None = None, feature_service: str | None = None,
        as_of: AsOf = None, timestamp_column: str = "event_timestamp", include_timestamps: bool = False,
    ) -> DataFrame:
        """Spine columns plus one ``view__feature`` column per feature, point-in-time correct."""
        from sparkfs.pipeline.training_sets import build_training_set, resolve_refs

        refs = resolve_refs(self.workspace, features, feature_service)
        return build_training_set(
            self.spark, self.workspace, spine, refs=refs, as_of=as_of,
            timestamp_column=timestamp_column, include_timestamps=include_timestamps,
        ).df

    # online ------------------------------------------------------------------------------
    def get_online_features(self, entities: dict[str, list[Any]], *, features: list[str] | None = None,
                            feature_service: str | None = None) -> dict[str, Any]:
        """Online values now (what a point-in-time join gives at this instant): the same lookup
        and response as ``POST /v1/features:lookup`` (approved versions only, one Redis round
        trip), without going through HTTP."""
        from sparkfs.serving.local import lookup_once

        return lookup_once(self.workspace, entities, features=features, feature_service=feature_service)

    def check_consistency(self, feature_views: list[str] | None = None, *, sample: int = 1000,
                          at: datetime | None = None) -> list[ViewConsistency]:
        """Online lookups against the point-in-time join at one instant (``sparkfs
        consistency``): per view, how many sampled entities differ, with examples."""
        from sparkfs.pipeline.consistency import check_consistency

        return check_consistency(self.spark, self.workspace, feature_views, sample=sample, at=at)

    def runs(self, feature_view: str | None = None, limit: int = 50) -> list[RunRecord]:
        return self.workspace.runs.list(feature_view=feature_view, limit=limit)

    def __repr__(self) -> str:
        ws = self.workspace
        return f"FeatureStore(project={ws.config.project!r}, namespace={ws.namespace!r}, user={ws.user!r})"

