"""Project configuration (``conf/sparkfs.yaml``).

The file is YAML with ``${VAR}`` / ``${VAR:-default}`` expansion. Any field can be overridden
from the environment with ``SPARKFS__SECTION__FIELD=value`` (double underscores separate the
path; values are parsed as YAML scalars). Relative paths (``data_dir``, ``offline.root``,
``features_dir``, a relative SQLite file) are resolved against the directory of the config
file, so a job behaves the same from any working directory.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from sparkfs.durations import Duration
from sparkfs.errors import ConfigError

__all__ = [
    "ApiKeyConfig",
    "CacheConfig",
    "CatalogConfig",
    "FreshnessSla",
    "GovernanceConfig",
    "LineageConfig",
    "OfflineConfig",
    "OnlineConfig",
    "OpenLineageConfig",
    "RedisClusterConfig",
    "RedisConfig",
    "RegistryConfig",
    "ServingConfig",
    "SparkConfig",
    "SparkfsConfig",
    "default_config_path",
    "format_validation_error",
    "load_config",
]

ENV_PREFIX = "SPARKFS__"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SparkConfig(_Model):
    master: str = "local[*]"
    app_name: str = "sparkfs"
    conf: dict[str, str] = Field(default_factory=dict)


class OfflineConfig(_Model):
    root: str = "../.sparkfs/offline"
    sandbox_root: str = "../.sparkfs/sandbox"


class RegistryConfig(_Model):
    url: str = "sqlite:///../.sparkfs/registry.db"


class _RedisCommon(_Model):
    namespace: str = "sfs"
    socket_timeout_s: float = Field(default=2.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    retry_backoff_s: float = Field(default=0.2, ge=0)
    batch_size: int = Field(default=2000, gt=0)
    #: how long a sync's lease on a view lasts without a heartbeat (a dead sync's lease ends)
    sync_lease_s: float = Field(default=30.0, ge=1)


class RedisConfig(_RedisCommon):
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"


class RedisClusterConfig(_RedisCommon):
    type: Literal["redis_cluster"]
    nodes: list[str] = Field(min_length=1, description="host:port of one or more cluster nodes")


OnlineConfig = Annotated[RedisConfig | RedisClusterConfig, Field(discriminator="type")]


class ApiKeyConfig(_Model):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex sha256 of the key")
    scopes: list[str] = Field(default_factory=lambda: ["*"])


class CacheConfig(_Model):
    enabled: bool = False
    max_entries: int = Field(default=10_000, gt=0)
    ttl_s: float = Field(default=1.0, gt=0)


class ServingConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=6566, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    auth_enabled: bool = False
    api_keys: list[ApiKeyConfig] = Field(default_factory=list)
    max_entities: int = Field(default=1000, gt=0)
    max_request_bytes: int = Field(default=1_048_576, gt=0, description="larger bodies get 413")
    redis_timeout_s: float = Field(default=0.5, gt=0)
    registry_refresh_s: float = Field(default=5.0, gt=0)
    cache: CacheConfig = Field(default_factory=CacheConfig)


class GovernanceConfig(_Model):
    enabled: bool = False
    identity: Literal["trusted", "api_key", "database"] = Field(
        default="trusted", description="how the acting user is established (docs/governance.md)")
    approvers: list[str] = Field(default_factory=list)
    required_approvals: int = Field(default=1, ge=1)
    approvers_by_tag: dict[str, list[str]] = Field(default_factory=dict)


class FreshnessSla(_Model):
    offline_max_age: Duration = timedelta(days=1)
    online_max_age: Duration = timedelta(days=1)


class CatalogConfig(_Model):
    """The catalog pages (``/catalog``) and ``sparkfs report`` (docs/catalog.md)."""

    page_size: int = Field(default=50, ge=1, le=500, description="rows per catalog search page")
    #: a view's last successful materialization may be at most this old (freshness SLA)
    offline_max_age: Duration = timedelta(days=1)
    #: an online view's last sync may be at most this old, and trail the offline table by at most
    #: this much (freshness SLA)
    online_max_age: Duration = timedelta(days=1)
    #: per feature view overrides: name -> {offline_max_age: ..., online_max_age: ...}
    sla_overrides: dict[str, FreshnessSla] = Field(default_factory=dict)

    def sla(self, view: str) -> FreshnessSla:
        """The freshness SLA of one feature view (its override, else the defaults)."""
        return self.sla_overrides.get(view) or FreshnessSla(
            offline_max_age=self.offline_max_age, online_max_age=self.online_max_age)


class ConsoleTransportConfig(_Model):
    """Events logged by the client (logger ``openlineage.client.transport.console``, INFO)."""

    type: Literal["console"]


class FileTransportConfig(_Model):
    """One JSON event per line appended to ``path`` (relative to the config file)."""

    type: Literal["file"]
    path: str
    append: bool = True


class HttpTransportConfig(_Model):
    """POST to an OpenLineage endpoint (e.g. Marquez at ``http://host:5000``)."""

    type: Literal["http"]
    url: str
    endpoint: str = "api/v1/lineage"
    timeout_s: float = Field(default=5.0, gt=0)
    retries: int = Field(default=1, ge=0, description="retries of a failed POST (0: none)")
    api_key: str | None = Field(default=None, description="sent as a Bearer token; use ${VAR}")


OpenLineageTransportConfig = Annotated[
    ConsoleTransportConfig | FileTransportConfig | HttpTransportConfig, Field(discriminator="type")]


class OpenLineageConfig(_Model):
    namespace: str = Field(default="sparkfs", min_length=1, description="the OpenLineage job namespace")
    transport: OpenLineageTransportConfig


class LineageConfig(_Model):
    """Lineage is always recorded in the registry; ``openlineage`` (off by default) exports it."""

    openlineage: OpenLineageConfig | None = None


class SparkfsConfig(_Model):
    project: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    data_dir: str = "../.sparkfs/data"
    features_dir: str = "features"
    offline: OfflineConfig = Field(default_factory=OfflineConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    online: OnlineConfig = Field(default_factory=RedisConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    lineage: LineageConfig = Field(default_factory=LineageConfig)
    config_path: str = Field(default="", description="set by load_config; not read from the file")

    @model_validator(mode="after")
    def _identity_has_a_source(self) -> SparkfsConfig:
        if self.governance.identity == "database" and self.registry.url.startswith("sqlite"):
            raise ValueError(
                "governance.identity is database, but registry.url is a SQLite file, which has no "
                "authenticated user: use a PostgreSQL registry (postgresql+psycopg://USER@HOST/DB) "
                "or governance.identity: trusted or api_key")
        return self


def default_config_path() -> Path:
    """``$SPARKFS_CONFIG`` if set, else ``conf/sparkfs.yaml`` under the working directory."""
    return Path(os.environ.get("SPARKFS_CONFIG", "conf/sparkfs.yaml"))


def format_validation_error(source: str, err: PydanticValidationError) -> list[str]:
    """One ``source: dotted.field: message`` line per pydantic error."""
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        lines.append(f"{source}: {loc}: {msg}")
    return lines


def expand_env(text: str, source: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}``; an unset ``${VAR}`` is an error."""

    def _sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is not None:
            return value
        if default is not None:
            return default
        raise ConfigError(
            f"{source}: environment variable ${{{name}}} is not set; export it or write "
            f"${{{name}:-default}} to give a default"
        )

    return _ENV_REF.sub(_sub, text)


def expand_env_tree(value: object, source: str) -> object:
    """Expand ``${VAR}`` in every string of parsed YAML (comments are never expanded)."""
    if isinstance(value, str):
        return expand_env(value, source)
    if isinstance(value, list):
        return [expand_env_tree(v, source) for v in value]
    if isinstance(value, dict):
        return {k: expand_env_tree(v, source) for k, v in value.items()}
    return value


def _apply_env_overrides(data: dict[str, object], source: str) -> dict[str, object]:
    for key, raw in sorted(os.environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            raise ConfigError(f"{key}: empty override path; use SPARKFS__SECTION__FIELD=value")
        node: dict[str, object] = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{key}: {part} is not a section of {source}")
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else ""
    return data


def _resolve(base: Path, value: str) -> str:
    if "://" in value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_registry_url(base: Path, url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return prefix + _resolve(base, url[len(prefix) :])
    return url


def _separate_roots(source: str, root: str, sandbox: str) -> None:
    """The sandbox never writes into production tables, nor production into the sandbox."""
    a, b = root.rstrip("/") + "/", sandbox.rstrip("/") + "/"
    if a.startswith(b) or b.startswith(a):
        raise ConfigError(f"{source}: offline.root ({root}) and offline.sandbox_root ({sandbox}) "
                          "overlap; give the sandbox a directory of its own, outside the offline root")


def load_config(path: str | Path | None = None) -> SparkfsConfig:
    """Read, expand, override, validate and resolve a config file.

    Raises:
        ConfigError: naming the file, the field and what is expected.
    """
    cfg_path = Path(path) if path is not None else default_config_path()
    source = str(cfg_path)
    if not cfg_path.is_file():
        raise ConfigError(
            f"{source}: config file not found; pass --config PATH or set SPARKFS_CONFIG "
            "(a template is conf/sparkfs.yaml in the sparkfs repository)"
        )
    try:
        raw = expand_env_tree(yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}, source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: byte {exc.start} is not UTF-8 "
                          f"({exc.object[exc.start:exc.start + 1]!r}); save the file as UTF-8") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    raw = _apply_env_overrides(raw, source)
    raw.pop("config_path", None)
    try:
        cfg = SparkfsConfig.model_validate(raw)
    except PydanticValidationError as exc:
        raise ConfigError("\n".join(format_validation_error(source, exc))) from exc
    base = cfg_path.resolve().parent
    _separate_roots(source, _resolve(base, cfg.offline.root), _resolve(base, cfg.offline.sandbox_root))
    return cfg.model_copy(
        update={
            "config_path": str(cfg_path.resolve()),
            "data_dir": _resolve(base, cfg.data_dir),
            "features_dir": _resolve(base, cfg.features_dir),
            "offline": cfg.offline.model_copy(
                update={
                    "root": _resolve(base, cfg.offline.root),
                    "sandbox_root": _resolve(base, cfg.offline.sandbox_root),
                }
            ),
            "registry": RegistryConfig(url=_resolve_registry_url(base, cfg.registry.url)),
            "lineage": _resolve_lineage(base, cfg.lineage),
        }
    )


def _resolve_lineage(base: Path, lineage: LineageConfig) -> LineageConfig:
    """A file transport's relative path resolves against the config file's directory."""
    ol = lineage.openlineage
    if ol is None or not isinstance(ol.transport, FileTransportConfig):
        return lineage
    transport = ol.transport.model_copy(update={"path": _resolve(base, ol.transport.path)})
    return lineage.model_copy(update={"openlineage": ol.model_copy(update={"transport": transport})})
