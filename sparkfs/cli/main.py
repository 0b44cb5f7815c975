"""The ``sparkfs`` command.

Exit codes: 0 success, 1 a user error (a one-paragraph message, no traceback unless
``--debug``), 2 a usage error (bad option or argument).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.definitions_cmd import apply_cmd, describe_cmd, list_cmd, plan_cmd
from sparkfs.cli.runs_cmd import runs_cmd
from sparkfs.control_chars import escape_control
from sparkfs.errors import SparkfsError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file. Default: $SPARKFS_CONFIG, else conf/sparkfs.yaml.",
)
@click.option("--user", default=None, help="Acting user (default: $SPARKFS_USER, else the login name); unchecked unless governance.identity is api_key or database.")
@click.option("--master", default=None, help="Spark master for commands that run Spark (overrides the config).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="sparkfs")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, user: str | None, master: str | None, debug: bool) -> None:
    """sparkfs: a feature store on Apache Spark.

    Definitions live in conf/features/*.yaml. Typical flow: `sparkfs plan`, `sparkfs apply`,
    `sparkfs materialize VIEW`, `sparkfs training-set ...`, `sparkfs sync`, `sparkfs serve`.
    """
    state = CliContext(config_path=config_path, debug=debug, user_override=user, master=master)
    ctx.obj = state
    ctx.call_on_close(state.close)


for command in (plan_cmd, apply_cmd, list_cmd, describe_cmd, runs_cmd):
    cli.add_command(command)


def _register_optional() -> None:
    """Commands from subsystems; each module adds itself to the group."""
    from sparkfs.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SPARKFS_DEBUG") == "1"
    _register_optional()
    try:
        cli.main(args=args, prog_name="sparkfs", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SparkfsError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {escape_control(str(exc), keep=chr(10))}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":
    main()
