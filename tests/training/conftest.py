from tests.offline.conftest import project, ws  # noqa: F401  (shared fixtures)
