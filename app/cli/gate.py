"""`cairn gate ...`: the retrieval gate: check a question, fit its weights."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.app.cli.bench import check_sources, gate_sources, run_job
from cairn.app.cli.context import OUTPUT_FILE, get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.app.remote import RemoteBank
from cairn.core import expand
from cairn.core.bench import gate as gate_bench
from cairn.core.memory import Costs, Gate


@click.group()
def gate() -> None:
    """Decide whether a question needs your memories (the retrieval gate)."""


@gate.command()
@click.argument("question")
@json_option
def check(question: str) -> None:
    """Would QUESTION retrieve from your memory bank? With the confidence and the reasons."""
    app = get_app()
    bank = app.bank()
    if isinstance(bank, RemoteBank):
        decision = bank.gate(question)
    else:
        s = app.settings.gate
        g = Gate.load(expand(s.weights_file) if s.weights_file else None, threshold=s.threshold)
        decision = g.decide(question, bank.probe()).to_dict()
    if app.as_json:
        emit_json(decision)
    else:
        verb = "retrieve" if decision["retrieve"] else "skip retrieval"
        click.echo(f"{verb} (p = {decision['confidence']:.2f}): {decision['reason']}")


@gate.command("fit")
@gate_sources
@click.option("--out", "out", type=OUTPUT_FILE, required=True,
              help="Where to write the weights (point gate.weights_file at it to use them).")
@click.option("--wasted-s", type=click.FloatRange(min=0.001), default=Costs.wasted_s, show_default=True,
              help="Seconds a needless retrieval costs (recall and prompt tokens).")
@click.option("--missed-s", type=click.FloatRange(min=0.001), default=Costs.missed_s, show_default=True,
              help="Seconds a skipped one costs (a wrong answer and the turn asked again).")
@json_option
def fit_cmd(personal: Path | None, world: Path | None, persona_file: Path | None, out: Path, wasted_s: float,
            missed_s: float) -> None:
    """Fit the gate's weights and its threshold on labelled questions (personas, LoCoMo, PopQA)."""
    check_sources(personal, world)
    fitted = run_job("fit", gate_bench.fit_gate, personal, world, persona_file, show=False,
                     costs=Costs(wasted_s, missed_s))
    fitted.model.save(out)
    meta = {k: v for k, v in fitted.model.meta.items() if k != "form"}
    summary = {"out": str(out), **meta, "weights": dict(zip(fitted.model.features,
                                                            fitted.model.weights.round(4).tolist(), strict=False))}
    if get_app().as_json:
        emit_json(summary)
    else:
        click.echo(f"Wrote {out}: fitted on {', '.join(meta['fitted_on'])}; threshold {meta['threshold']:.2f}.")
