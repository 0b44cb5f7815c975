"""Governance: the review lifecycle of definition versions, approval roles and enforcement."""

from __future__ import annotations

from sparkfs.governance.enforcement import (
    is_approved,
    missing_approval,
    require_approved,
    require_service_approved,
)
from sparkfs.governance.lifecycle import ReviewBoard, ReviewState, State
from sparkfs.governance.policy import ApprovalPolicy

__all__ = [
    "ApprovalPolicy",
    "ReviewBoard",
    "ReviewState",
    "State",
    "is_approved",
    "missing_approval",
    "require_approved",
    "require_service_approved",
]
