from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sparkfs.config import GovernanceConfig
from sparkfs.governance import ReviewBoard
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import Project, make_project

GOVERNANCE = """governance:
  enabled: true
  approvers: [alice, bob, dave]
  required_approvals: 1
  approvers_by_tag: {"pii": [carol]}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path, extra=GOVERNANCE)


@pytest.fixture()
def ws(project: Project) -> Workspace:
    """Definitions applied by ``author`` (who is not an approver)."""
    workspace = Workspace.open(str(project.config), user="author")
    DefinitionStore(workspace.engine).apply(workspace.repository, user="author")
    return workspace


def board(ws: Workspace, **overrides: object) -> ReviewBoard:
    config = ws.config.governance.model_copy(update=overrides) if overrides else ws.config.governance
    assert isinstance(config, GovernanceConfig)
    return ReviewBoard(ws.engine, config)


def as_user(ws: Workspace, user: str) -> Workspace:
    return replace(ws, user=user)


def reapply_changed(project: Project, ws: Workspace, old: str, new: str, user: str = "author") -> Workspace:
    """Edit a definition file and apply it, making a new current version."""
    path = project.features / "users.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    fresh = Workspace.open(str(project.config), user=user)
    DefinitionStore(fresh.engine).apply(fresh.repository, user=user)
    return fresh


Reapply = Callable[[str, str], Workspace]
