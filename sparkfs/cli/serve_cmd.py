"""``sparkfs serve``: run the online feature server (FastAPI on uvicorn)."""

from __future__ import annotations

import os

import click

from sparkfs.cli.context import CliContext

__all__ = ["serve_cmd"]


@click.command("serve")
@click.option("--host", default=None, help="Bind address (default: serving.host).")
@click.option("--port", type=int, default=None, help="Port (default: serving.port, 6566).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: serving.workers).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_obj
def serve_cmd(state: CliContext, host: str | None, port: int | None, workers: int | None,
              log_level: str) -> None:
    """Serve online lookups over HTTP (OpenAPI docs at /docs).

    Each worker builds its own app from the config (uvicorn factory mode), so --workers N
    runs N independent processes sharing the port.
    """
    import uvicorn

    serving = state.config.serving  # validates the config before forking workers
    os.environ["SPARKFS_CONFIG"] = state.config.config_path
    uvicorn.run("sparkfs.serving.app:app_from_env", factory=True,
                host=host or serving.host, port=port or serving.port,
                workers=workers or serving.workers, log_level=log_level,
                access_log=False, timeout_graceful_shutdown=5)
