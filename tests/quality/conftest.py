from __future__ import annotations

from pathlib import Path

import pytest

from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import Project, make_project

ALLOWED = "      - {type: allowed_values, column: country, values: [US, GB, DE, FR, ES, IT, NL, BR, IN, JP], severity: warn}\n"
HARD_RULES = (
    "      - {type: range, column: age, min: 0, max: 150, name: age_plausible}\n"
    "      - {type: sql, predicate: \"country <> 'ZZ'\", name: no_zz_country}\n"
)


def add_hard_rules(project: Project) -> None:
    """user_profile gets two error-severity rules on top of the example's (not_null + 2 warnings)."""
    path = project.features / "users.yaml"
    text = path.read_text()
    assert ALLOWED in text
    path.write_text(text.replace(ALLOWED, ALLOWED + HARD_RULES))


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    proj = make_project(tmp_path)
    add_hard_rules(proj)
    return proj


@pytest.fixture()
def ws(project: Project) -> Workspace:
    workspace = Workspace.open(str(project.config), user="tester")
    DefinitionStore(workspace.engine).apply(workspace.repository, user="tester")
    return workspace
