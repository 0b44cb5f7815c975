"""The governance report: the checklist, the views' facts and pictures, and the lineage report.

:func:`build_report` reads everything once into a :class:`GovernanceReport`;
:mod:`sparkfs.report.writers` turns it into HTML (one file, pictures inline), Markdown and
JSON. A registry that fails verification is flagged at the top, and whatever cannot be read
from it (a tampered spec) is left out with the reason rather than reported as if trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sparkfs.clock import Clock, utc_now
from sparkfs.errors import TamperedRegistryError
from sparkfs.portal.lineage_view import (
    FeatureLineage,
    LineagePicture,
    feature_lineage,
    full_picture,
)
from sparkfs.portal.readmodel import CatalogReader, QualityPoint, ServiceSummary, ViewSummary
from sparkfs.registry.integrity import IntegrityReport, verify_registry
from sparkfs.registry.training_sets import TrainingSetRecord
from sparkfs.report.checklist import Level, Subject, checklist, integrity_check, worst

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["GovernanceReport", "build_report"]


@dataclass(frozen=True)
class GovernanceReport:
    project: str
    generated_at: datetime
    integrity: IntegrityReport
    subjects: tuple[Subject, ...]
    views: tuple[ViewSummary, ...] = ()
    services: tuple[ServiceSummary, ...] = ()
    training_sets: tuple[TrainingSetRecord, ...] = ()
    quality: dict[str, tuple[QualityPoint, ...]] = field(default_factory=dict)
    #: why part of the registry was not read (a registry failing verification), else ""
    refused: str = ""
    #: the lineage report: the whole graph (as data and as a picture) and per feature its
    #: column lineage and the training sets that read it
    lineage_graph: dict[str, Any] = field(default_factory=dict)
    lineage_picture: LineagePicture | None = None
    features: tuple[FeatureLineage, ...] = ()

    @property
    def level(self) -> Level:
        return worst(s.level for s in self.subjects)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0}
        for subject in self.subjects:
            for check in subject.checks:
                out[check.level] += 1
        return out


def build_report(workspace: Workspace, clock: Clock = utc_now) -> GovernanceReport:
    """Read the registry and evaluate the checklist (see :mod:`sparkfs.report.checklist`)."""
    integrity = verify_registry(workspace.engine)
    reader = CatalogReader(workspace, clock=clock)
    config = workspace.config.catalog
    now = clock()
    try:
        subjects = checklist(reader, config, integrity)
        views = tuple(reader.views())
        training_sets = tuple(reader.training_sets())
        graph, picture = full_picture(workspace)
        return GovernanceReport(
            project=workspace.config.project, generated_at=now, integrity=integrity,
            subjects=tuple(subjects), views=views, services=tuple(reader.services()),
            training_sets=training_sets,
            quality={v.name: reader.quality(v.name) for v in views},
            lineage_graph=graph.to_dict(), lineage_picture=picture,
            features=tuple(feature_lineage(workspace, graph, training_sets)))
    except TamperedRegistryError as exc:

        return GovernanceReport(
            project=workspace.config.project, generated_at=now, integrity=integrity,
            subjects=(Subject("registry", workspace.config.project, "", (integrity_check(integrity),)),),
            refused=f"the rest of the registry was not reported: {exc}")
