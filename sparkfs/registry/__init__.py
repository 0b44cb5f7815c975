"""The SQL registry: definition versions, runs, reviews, audit, checkpoints."""

from __future__ import annotations

from sparkfs.registry.audit import AuditEntry, AuditLog
from sparkfs.registry.database import open_engine
from sparkfs.registry.versions import Change, DefinitionStore, Plan, VersionRecord

__all__ = ["AuditEntry", "AuditLog", "Change", "DefinitionStore", "Plan", "VersionRecord", "open_engine"]
