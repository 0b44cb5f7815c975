"""``FeatureStore``: the Python API for notebooks and model code, one front over the pipeline.

It holds a :class:`~sparkfs.pipeline.workspace.Workspace` (config, feature repository,
registry, acting user) and, for the methods that run Spark jobs, a SparkSession passed in
(never created here). Every method delegates to the same pipeline functions the CLI and
``jobs/`` call, so a notebook, a scheduled job and ``sparkfs ...`` produce the same runs.
Online lookups and the catalog need no SparkSession.

Example::

    from sparkfs import FeatureStore
    from sparkfs.config import load_config
    from sparkfs.session import build_session

    config = load_config("conf/sparkfs.yaml")
    fs = FeatureStore.open(build_session(config), config)
    fs.materialize("user_profile")
    fs.sync(["user_profile"])
    train = fs.get_training_set(spine, feature_service="fraud_model")
    FeatureStore.open(None, config).get_online_features({"user_id": [1]}, features=["user_profile:age"])
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from sparkfs.errors import ValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.config import SparkfsConfig
    from sparkfs.definitions import FeatureView
    from sparkfs.online.sync import SyncResult
    from sparkfs.pipeline.consistency import ViewConsistency
    from sparkfs.pipeline.materialize import BackfillResult
    from sparkfs.pipeline.training_sets import TrainingSet
    from sparkfs.pipeline.workspace import Namespace, Workspace
    from sparkfs.registry import Plan
    from sparkfs.registry.runs import RunRecord
    from sparkfs.training.inputs import AsOf

__all__ = ["FeatureStore"]


class FeatureStore:
    """A project's feature store: definitions, offline tables, training sets, online values.

    Args:
        spark: the session Spark jobs run in, or None for a store that only looks up online
            values and reads the catalog (the methods that need Spark then say so).
        workspace: the project, its registry and the acting user (:meth:`open` builds one).
    """

    def __init__(self, spark: SparkSession | None, workspace: Workspace) -> None:
        self._spark = spark
        self.workspace = workspace

    @classmethod
    def open(cls, spark: SparkSession | None, config: SparkfsConfig | str | None = None, *,
             user: str | None = None, namespace: Namespace = "production") -> FeatureStore:
        """Open the project of ``config`` (a loaded config or the path of ``sparkfs.yaml``).

        Example::

            fs = FeatureStore.open(spark, "conf/sparkfs.yaml", user="alice")
            online_only = FeatureStore.open(None, "conf/sparkfs.yaml")

        Raises:
            ConfigError: the config file is missing or invalid (the message names the field).
            GovernanceError: ``user`` is not the registry database's user (identity: database).
        """
        from sparkfs.pipeline.workspace import Workspace

        return cls(spark, Workspace.open(config, user=user, namespace=namespace))

    @property
    def spark(self) -> SparkSession:
        """The session Spark jobs run in.

        Raises:
            ValidationError: the store was opened without one (``FeatureStore.open(None, ...)``).
        """
        if self._spark is None:
            raise ValidationError(
                "this FeatureStore was opened without a SparkSession; open it with one "
                "(FeatureStore.open(spark, config)) to materialize, sync or build training sets")
        return self._spark

    def sandbox(self) -> FeatureStore:
        """The same store in the sandbox namespace: unapproved versions, separate tables and keys.

        Example::

            fs.sandbox().materialize("user_profile")   # production stays untouched
        """
        return FeatureStore(self._spark, self.workspace.in_namespace("sandbox"))

    # definitions -------------------------------------------------------------------------
    def list_feature_views(self) -> list[FeatureView]:
        """The feature views of the repository, by name.

        Example::

            [(v.name, v.owner) for v in fs.list_feature_views()]
        """
        views = self.workspace.repository.feature_views
        return [views[name] for name in sorted(views)]

    def get_feature_view(self, name: str) -> FeatureView:
        """One feature view's definition as the repository holds it.

        Example::

            fs.get_feature_view("user_txn_aggs").ttl   # timedelta(days=35)

        Raises:
            NotFoundError: no such view (the message lists the ones there are).
        """
        return self.workspace.repository.feature_view(name)

    def plan(self) -> Plan:
        """What ``apply`` would change in the registry (``sparkfs plan``).

        Example::

            [(c.kind, c.name, c.action) for c in fs.plan().changes]
        """
        return self.workspace.definitions.plan(self.workspace.repository)

    def apply(self) -> Plan:
        """Record the repository's definitions as new versions in the registry (``sparkfs apply``).

        Example::

            fs.apply()
        """
        return self.workspace.definitions.apply(self.workspace.repository, user=self.workspace.user)

    # offline -----------------------------------------------------------------------------
    def materialize(self, feature_view: str, start: date | None = None, end: date | None = None) -> RunRecord:
        """Compute a view into its offline table: the days [start, end), or incrementally.

        Example::

            run = fs.materialize("user_profile")
            run.rows_out, run.output_version

        Raises:
            GovernanceError: in production, the repository's version is not applied or approved.
            QualityGateError: an error-severity expectation failed; nothing was committed.
        """
        from sparkfs.pipeline.materialize import materialize

        return materialize(self.spark, self.workspace, feature_view, start=start, end=end)

    def backfill(self, feature_view: str, start: date, end: date, step: timedelta = timedelta(days=7)) -> BackfillResult:
        """Recompute [start, end) in ``step`` chunks, each its own commit (resumable).

        Example::

            fs.backfill("user_txn_aggs", date(2026, 1, 1), date(2026, 7, 1), step=timedelta(days=30))
        """
        from sparkfs.pipeline.materialize import backfill

        return backfill(self.spark, self.workspace, feature_view, start, end, step=step)

    def read_feature_view(self, feature_view: str, version: int | None = None) -> DataFrame:
        """The offline table of a view, optionally at a Delta version.

        Example::

            fs.read_feature_view("user_profile", version=3).count()
        """
        from sparkfs.pipeline.materialize import offline_table

        view = self.workspace.repository.feature_view(feature_view)
        return offline_table(self.workspace, view).read(self.spark, version)

    # training ----------------------------------------------------------------------------
    @overload
    def get_training_set(
        self, spine: DataFrame, *, features: list[str] | None = ..., feature_service: str | None = ...,
        as_of: AsOf = ..., timestamp_column: str = ..., include_timestamps: bool = ...,
        with_versions: Literal[False] = ...,
    ) -> DataFrame: ...

    @overload
    def get_training_set(
        self, spine: DataFrame, *, features: list[str] | None = ..., feature_service: str | None = ...,
        as_of: AsOf = ..., timestamp_column: str = ..., include_timestamps: bool = ...,
        with_versions: Literal[True],
    ) -> TrainingSet: ...

    def get_training_set(
        self, spine: DataFrame, *, features: list[str] | None = None, feature_service: str | None = None,
        as_of: AsOf = None, timestamp_column: str = "event_timestamp", include_timestamps: bool = False,
        with_versions: bool = False,
    ) -> DataFrame | TrainingSet:
        """Spine columns plus one ``view__feature`` column per feature, point-in-time correct.

        Args:
            spine: entity keys and ``timestamp_column`` (the prediction times).
            features: ``view:feature`` references, or give ``feature_service``.
            as_of: read each table as of a time, or at given Delta versions ``{view: version}``.
            with_versions: return the :class:`~sparkfs.pipeline.training_sets.TrainingSet`
                (frame, the Delta version each view was read at, definition versions, keys).

        Example::

            ts = fs.get_training_set(spine, feature_service="fraud_model", with_versions=True)
            ts.table_versions          # {"user_profile": 3, "user_txn_aggs": 7, ...}
            again = fs.get_training_set(spine, feature_service="fraud_model", as_of=ts.table_versions)

        Raises:
            GovernanceError: in production, a view or the service is not approved.
            ValidationError: the spine lacks a key or the timestamp column (named).
        """
        from sparkfs.pipeline.training_sets import build_training_set, resolve_refs

        refs = resolve_refs(self.workspace, features, feature_service)
        built = build_training_set(
            self.spark, self.workspace, spine, refs=refs, as_of=as_of,
            timestamp_column=timestamp_column, include_timestamps=include_timestamps,
        )
        return built if with_versions else built.df

    # online ------------------------------------------------------------------------------
    def sync(self, feature_views: list[str] | None = None, *, full: bool = False) -> list[SyncResult]:
        """Push the latest offline values of the views (default: every online view) to Redis.

        Example::

            [r.mode for r in fs.sync(["user_profile"])]   # ["incremental"]
        """
        from sparkfs.pipeline.sync import sync_online

        return sync_online(self.spark, self.workspace, feature_views, full=full)

    def get_online_features(self, entities: dict[str, list[Any]], *, features: list[str] | None = None,
                            feature_service: str | None = None) -> dict[str, Any]:
        """Online values now (what a point-in-time join gives at this instant), as
        ``POST /v1/features:lookup`` answers (approved versions only, one Redis round trip),
        without HTTP and without a SparkSession.

        Example::

            fs.get_online_features({"user_id": [1, 2]}, features=["user_profile:age"])["rows"]
        """
        from sparkfs.serving.local import lookup_once

        return lookup_once(self.workspace, entities, features=features, feature_service=feature_service)

    def check_consistency(self, feature_views: list[str] | None = None, *, sample: int = 1000,
                          at: datetime | None = None) -> list[ViewConsistency]:
        """Online lookups against the point-in-time join at one instant (``sparkfs
        consistency``): per view, how many sampled entities differ, with examples.

        Example::

            all(c.mismatched == 0 for c in fs.check_consistency())
        """
        from sparkfs.pipeline.consistency import check_consistency

        return check_consistency(self.spark, self.workspace, feature_views, sample=sample, at=at)

    def runs(self, feature_view: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Recorded runs, newest first (``sparkfs runs``).

        Example::

            [(r.job, r.status, r.rows_out) for r in fs.runs("user_profile", limit=5)]
        """
        return self.workspace.runs.list(feature_view=feature_view, limit=limit)

    def __repr__(self) -> str:
        ws = self.workspace
        return f"FeatureStore(project={ws.config.project!r}, namespace={ws.namespace!r}, user={ws.user!r})"
