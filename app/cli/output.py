"""Turning results into text for people (default) or JSON for scripts (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cairn.core import iso
from cairn.core.memory import HistoryEntry, Memory, Recalled


@contextmanager
def download_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on stderr for a download; yields the callback the downloader calls."""
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        def progress(done: int, total: int | None) -> None:
            if total:
                bar.length = total
                bar.update(done - bar.pos)

        yield progress


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))


def memory_line(m: Memory) -> str:
    flags = ("*" if m.pinned else " ") + ("x" if m.forgotten else " ")
    return f"#{m.id:<5} {flags} [{m.kind}] {shorten(m.text)}"


def shorten(text: str, width: int = 100) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def memory_detail(m: Memory) -> str:
    rows = [
        ("id", f"{m.id}  (uid {m.uid})"),
        ("kind", m.kind),
        ("source", m.source.describe()),
        ("created", iso(m.created_at)),
        ("updated", iso(m.updated_at)),
        ("pinned", "yes" if m.pinned else "no"),
        ("state", state(m)),
        ("importance", f"{m.importance:.2f}  (`cairn memories why {m.id}` explains it)"),
        ("strength", f"{m.strength:.1f} days"),
        ("recalled", f"{m.recall_count} times" + (f", last {iso(m.last_recalled_at)}" if m.last_recalled_at else "")),
    ]
    head = "\n".join(f"{k:>10}: {v}" for k, v in rows)
    return f"{head}\n\n{m.text}"


def state(m: Memory) -> str:
    if m.forgotten_by == "sweep":
        text = f"archived by a sweep at {iso(m.forgotten_at)}"
    elif m.forgotten_by == "merged":
        text = f"merged into #{m.replaced_by} at {iso(m.forgotten_at)}"
    else:
        text = f"forgotten at {iso(m.forgotten_at)}" if m.forgotten else "live"
    return text + (f"; superseded since {iso(m.valid_to)}" if m.valid_to is not None else "")


def recalled_lines(hits: list[Recalled], why: bool = False) -> str:
    """Ranked hits with their provenance; with ``why``, what ranked each one there."""
    if not hits:
        return "Nothing in memory matches that."
    out = []
    for rank, hit in enumerate(hits, start=1):
        m = hit.memory
        out.append(f"{rank:>2}. #{m.id} (score {hit.score:.3g}) {shorten(m.text)}")
        out.append(f"      from {m.source.describe()}; remembered {iso(m.created_at)}")
        if why and hit.why:
            out.append("      why: " + ", ".join(f"{words} {push:+.2f}" for words, push in hit.why))
    return "\n".join(out)


def history_lines(entries: list[HistoryEntry]) -> str:
    out = []
    for e in entries:
        line = f"{iso(e.at)}  {e.action:<8}"
        if e.old is not None or e.new is not None:
            line += f" {_compact(e.old)} -> {_compact(e.new)}"
        if e.reason:
            line += f"  ({e.reason})"
        out.append(line)
    return "\n".join(out)


def _compact(value: dict[str, Any] | None) -> str:
    if value is None:
        return "-"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
