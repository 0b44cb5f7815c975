from tests.governance.conftest import project, ws  # noqa: F401  (shared fixtures)
