"""FastAPI routers, one per resource, and their dependencies."""

from __future__ import annotations

__all__: list[str] = []
