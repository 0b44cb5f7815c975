from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sparkfs.definitions import definition_version
from sparkfs.definitions.loader import load_repository
from sparkfs.errors import DefinitionError, NotFoundError

EXAMPLE = Path(__file__).resolve().parent.parent / "conf" / "features"

ENTITY = "entities:\n  - name: user\n    join_keys: [{name: user_id, type: int64}]\n"
VIEW = """
feature_views:
  - name: {name}
    entities: [{entity}]
    source: {{type: parquet, path: users}}
    timestamp_column: ts
    features:
      - {{name: age, type: {ftype}}}
    ttl: {ttl}
    owner: me
"""


def repo_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "features"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def view(name: str = "v", entity: str = "user", ftype: str = "int32", ttl: str = "1d") -> str:
    return VIEW.format(name=name, entity=entity, ftype=ftype, ttl=ttl)


def problems(root: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_repository(root)
    return err.value.problems


def test_example_repository_is_valid() -> None:
    repo = load_repository(EXAMPLE)
    assert set(repo.feature_views) == {"user_profile", "user_txn_aggs", "merchant_txn_aggs"}
    refs = repo.service_features("fraud_model")
    assert [r.qualified for r in refs][:2] == ["user_profile:age", "user_profile:is_premium"]
    assert "user_txn_aggs:txn_count_30d" in [r.qualified for r in refs]


def test_unknown_entity(tmp_path: Path) -> None:
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view(entity="customer")})
    [problem] = problems(root)
    assert "v.yaml" in problem and "unknown entity 'customer'" in problem


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "a.yaml": view(), "b.yaml": view()})
    [problem] = problems(root)
    assert "b.yaml: duplicate feature view name 'v'" in problem and "a.yaml" in problem


def test_bad_duration(tmp_path: Path) -> None:
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view(ttl="3 days")})
    [problem] = problems(root)
    assert "v.yaml: feature_views[0] (v): ttl:" in problem and "invalid duration '3 days'" in problem


def test_unsupported_type(tmp_path: Path) -> None:
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view(ftype="decimal")})
    [problem] = problems(root)
    assert "features.0.type" in problem and "'int64'" in problem


def test_service_naming_a_missing_feature(tmp_path: Path) -> None:
    service = "feature_services:\n  - name: s\n    features: [v:age, v:height, w:*]\n"
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view(), "s.yaml": service})
    found = problems(root)
    assert any("s.yaml" in p and "no feature 'height'" in p for p in found)
    assert any("s.yaml" in p and "unknown feature view 'w'" in p for p in found)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = repo_dir(
        tmp_path,
        {
            "e.yaml": ENTITY,
            "a.yaml": view(name="a", entity="ghost"),
            "b.yaml": view(name="b", ttl="forever"),
            "c.yaml": view(name="c", ftype="blob") + "    colour: red\n",
            "d.yaml": "widgets: []\n",
        },
    )
    found = problems(root)
    assert len(found) >= 5
    joined = "\n".join(found)
    for needle in ("a.yaml", "b.yaml", "c.yaml", "d.yaml", "colour: unknown field", "unknown section 'widgets'"):
        assert needle in joined


def test_window_must_be_a_multiple_of_grain(tmp_path: Path) -> None:
    agg = """
feature_views:
  - name: a
    entities: [user]
    source: {type: delta, path: t}
    timestamp_column: ts
    aggregations: {grain: day, windows: [36h], features: [{name: n, function: count}]}
    owner: me
"""
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "a.yaml": agg})
    [problem] = problems(root)
    assert "36h is not a positive multiple of the grain (day)" in problem


def test_version_is_stable_under_reformatting_and_key_order(tmp_path: Path) -> None:
    original = load_repository(EXAMPLE)
    copy = tmp_path / "features"
    shutil.copytree(EXAMPLE, copy)
    path = copy / "users.yaml"
    data = yaml.safe_load(path.read_text())
    # Reverse every mapping's key order, use flow style, and spell 365d as 8760h.
    def reorder(node):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            return {k: reorder(node[k]) for k in reversed(list(node))}
        if isinstance(node, list):
            return [reorder(v) for v in node]
        return node
    data = reorder(data)
    data["feature_views"][0]["ttl"] = "8760h"
    path.write_text(yaml.safe_dump(data, default_flow_style=True, sort_keys=False))
    assert load_repository(copy).versions() == original.versions()


def test_changing_a_feature_type_changes_the_version(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = load_repository(repo_dir(tmp_path / "a", {"e.yaml": ENTITY, "v.yaml": view(ftype="int32")}))
    b = load_repository(repo_dir(tmp_path / "b", {"e.yaml": ENTITY, "v.yaml": view(ftype="int64")}))
    assert definition_version(a.feature_views["v"]) != definition_version(b.feature_views["v"])
    assert definition_version(a.entities["user"]) == definition_version(b.entities["user"])


def test_resolve_rejects_unknown_references() -> None:
    repo = load_repository(EXAMPLE)
    with pytest.raises(NotFoundError, match="has no feature 'nope'"):
        repo.resolve(["user_profile:nope"])
    with pytest.raises(NotFoundError, match="unknown feature view 'ghost'"):
        repo.resolve(["ghost:x"])


def test_knowing_time_needs_a_created_column(tmp_path: Path) -> None:
    text = view().replace("    owner: me\n", "    owner: me\n    availability: created\n")
    [problem] = problems(repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": text}))
    assert "v.yaml" in problem and "availability: created needs a created_timestamp_column" in problem


def test_an_aggregation_view_takes_no_created_column(tmp_path: Path) -> None:
    text = """
feature_views:
  - name: aggs
    entities: [user]
    source: {type: parquet, path: tx}
    timestamp_column: ts
    created_timestamp_column: recorded_at
    aggregations: {windows: [1d], features: [{name: n, function: count}]}
    owner: me
"""
    [problem] = problems(repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": text}))
    assert "created_timestamp_column is for plain views" in problem


def test_fields_added_later_keep_existing_versions_and_count_when_set(tmp_path: Path) -> None:
    """Defaults of the fields added for corrections and sources are not part of the canonical
    form (existing definitions kept their versions); a set value is."""
    from sparkfs.definitions import canonical_spec

    plain = load_repository(repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view()})).feature_views["v"]
    spec = canonical_spec(plain)
    assert not {"created_timestamp_column", "availability"} & set(spec)
    assert set(spec["source"]) == {"type", "path"}
    corrected = plain.model_copy(update={"created_timestamp_column": "recorded_at"})
    assert definition_version(corrected) != definition_version(plain)
    known = corrected.model_copy(update={"availability": "created"})
    assert len({definition_version(v) for v in (plain, corrected, known)}) == 3


def test_the_quarantine_directory_is_not_a_view_name(tmp_path: Path) -> None:
    """Issue 21: a view named ``_quarantine`` would put its production table in the directory
    where the quality gate appends other views' failed batches."""
    root = repo_dir(tmp_path, {"e.yaml": ENTITY, "v.yaml": view(name="_quarantine")})
    [problem] = problems(root)
    assert "'_quarantine' is reserved for the quality gate's quarantine tables" in problem
