"""The sparkfs exception tree.

Every error sparkfs raises on purpose derives from :class:`SparkfsError`. Each carries the
process exit code the CLI uses and the HTTP status the serving layer maps it to, so that one
handler in each front end is enough.

::

    SparkfsError                      exit 1, HTTP 500
    ├── ConfigError                   exit 1, HTTP 500  (bad sparkfs.yaml / env override)
    ├── DefinitionError               exit 1, HTTP 500  (bad conf/features/*.yaml; lists every problem)
    ├── RegistryError                 exit 1, HTTP 500
    │   ├── ConcurrentModificationError
    │   └── TamperedRegistryError     (the registry fails verification: edited behind sparkfs)
    ├── NotFoundError                 exit 1, HTTP 404  (unknown feature view, feature, run ...)
    ├── ValidationError               exit 1, HTTP 422  (bad user input: spine, dates, request)
    │   └── FeatureNameCollisionError                   (two response columns would share a name)
    ├── SchemaMismatchError           exit 1, HTTP 500  (source no longer matches its definition)
    ├── WriteConflictError            exit 1, HTTP 409  (a concurrent writer committed first)
    ├── QualityGateError              exit 1, HTTP 500  (a batch failed an error-severity expectation)
    ├── GovernanceError               exit 1, HTTP 403  (missing approval, self-approval, ...)
    ├── AuthError                     exit 1, HTTP 401
    ├── LimitExceededError            exit 1, HTTP 413
    └── OnlineStoreError              exit 1, HTTP 503  (Redis unreachable after retries)

Messages say what failed *and* what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConcurrentModificationError",
    "ConfigError",
    "DefinitionError",
    "FeatureNameCollisionError",
    "GovernanceError",
    "LimitExceededError",
    "NotFoundError",
    "OnlineStoreError",
    "QualityGateError",
    "RegistryError",
    "SchemaMismatchError",
    "SparkfsError",
    "TamperedRegistryError",
    "ValidationError",
    "WriteConflictError",
]


class SparkfsError(Exception):
    """Root of every error sparkfs raises deliberately."""

    exit_code: int = 1
    http_status: int = 500


class ConfigError(SparkfsError):
    """The configuration file or an environment override is invalid."""


class DefinitionError(SparkfsError):
    """One or more feature definitions are invalid.

    ``problems`` holds every problem found (``file: field: message``), so a user fixes them all
    in one pass instead of one per run.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in the feature definitions:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class RegistryError(SparkfsError):
    """The registry database could not be read or written."""


class ConcurrentModificationError(RegistryError):
    """Another process changed the registry between our read and our write."""


class TamperedRegistryError(RegistryError):
    """The registry fails verification: a hash chain is broken, a spec no longer hashes to its
    version, or the heads disagree with the audit log (``sparkfs audit verify`` shows where).

    HTTP 503: the server is not ready while its registry fails verification."""

    http_status = 503


class NotFoundError(SparkfsError):
    """A named object (feature view, feature, service, run, version) does not exist.

    ``kind`` says what was missing when the raiser knows (``"feature_view"``,
    ``"feature_service"``, ``"feature"``), so a front end can report it in its own vocabulary
    (the Feast endpoint names Feast's exception class for it).
    """

    http_status = 404

    def __init__(self, message: str = "", *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class ValidationError(SparkfsError):
    """User input (a spine, a date range, a request) is invalid."""

    http_status = 422


class FeatureNameCollisionError(ValidationError):
    """A lookup would answer two columns under one name (e.g. ``txn_count_1d`` of two views
    with Feast's ``full_feature_names`` false); refused rather than letting a client keep one."""


class SchemaMismatchError(SparkfsError):
    """A source's schema no longer matches its feature view definition."""


class WriteConflictError(SparkfsError):
    """A concurrent writer committed an overlapping change first."""

    http_status = 409


class QualityGateError(SparkfsError):
    """A batch failed an error-severity expectation; nothing was committed."""


class GovernanceError(SparkfsError):
    """An action needs an approval (or a role) that is missing."""

    http_status = 403


class AuthError(SparkfsError):
    """A request has no valid API key."""

    http_status = 401


class LimitExceededError(SparkfsError):
    """A request exceeds a configured limit."""

    http_status = 413


class OnlineStoreError(SparkfsError):
    """The online store (Redis) could not be reached or failed after bounded retries."""

    http_status = 503
