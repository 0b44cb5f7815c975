"""Who may approve a definition version: the roles configured under ``governance``.

Global ``approvers`` may approve anything. ``approvers_by_tag`` adds reviewers for definitions
carrying a tag (on the definition or, for a feature view, on any of its features): a key
``pii`` matches any definition tagged ``pii`` with a value other than ``"false"``, a key
``domain=payments`` matches the exact value. A matched tag also *requires* one of its approvers
among the approvals, so a PII view cannot go live on the word of general approvers alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sparkfs.config import GovernanceConfig

__all__ = ["ApprovalPolicy", "definition_tags"]


def definition_tags(spec: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every tag of a registry spec (definition and feature level): key -> values seen."""
    tags: dict[str, set[str]] = {}
    sources: list[Mapping[str, Any]] = [spec.get("tags") or {}]
    sources += [f.get("tags") or {} for f in spec.get("features") or [] if isinstance(f, dict)]
    for mapping in sources:
        for key, value in mapping.items():
            tags.setdefault(str(key), set()).add(str(value))
    return tags


def _matches(rule: str, tags: Mapping[str, set[str]]) -> bool:
    key, sep, value = rule.partition("=")
    if sep:
        return value in tags.get(key, set())
    return any(v.lower() not in ("false", "") for v in tags.get(key, set()))


@dataclass(frozen=True)
class ApprovalPolicy:
    """The approval rule for one definition version, given its tags."""

    required: int
    general: tuple[str, ...]
    by_tag: dict[str, tuple[str, ...]]  # matched tag rule -> its approvers

    @classmethod
    def for_spec(cls, config: GovernanceConfig, spec: Mapping[str, Any]) -> ApprovalPolicy:
        tags = definition_tags(spec)
        matched = {rule: tuple(users) for rule, users in sorted(config.approvers_by_tag.items()) if _matches(rule, tags)}
        return cls(required=config.required_approvals, general=tuple(config.approvers), by_tag=matched)

    @property
    def eligible(self) -> tuple[str, ...]:
        """Everyone whose approval counts, in a stable order."""
        users = list(self.general) + [u for users in self.by_tag.values() for u in users]
        return tuple(dict.fromkeys(users))

    def may_approve(self, user: str) -> bool:
        return user in self.eligible

    def counted(self, approvals: Iterable[str]) -> tuple[str, ...]:
        """Distinct approvals by users who are (still) eligible, in the order given."""
        return tuple(u for u in dict.fromkeys(approvals) if self.may_approve(u))

    def missing(self, approvals: Iterable[str]) -> list[str]:
        """What is still missing, in words (empty when the approvals suffice)."""
        counted = self.counted(approvals)
        out = []
        if len(counted) < self.required:
            need = self.required - len(counted)
            others = [u for u in self.eligible if u not in counted]
            out.append(f"{need} more approval(s) from {', '.join(others) or 'nobody (no approvers configured)'}")
        for rule, users in self.by_tag.items():
            if not set(users) & set(counted):
                out.append(f"an approval from a {rule!r} approver ({', '.join(users) or 'none configured'})")
        return out
