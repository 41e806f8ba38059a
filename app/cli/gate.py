"""`cairn gate ...`: the retrieval gate: check a question, fit its weights."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.app.cli.bench import run_job
from cairn.app.cli.context import FilePath, get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.core.bench import gate as gate_bench
from cairn.core.memory.gate import Gate


@click.group()
def gate() -> None:
    """Decide whether a question needs your memories (the retrieval gate)."""


@gate.command()
@click.argument("question")
@json_option
def check(question: str) -> None:
    """Would QUESTION retrieve from your memory bank? With the confidence and the reasons."""
    app = get_app()
    s = app.settings.gate
    g = Gate.load(Path(s.weights_file).expanduser() if s.weights_file else None, threshold=s.threshold)
    decision = g.decide(question, app.bank().probe())
    if app.as_json:
        emit_json(decision.to_dict())
    else:
        verb = "retrieve" if decision.retrieve else "skip retrieval"
        click.echo(f"{verb} (p = {decision.confidence:.2f}): {decision.reason}")


@gate.command("fit")
@click.option("--personal", type=FilePath(exists=True, dir_okay=False, path_type=Path), required=True,
              help="LoCoMo-format conversations (their questions must retrieve).")
@click.option("--world", type=FilePath(exists=True, dir_okay=False, path_type=Path), required=True,
              help="PopQA-format world-knowledge questions (must not retrieve).")
@click.option("--out", "out", type=FilePath(dir_okay=False, path_type=Path), required=True,
              help="Where to write the weights (point gate.weights_file at it to use them).")
@json_option
def fit_cmd(personal: Path, world: Path, out: Path) -> None:
    """Fit the gate's weights on labelled questions."""
    model = run_job("fit", gate_bench.fit_gate, personal, world, show=False)
    model.save(out)
    summary = {"out": str(out), **model.meta, "weights": dict(zip(model.features, model.weights.round(4).tolist()))}
    emit_json(summary) if get_app().as_json else click.echo(f"Wrote {out}: fitted on {', '.join(model.meta['fitted_on'])}.")
