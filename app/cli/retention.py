"""Retention commands: `cairn memories why|plot`, `cairn sweep`, `cairn retention fit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cairn.app.cli.bench import run_job
from cairn.app.cli.context import MEMORY_ID, OUTPUT_FILE, FilePath, get_app, json_option
from cairn.app.cli.memories import memories
from cairn.app.cli.output import emit_json, history_lines, memory_line, shorten
from cairn.core import CairnError
from cairn.core.bench import retention as retention_bench
from cairn.core.memory import HistoryEntry, MemoryId

PLOT_LIMIT = 200  # curves drawn by `plot --all` (the most important live memories)


@memories.command()
@click.argument("memory_id", type=MEMORY_ID)
@click.option("--days", type=click.IntRange(min=1, max=3650), default=90, show_default=True,
              help="How far ahead to show the curve.")
@json_option
def why(memory_id: MemoryId, days: int) -> None:
    """Why a memory is kept: importance and its parts, strength, retention now and ahead, history."""
    app = get_app()
    bank = app.bank()
    report = bank.explain(memory_id, days=days)
    if app.as_json:
        emit_json(report)
        return
    click.echo(_why_text(report, app.settings.retention.archive_below, bank.get(memory_id)))


def _why_text(r: dict[str, Any], threshold: float, memory: Any) -> str:
    imp = r["importance"]
    lines = [memory_line(memory), ""]
    lines.append(f"importance  {imp['score']:.3f}  (chance it is needed later, from its information content)")
    lines.append(f"  {'part':<18} {'value':>8}   push on the odds, against an average memory")
    for name, push in sorted(imp["contributions"].items(), key=lambda kv: -abs(kv[1])):
        lines.append(f"  {name:<18} {imp['parts'].get(name, 0.0):8.3f}   pushes {push:+.3f}")
    if not imp["contributions"]:
        lines.append("  (given, not scored)")
    until = r["days_until_archive"]
    lines += ["", f"strength    {r['strength_days']:.1f} days",
              f"retention   {r['retention_now']:.3f} now, {r['days_since_recall']:.1f} days after its last recall",
              "            pinned: never decays" if memory.pinned else
              f"            archived by a sweep in {until:.0f} days unless recalled (below {threshold:g})",
              f"recalls     {r['recalls']}", "", "retention ahead:"]
    points = r["curve"]
    step = max(1, len(points) // 10)
    lines += [f"  day {d:>4}  {'#' * round(v * 40):<40} {v:.3f}" for d, v in points[::step]]
    lines += ["", "history:", history_lines([HistoryEntry(**h) for h in r["history"]])]
    return "\n".join(lines)


@memories.command()
@click.argument("memory_ids", type=MEMORY_ID, nargs=-1)
@click.option("--all", "all_", is_flag=True, help=f"Every live memory (the {PLOT_LIMIT} most important).")
@click.option("--days", type=click.IntRange(min=1, max=3650), default=90, show_default=True)
@click.option("--out", "out", type=OUTPUT_FILE, default=Path("forgetting.png"),
              show_default=True, help="The PNG file to write.")
@json_option
def plot(memory_ids: tuple[MemoryId, ...], all_: bool, days: int, out: Path) -> None:
    """Draw forgetting curves as a PNG (needs matplotlib: pip install 'cairn[plot]')."""
    app = get_app()
    bank = app.bank()
    if all_:
        live = sorted(bank.list("live"), key=lambda m: -m.importance)[:PLOT_LIMIT]
        memory_ids = tuple(m.id for m in live)
    if not memory_ids:
        raise click.UsageError("Name one or more memory ids, or use --all.")
    curves = [(bank.get(i), bank.explain(i, days=days)["curve"]) for i in memory_ids]
    _draw(curves, app.settings.retention.archive_below, out)
    click.echo(str(out)) if not app.as_json else emit_json({"png": str(out), "memories": list(memory_ids)})


def _draw(curves: list[tuple[Any, list[tuple[int, float]]]], threshold: float, out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise CairnError("Drawing curves needs matplotlib, which is not installed.",
                         hint="pip install 'cairn[plot]' (or `cairn memories why ID` shows the curve as text).") from exc
    fig, ax = plt.subplots(figsize=(9, 5))
    for memory, points in curves:
        label = f"#{memory.id} {shorten(memory.text, 40)}" if len(curves) <= 12 else None
        ax.plot([d for d, _ in points], [v for _, v in points], label=label, linewidth=1.2)
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=0.8, label=f"archive below {threshold:g}")
    ax.set(xlabel="days from now (without recall)", ylabel="retention", ylim=(0, 1.02),
           title=f"Forgetting curves ({len(curves)} memories)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    try:
        fig.savefig(out, format="png", dpi=110)
    except OSError as exc:
        raise CairnError(f"Cannot write {out}: {exc.strerror or exc}.") from exc
    finally:
        plt.close(fig)


@click.command()
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="Keep at most this many live memories (default: retention.max_memories; 0 = none).")
@json_option
def sweep(budget: int | None) -> None:
    """Archive faded memories and enforce the storage budget (restorable with `memories restore`)."""
    app = get_app()
    report = app.bank().sweep(budget=budget)
    if app.as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"Archived {report.archived} ({report.by_rule['decay']} faded, {report.by_rule['budget']} over budget); "
               f"{report.live_after} live memories remain.")
    if report.pinned_over_budget:
        click.echo(f"{report.pinned_over_budget} pinned memories are beyond the budget: pins are never archived.")


@click.group()
def retention() -> None:
    """Importance weights behind what Cairn keeps."""


@retention.command("fit")
@click.argument("path", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=OUTPUT_FILE, required=True,
              help="Where to write the weights (point retention.weights_file at it to use them).")
@click.option("--exclude", multiple=True, help="Leave out this conversation id (repeatable).")
@json_option
def fit_cmd(path: Path, out: Path, exclude: tuple[str, ...]) -> None:
    """Fit importance weights on LoCoMo-format conversations (label: a later question cites the turn)."""
    model = run_job("fit", retention_bench.fit_weights, path, show=False, exclude=exclude)
    model.save(out)
    summary = {"out": str(out), **model.meta, "weights": dict(zip(model.features, model.weights.round(4).tolist(), strict=False))}
    emit_json(summary) if get_app().as_json else click.echo(
        f"Wrote {out}: fitted on {model.meta['examples']} memories from {', '.join(model.meta['fitted_on'])}.")
