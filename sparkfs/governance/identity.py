"""Who the acting user is: how a principal is established (``governance.identity``).

* ``trusted``: the acting user is whatever ``--user`` or ``$SPARKFS_USER`` says (else the login
  name). Nothing checks it: anyone who can run sparkfs against the registry can act as anyone.
  For a laptop or a team that trusts each other; review commands say so on every use.
* ``api_key``: reviews are made through the server (``POST /v1/reviews/{name}/{action}``) with an
  API key whose scopes include ``review``; the key's name is the principal. The CLI refuses every
  review action (and audits the refusal): it cannot prove who runs it.
* ``database``: the principal is the registry database's authenticated user (PostgreSQL's
  ``current_user``), for every command. A ``--user`` / ``$SPARKFS_USER`` that names someone else
  is refused for review actions (and audited). SQLite has no authenticated user, so this mode
  with a SQLite registry is a configuration error.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, text

from sparkfs.control_chars import refuse_control
from sparkfs.errors import ConfigError

__all__ = ["REVIEW_SCOPE", "Identity", "IdentityMode", "database_user", "establish", "review_refusal"]

IdentityMode = Literal["trusted", "api_key", "database"]

#: The API key scope that allows review actions through the server (``*`` does not include it).
REVIEW_SCOPE = "review"

_CURRENT_USER = {"postgresql": "SELECT current_user", "mysql": "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
                 "mariadb": "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"}


@dataclass(frozen=True)
class Identity:
    """The principal a command acts as, how it was established, and what the user claimed."""

    user: str
    mode: IdentityMode
    claimed: str | None  # --user or $SPARKFS_USER, when given

    @property
    def authenticated(self) -> bool:
        """Established by something other than the user's own word."""
        return self.mode == "database"


def claimed_user(explicit: str | None) -> str | None:
    """``--user``, else ``$SPARKFS_USER`` (printable text only); None when neither is given."""
    if explicit:
        return refuse_control(explicit, "--user")
    if os.environ.get("SPARKFS_USER"):
        return refuse_control(os.environ["SPARKFS_USER"], "$SPARKFS_USER")
    return None


def database_user(engine: Engine) -> str:
    """The user the registry database authenticated this connection as.

    Raises:
        ConfigError: the database has no such notion (SQLite).
    """
    query = _CURRENT_USER.get(engine.dialect.name)
    if query is None:
        raise ConfigError(
            f"governance.identity is database, but the registry ({engine.dialect.name}) has no "
            "authenticated user; use a PostgreSQL registry (registry.url: "
            "postgresql+psycopg://USER@HOST/DB) or governance.identity: trusted or api_key")
    with engine.connect() as conn:
        return str(conn.execute(text(query)).scalar_one())


def establish(mode: IdentityMode, explicit: str | None, engine: Engine | None = None) -> Identity:
    """The identity of a command given ``--user`` (``explicit``); reads the database user in
    ``database`` mode (``engine`` is then required)."""
    claimed = claimed_user(explicit)
    if mode == "database":
        assert engine is not None
        return Identity(database_user(engine), mode, claimed)
    return Identity(claimed or getpass.getuser(), mode, claimed)


def review_refusal(identity: Identity, action: str) -> str | None:
    """Why ``identity`` may not take the review ``action`` from the CLI (None: it may)."""
    if identity.mode == "api_key":
        return (f"governance.identity is api_key: {action} through the server "
                f"(POST /v1/reviews/NAME/{action} with an API key that has the '{REVIEW_SCOPE}' "
                "scope; the key's name is who acts); the CLI cannot prove who runs it")
    if identity.mode == "database" and identity.claimed is not None and identity.claimed != identity.user:
        return (f"--user / $SPARKFS_USER says {identity.claimed!r}, but this command is "
                f"authenticated as the database user {identity.user!r} (governance.identity: "
                f"database); log in to the registry database as {identity.claimed!r}, or drop "
                "--user / $SPARKFS_USER to act as yourself")
    return None
