"""``sparkfs demo``: the demo data set and the end-to-end pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    from sparkfs.demo.generate import generate_demo_data
    from sparkfs.pipeline.outputs import protected_locations

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
@click.option("--json", "as_json", is_flag=True, help="Print the whole summary as JSON instead.")
@_OVERWRITE
@click.pass_obj
def run_cmd(state: CliContext, rows: int, seed: int, offline_only: bool, as_json: bool,
            overwrite: bool) -> None:
    """Run the whole pipeline on the demo: generate, apply, materialize, training set, sync, lookup.

    Progress goes to stderr; stdout gets a short summary of what was built, where it is and what
    to run next (the whole summary as JSON with --json).
    """
    from sparkfs.demo.pipeline import run_demo_pipeline

    summary = run_demo_pipeline(state.spark, state.workspace(), rows=rows, seed=seed,
                                say=lambda line: click.echo(line, err=True), online=not offline_only,
                                overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return
    for line in summary_lines(summary, state):
        click.echo(line)


def summary_lines(summary: dict[str, Any], state: CliContext) -> list[str]:
    """What the demo built, where it lives and the next commands, for a person to read."""
    config = state.config
    demo = summary["demo"]
    lines = [f"sparkfs demo: done in {summary['seconds']:.0f} s "
             f"({demo['transactions']:,} transactions of {demo['users']:,} users at "
             f"{demo['merchants']:,} merchants)", "",
             f"Offline store (Delta tables under {config.offline.root}):"]
    for name, run in sorted(summary["materialized"].items()):
        lines.append(f"  {name:<20} {run['rows_written'] or 0:>10,} rows written, "
                     f"table version {run['table_version']}")
    ts = summary["training_set"]
    lines += ["", f"Training set fraud_model: {ts['rows']:,} rows -> {ts['out']}",
              f"  rebuild it identically: sparkfs training-set reproduce {ts['id']} --out DIR"]
    online = summary.get("online")
    if online:
        lines += ["", "Online store (Redis), and online = offline now (sampled entities):"]
        for name, synced in sorted(online["synced"].items()):
            check = online["consistency"].get(name, {})
            lines.append(f"  {name:<20} {synced['entities_written']:>8,} entities ({synced['mode']}), "
                         f"{check.get('mismatched', '?')} of {check.get('checked', '?')} differ")
        lines += ["", "Lookup now (user_txn_aggs):"]
        for row in online["lookup"]:
            value = row.get("user_txn_aggs", {})
            values = value.get("values") or {}
            counts = ", ".join(f"{w} {values.get(f'txn_count_{w}')}" for w in ("1h", "1d", "7d", "30d"))
            lines.append(f"  user {row['user_id']}: {value.get('status')}, txn_count {counts}"
                         f" (as of {value.get('event_time')})")
    port = config.serving.port
    lines += ["", "Next:",
              "  sparkfs serve                      # HTTP lookups on "
              f"http://{config.serving.host}:{port} (needs the Redis the sync wrote to:",
              "                                     # run the quickstart with SPARKFS_REDIS_URL set)",
              "  curl -s -H 'content-type: application/json' -d '{\"features\": "
              "[\"user_txn_aggs:txn_count_1d\"], \"entities\": {\"user_id\": [1]}}' "
              f"http://{config.serving.host}:{port}/v1/features:lookup",
              "  sparkfs consistency                # online = offline, checked at one instant",
              "  sparkfs runs                       # what ran, with rows and versions"]
    return lines
