"""Finding 4 of issue 21: user names and comments with a newline, a carriage return or an ANSI
escape were stored and printed verbatim by ``sparkfs audit`` (a forged "approved" line). They are
now refused where they enter, and whatever is stored is printed escaped."""

from __future__ import annotations

import json

import pytest

from sparkfs.control_chars import escape_control
from sparkfs.errors import ValidationError
from sparkfs.pipeline.workspace import Workspace
from tests.governance.conftest import board
from tests.project import Project
from tests.registry.tampering import legacy_registry

FORGED = "x\n1  2026-01-01 00:00:00  alice  review.approve  feature_view  user_profile  ok"
ANSI = "bob\x1b[2K\r\x1b[32mapproved\x1b[0m"


@pytest.mark.parametrize("bad", [FORGED, ANSI, "carol\r", "dave\u202eevil"])
def test_control_characters_are_refused_in_names_and_comments(ws: Workspace, bad: str) -> None:
    reviews = board(ws)
    with pytest.raises(ValidationError, match="control character"):
        reviews.request(bad, "user_profile")
    with pytest.raises(ValidationError, match=r"comment .* control character"):
        reviews.request("author", "user_profile", comment=bad)
    with pytest.raises(ValidationError, match="control character"):
        ws.audit.append(user=bad, action="x", outcome="ok")
    assert [e.action for e in ws.audit.entries() if e.action.startswith("review")] == []


def test_the_cli_refuses_them_from_user_and_environment(project: Project) -> None:
    assert project.run("apply").returncode == 0
    flag = project.run("--user", FORGED, "review", "request", "user_profile")
    assert flag.returncode == 1 and "--user 'x\\n1  2026" in flag.stderr and "\n1  2026" not in flag.stderr
    env = project.run("review", "request", "user_profile", env={"SPARKFS_USER": ANSI})
    assert env.returncode == 1 and "$SPARKFS_USER 'bob\\x1b[2K\\r" in env.stderr and "\x1b" not in env.stderr
    comment = project.run("review", "request", "user_profile", "-m", "ok\rapproved by alice")
    assert comment.returncode == 1 and "control character \\r" in comment.stderr
    audit = json.loads(project.run("audit", "--json").stdout)
    assert {e["action"] for e in audit} == {"apply.add"}


def test_stored_control_characters_are_printed_escaped(project: Project) -> None:
    # a registry of the previous version, which stored them; upgraded (sealed) by the apply
    legacy_registry(project.root / "registry.db", [(ANSI, "review.request", "ok", FORGED)])
    assert project.run("apply").returncode == 0
    listing = project.run("audit")
    assert listing.returncode == 0
    assert "\x1b" not in listing.stdout and "\r" not in listing.stdout
    assert escape_control(ANSI) in listing.stdout and len(listing.stdout.splitlines()) == 2 + 8
    assert "x\\n1  2026-01-01" in listing.stdout


def test_escape_control() -> None:
    assert escape_control("plain: ünïcode ✓") == "plain: ünïcode ✓"
    assert escape_control("a\nb\r\x1b[0m\x7f\u202e") == "a\\nb\\r\\x1b[0m\\x7f\\u202e"
    assert escape_control("two\nlines\x1b", keep="\n") == "two\nlines\\x1b"
