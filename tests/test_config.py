from __future__ import annotations

from pathlib import Path

import pytest

from sparkfs.config import RedisClusterConfig, load_config
from sparkfs.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sparkfs.yaml"
    path.write_text(text)
    return path


def test_example_config_loads_and_resolves_paths_against_its_directory(monkeypatch) -> None:
    monkeypatch.delenv("SPARKFS_HOME", raising=False)
    cfg = load_config(REPO / "conf" / "sparkfs.yaml")
    assert cfg.project == "demo"
    assert cfg.offline.root == str(REPO / ".sparkfs" / "offline")
    assert cfg.features_dir == str(REPO / "conf" / "features")
    assert cfg.registry.url == f"sqlite:///{REPO / '.sparkfs' / 'registry.db'}"


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_bad_field_names_file_field_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, "project: p\nserving:\n  port: not-a-port\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}: serving.port:" in str(err.value)
    assert "integer" in str(err.value)


def test_unknown_field_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "project: p\noffline:\n  rot: /x\n")
    with pytest.raises(ConfigError, match=r"offline\.rot: unknown field"):
        load_config(path)


def test_unset_env_var_is_an_error_naming_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SFS_TEST_UNSET", raising=False)
    path = write(tmp_path, "project: p\ndata_dir: ${SFS_TEST_UNSET}/data\n")
    with pytest.raises(ConfigError, match=r"\$\{SFS_TEST_UNSET\} is not set"):
        load_config(path)


def test_env_expansion_with_default_and_value(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "project: p\ndata_dir: ${SFS_TEST_DIR:-/default}/d  # ${NOT_EXPANDED}\n")
    monkeypatch.delenv("SFS_TEST_DIR", raising=False)
    assert load_config(path).data_dir == "/default/d"
    monkeypatch.setenv("SFS_TEST_DIR", "/set")
    assert load_config(path).data_dir == "/set/d"


def test_env_override_sets_nested_fields_and_is_validated(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "project: p\n")
    monkeypatch.setenv("SPARKFS__SERVING__PORT", "7000")
    monkeypatch.setenv("SPARKFS__ONLINE__TYPE", "redis_cluster")
    monkeypatch.setenv("SPARKFS__ONLINE__NODES", "[a:1, b:2]")
    cfg = load_config(path)
    assert cfg.serving.port == 7000
    assert isinstance(cfg.online, RedisClusterConfig) and cfg.online.nodes == ["a:1", "b:2"]
    monkeypatch.setenv("SPARKFS__SERVING__PORT", "99999")
    with pytest.raises(ConfigError, match=r"serving\.port"):
        load_config(path)


def test_cluster_config_requires_nodes(tmp_path: Path) -> None:
    path = write(tmp_path, "project: p\nonline:\n  type: redis_cluster\n")
    with pytest.raises(ConfigError, match=r"online\.redis_cluster\.nodes: Field required"):
        load_config(path)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "project: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize("sandbox", ["data/offline/sandbox", "data", "data/offline"])
def test_the_sandbox_and_production_roots_must_not_overlap(tmp_path: Path, sandbox: str) -> None:
    """Issue 21: a sandbox root inside the offline root writes into production's directory."""
    path = write(tmp_path, f"project: p\noffline: {{root: data/offline, sandbox_root: {sandbox}}}\n")
    with pytest.raises(ConfigError, match=r"offline.root .* and offline.sandbox_root .* overlap"):
        load_config(path)
