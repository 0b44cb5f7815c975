"""The gate production jobs run before committing a batch (the declared quality expectations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkfs.offline.materialize import Gate

__all__ = ["default_gate"]


def default_gate() -> Gate | None:
    return None
