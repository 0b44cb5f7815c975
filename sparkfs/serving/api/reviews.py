"""Review actions through the server: ``POST /v1/reviews/{name}/{action}``.

With ``governance.identity: api_key`` this is the only way to request, approve, reject or
deprecate: the caller's API key must carry the ``review`` scope (``*`` does not include it) and
the key's name is who acts, so nobody approves as someone else by typing their name. The rules of
the review board apply as on the CLI (an author cannot approve their own version, and under
``api_key`` the key that requested a review cannot approve it either); every action and refusal
is audited. Refused under ``governance.identity: database`` (reviews are made with one's own
database login there) and when ``serving.auth_enabled`` is off (nobody would be authenticated).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from sparkfs.governance.identity import REVIEW_SCOPE
from sparkfs.governance.lifecycle import ReviewBoard, ReviewState
from sparkfs.serving.api.deps import PrincipalDep, RuntimeDep
from sparkfs.serving.auth import Principal
from sparkfs.serving.models import ErrorBody
from sparkfs.serving.runtime import ServingRuntime

__all__ = ["ReviewBody", "ReviewStateBody", "router"]

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], responses={
    status: {"model": ErrorBody, "description": text}
    for status, text in [(401, "missing or invalid API key"),
                         (403, "no review scope, auth off, or the review board refuses"),
                         (404, "unknown definition or version"), (422, "invalid request")]})

Action = Literal["request", "approve", "reject", "deprecate"]


class ReviewBody(BaseModel):
    """Which version (default: the current one), of which kind when names are shared, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str | None = Field(default=None, max_length=64, description="a version or its prefix")
    kind: Literal["entity", "feature_view", "feature_service"] | None = None
    comment: str = Field(default="", max_length=2000)


class ReviewStateBody(BaseModel):
    """Where the version stands after the action."""

    kind: str
    name: str
    version: str
    state: str
    author: str
    approvals: list[str]
    required: int
    missing: list[str]
    requested_by: str | None


def _refusal(runtime: ServingRuntime, principal: Principal) -> str | None:
    governance = runtime.settings.governance
    if governance.identity == "database":
        return ("governance.identity is database: review with your own database login through "
                "the CLI (`sparkfs review ...`), not through the server")
    if not runtime.keys.enabled:
        return ("reviews through the server need serving.auth_enabled: true and an API key with "
                f"the '{REVIEW_SCOPE}' scope (the key's name is who acts)")
    if REVIEW_SCOPE not in principal.scopes:
        return (f"API key {principal.name!r} may not review: its scopes {sorted(principal.scopes)} "
                f"lack '{REVIEW_SCOPE}'; ask the operators for a key with it")
    return None


def _act(runtime: ServingRuntime, principal: Principal, action: Action, name: str,
         body: ReviewBody) -> ReviewState:
    board = ReviewBoard(runtime.workspace.engine, runtime.settings.governance)
    reason = _refusal(runtime, principal)
    if reason is not None:
        board.refuse(principal.name, action, name, body.version, kind=body.kind,
                     comment=body.comment, reason=reason)
    method = {"request": board.request, "approve": board.approve, "reject": board.reject,
              "deprecate": board.deprecate}[action]
    return method(principal.name, name, body.version, kind=body.kind, comment=body.comment)


@router.post("/{name}/{action}", response_model=ReviewStateBody)
async def review(name: Annotated[str, Path(max_length=128)], action: Action, runtime: RuntimeDep,
                 principal: PrincipalDep, body: ReviewBody | None = None) -> ReviewStateBody:
    """Request, approve, reject or deprecate a definition version as the API key's name."""
    state = await asyncio.to_thread(_act, runtime, principal, action, name, body or ReviewBody())
    return ReviewStateBody(kind=state.kind, name=state.name, version=state.version,
                           state=state.state, author=state.author, approvals=list(state.approvals),
                           required=state.required, missing=list(state.missing),
                           requested_by=state.requested_by)
