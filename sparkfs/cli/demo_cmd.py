"""``sparkfs demo``: the demo data set and the end-to-end pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sparkfs.cli.context import CliContext

__all__ = ["demo_group"]

_OVERWRITE = click.option("--overwrite", is_flag=True,
                          help="Replace what the demo directory holds even if it is not an earlier demo.")


@click.group("demo")
def demo_group() -> None:
    """Demo data (users, merchants, card transactions, fraud labels) and the end-to-end run."""


@demo_group.command("generate")
@click.option("--rows", default=100_000, show_default=True, help="Distinct transactions (10k to 10M).")
@click.option("--seed", default=42, show_default=True, help="Same seed, same rows.")
@click.option("--out", default=None, help="Output directory (default: <data_dir>/demo).")
@_OVERWRITE
@click.pass_obj
def generate_cmd(state: CliContext, rows: int, seed: int, out: str | None, overwrite: bool) -> None:
    """Write the deterministic demo tables as Delta (computed on the executors).

    --out must be new or hold an earlier demo; --overwrite replaces anything else, but never
    the offline or sandbox root, the registry, the config file or the feature directory.
    """
    from sparkfs.demo import generate_demo_data
    from sparkfs.outputs import protected_locations

    target = out or str(Path(state.config.data_dir) / "demo")
    click.echo(f"generating {rows} transactions into {target} ...", err=True)
    summary = generate_demo_data(state.spark, target, rows=rows, seed=seed, overwrite=overwrite,
                                 protected=protected_locations(state.config, sources=False))
    click.echo(f"users {summary.users}, merchants {summary.merchants}, transactions {summary.transactions_rows}, "
               f"fraud labels {summary.fraud_labels_rows} -> {summary.out_dir}")


@demo_group.command("run")
@click.option("--rows", default=100_000, show_default=True, help="Distinct transactions to generate.")
@click.option("--seed", default=42, show_default=True)
@click.option("--offline-only", is_flag=True, help="Skip the online sync and lookup (no Redis needed).")
@_OVERWRITE
@click.pass_obj
def run_cmd(state: CliContext, rows: int, seed: int, offline_only: bool, overwrite: bool) -> None:
    """Run the whole pipeline on the demo: generate, apply, materialize, training set, sync, lookup."""
    from sparkfs.demo_pipeline import run_demo_pipeline

    summary = run_demo_pipeline(state.spark, state.workspace(), rows=rows, seed=seed,
                                say=lambda line: click.echo(line, err=True), online=not offline_only,
                                overwrite=overwrite)
    click.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
