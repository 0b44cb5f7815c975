"""API keys with scopes (``serving.api_keys``): who may read which views and services.

The config stores only the sha256 of each key, so a leaked config file does not leak keys. A
scope is a feature view name, a feature service name, or ``*``. A request reading through a
feature service is allowed if the service is in scope, or every view it reads is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sparkfs.config import ServingConfig
from sparkfs.errors import AuthError
from sparkfs.serving.lookup import LookupPlan

__all__ = ["ApiKeys", "ForbiddenError", "Principal", "hash_key"]


class ForbiddenError(AuthError):
    """A valid API key asked for a view or service outside its scopes."""

    http_status = 403


@dataclass(frozen=True)
class Principal:
    """The caller: an API key's name and scopes (``anonymous`` / ``*`` when auth is off)."""

    name: str
    scopes: frozenset[str]

    def may_read(self, name: str) -> bool:
        return "*" in self.scopes or name in self.scopes


ANONYMOUS = Principal("anonymous", frozenset({"*"}))


def hash_key(key: str) -> str:
    """The hex sha256 to put in ``serving.api_keys[].sha256`` for a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """Authenticates bearer / ``X-API-Key`` keys and checks a lookup against their scopes."""

    def __init__(self, config: ServingConfig) -> None:
        self.enabled = config.auth_enabled
        self._by_hash = {k.sha256: Principal(k.name, frozenset(k.scopes)) for k in config.api_keys}

    def authenticate(self, authorization: str | None, x_api_key: str | None) -> Principal:
        """Raises AuthError (401) when auth is on and no configured key was presented."""
        if not self.enabled:
            return ANONYMOUS
        key = x_api_key
        if key is None and authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                key = token.strip()
        if not key:
            raise AuthError("missing API key; send 'Authorization: Bearer <key>' or "
                            "'X-API-Key: <key>'")
        principal = self._by_hash.get(hash_key(key))
        if principal is None:
            raise AuthError("invalid API key; ask the feature store operators for a key "
                            "listed in serving.api_keys")
        return principal

    @staticmethod
    def authorize(principal: Principal, plan: LookupPlan) -> None:
        """Raises ForbiddenError (403) naming the first view outside the key's scopes."""
        if plan.service is not None and principal.may_read(plan.service):
            return
        for view in sorted(plan.scope_names):
            if not principal.may_read(view):
                raise ForbiddenError(f"API key {principal.name!r} may not read feature view "
                                     f"{view!r}; its scopes are {sorted(principal.scopes)}")
