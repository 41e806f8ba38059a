"""How `cairn bench` reports read without ``--json``: recall tables and the retention summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

BASELINE_NAMES = {"recency": "keep the most recent", "random": "keep a random share", "length": "keep the longest",
                  "unigram_surprisal": "keep the rarest words (unigram surprisal)"}


Rows = list[tuple[dict[str, float], str]]


def recall_lines(ks: list[int], rows: Rows) -> None:
    """A header of cut-offs, then one line for each (figures, label): its recall at each cut-off."""
    click.echo("  " + "".join(f"{'recall@' + str(k):>11}" for k in ks))
    for figures, label in rows:
        click.echo("  " + "".join(f"{figures[f'recall@{k}']:>11.3f}" for k in ks) + f"   {label}")


def recall_table(report: dict[str, Any], ks: list[int], rows: Callable[[dict[str, Any]], Rows]) -> None:
    """:func:`recall_lines` for the (figures, label) pairs ``rows`` picks from each data set."""
    recall_lines(ks, [(figures, f"{data}: {label}") for data in ("locomo", "madial") if data in report
                      for figures, label in rows(report[data])])


def ranker_body(report: dict[str, Any], ks: list[int]) -> None:
    click.echo(f"  groups (questions): {report['groups']}; embedder {report['embedder']['id']}")
    recall_table(report, ks, lambda part: [(part["learned_held_out"], "learned, each group held out"),
                                           (part["fixed"], "fixed shares")])
    if "saved" in report:
        click.echo(f"  weights fitted on everything written to {report['saved']['path']}")


def rerank_body(report: dict[str, Any], ks: list[int], record: Path | None) -> None:
    depth, every = report["depth"], report["every"]
    click.echo(f"  questions: {report['questions']}; depth {depth}, every {every}; embedder {report['embedder']['id']}")
    recall_table(report, ks, lambda part: _rerank_rows(part, depth, report["shipped_weight"]))
    cost = report.get("ms_per_question")
    if cost:
        click.echo(f"  the model's time a question: {cost['p50'] / 1000:.1f} s (p50), {cost['p95'] / 1000:.1f} s (p95)")
    if record is not None:
        click.echo(f"  each question's candidates and scores written to {record}")


def _rerank_rows(part: dict[str, Any], depth: int, shipped: float) -> Rows:
    rows = [(part["ranker_held_out"], "the ranker alone, held out"),
            (part["reranked_held_out"], f"re-ranked {depth} deep, weight chosen on the other groups"),
            (part["reranked_shipped_weight"], f"re-ranked {depth} deep, weight {shipped:g} (assistant.rerank_weight)")]
    for d, figures in part["by_depth"].items():
        weights = ", ".join(f"{w:g}" for w in figures["weights_chosen"])
        rows.append((figures, f"re-ranked {d} deep, weight chosen on the other groups ({weights})"))
    return rows


def retention_body(report: dict[str, Any]) -> None:
    """Evidence kept by Cairn and each baseline, what the sweeps leave for recall, and per conversation."""
    weights = "fitted without the conversation scored" if report["cross_validated"] else "shipped"
    click.echo(f"  {report['turns']:,} turns, {report['evidence_turns']:,} of them evidence; importance weights "
               f"{weights}; embedder {report['embedder']['id']}")
    click.echo(f"  {'evidence kept':>14}")
    click.echo(f"  {report['evidence_kept']:>14.3f}   Cairn ({report.get('background', 'wordfreq-en')})")
    for name, kept in report["baselines"].items():
        click.echo(f"  {kept:>14.3f}   {BASELINE_NAMES.get(name, name)}")
    _after_sweeps("  Cairn:", report)
    if "word_frequency" in report:
        click.echo(f"  {report['word_frequency']['evidence_kept']:>14.3f}   Cairn with word frequencies instead")
        _after_sweeps("  with word frequencies:", report["word_frequency"])
    for name, conv in report["per_conversation"].items():
        click.echo(f"  {name}: {conv['evidence_kept']:.3f} of {conv['evidence_turns']} evidence turns kept; "
                   f"{conv['live_memories']} live, {sum(conv['archived'].values())} archived")
    for name, kept in report.get("ablation", {}).items():
        click.echo(f"  ranking by importance alone, {name.replace('_', ' ')}: {kept:.3f}")
    click.echo(f"  fed and swept in {report['seconds']:.0f} s")


def _after_sweeps(label: str, figures: dict[str, Any]) -> None:
    answers = figures.get("answer_words@10_after_sweep")
    click.echo(f"{label} text kept {figures['text_kept']:.3f}; after the sweeps, recall@10 "
               f"{figures['recall@10_after_sweep']:.3f} and the answers' words in the 10 recalled "
               + ("n/a" if answers is None else f"{answers:.3f}"))


LOCOMO_CATEGORIES = {"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop"}
BASELINE_LABELS = {"bm25": "BM25", "dense": "dense (cosine over every memory)", "rrf": "BM25 + dense, reciprocal-rank fusion"}


def retrieval_body(report: dict[str, Any], ks: list[int]) -> None:
    """`bench locomo` and `bench madial`: Cairn's recall beside its baselines, by category, and its cost."""
    if "questions" in report:
        asked = f"{_count(report['questions'], 'question')} in {_count(report['conversations'], 'conversation')}"
    else:
        asked = f"{_count(report['dialogues'], 'dialogue')} over {_count(report['memories'], 'memory', 'memories')}"
    click.echo(f"  {asked}; embedder {report['embedder']['id']}")
    rows: Rows = [(report["macro"], f"Cairn ({report['fusion']} fusion)" if "fusion" in report else "Cairn")]
    if "fixed_fusion" in report:
        rows.append((report["fixed_fusion"]["macro"], "Cairn, fixed fusion"))
    rows += [(part["macro"], BASELINE_LABELS.get(name, name)) for name, part in report["baselines"].items()]
    rows += [(figures, f"Cairn {name.replace('_', ' ')}") for name, figures in report.get("ablation", {}).items()]
    recall_lines(ks, rows)
    top = max(ks)
    if "per_category" in report:
        parts = [f"{LOCOMO_CATEGORIES.get(c, c)} {v[f'recall@{top}']:.3f} ({v['questions']})"
                 for c, v in sorted(report["per_category"].items())]
        click.echo(f"  Cairn's recall@{top} by category (questions): " + ", ".join(parts))
    cost = f"  recall took {report['latency_ms']['p50']:.1f} ms (p50), {report['latency_ms']['p95']:.1f} ms (p95)"
    if "ingest" in report:
        cost += f"; remembering took {report['ingest']['ms_per_turn']:.1f} ms a turn"
    click.echo(cost)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
