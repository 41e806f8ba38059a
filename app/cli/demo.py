"""`cairn demo`: a scripted diary remembered into a throwaway bank, then recalled with provenance."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from cairn.app.cli.context import get_app
from cairn.app.cli.output import recalled_lines, shorten
from cairn.core.clock import ManualClock, iso, parse_when
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.records import Source

# (when, text): a fortnight of one person's notes to their assistant.
DIARY: list[tuple[str, str]] = [
    ("2024-03-01T08:30", "My name is Maya and I work as a nurse at St. Clare's hospital, mostly night shifts."),
    ("2024-03-01T08:32", "I'm allergic to penicillin - it gave me hives when I was twelve."),
    ("2024-03-02T19:05", "My brother Tomas lives in Porto and his birthday is on the 14th of April."),
    ("2024-03-03T10:15", "Started learning to play the cello; my teacher is called Mrs. Okafor."),
    ("2024-03-04T21:40", "Our cat Biscuit needs his kidney medication twice a day, morning and evening."),
    ("2024-03-06T07:55", "The car's next service is due in June; the garage is Hendry's on Mill Road."),
    ("2024-03-07T12:20", "I prefer oat milk in coffee and I don't eat red meat."),
    ("2024-03-08T18:00", "Booked a trip to Kyoto with Lena for the first two weeks of October."),
    ("2024-03-09T09:10", "Dentist appointment on March 21 at 4pm with Dr. Reyes."),
    ("2024-03-10T16:45", "Finished reading 'The Remains of the Day' - loved it, want more Ishiguro."),
    ("2024-03-12T22:30", "My running goal this year is a half marathon under two hours."),
    ("2024-03-14T08:05", "The wifi password for the cabin is written on the back of the blue notebook."),
]

# A chat with a friend, logged turn by turn: small talk stays in the log, facts become memories.
CHAT: list[tuple[str, str]] = [
    ("Lena", "hey!"),
    ("Maya", "hi :)"),
    ("Lena", "How was the hospital fundraiser on Saturday?"),
    ("Maya", "Great - we raised 3,200 pounds for the new neonatal ward, and I ran the raffle."),
    ("Lena", "wow, amazing!"),
    ("Maya", "haha thanks"),
    ("Lena", "Don't forget my flight lands at Heathrow on 2 October at 7:40."),
    ("Maya", "ok"),
]

QUESTIONS = [
    "What am I allergic to?",
    "When is my brother's birthday?",
    "Who teaches me music?",
    "What does the cat need?",
    "Where am I travelling this autumn, and with whom?",
]


@click.command()
@click.option("-k", "k", default=2, show_default=True, type=click.IntRange(min=1), help="Memories per question.")
def demo(k: int) -> None:
    """Show Cairn's main job on its built-in defaults, in a throwaway home."""
    app = get_app()
    with tempfile.TemporaryDirectory(prefix="cairn-demo-") as home:
        clock = ManualClock(parse_when(DIARY[0][0]))
        with MemoryBank.open(Path(home) / "memory.db", app.settings, clock=clock,
                             models_dir=app.paths.models_dir) as bank:
            _remember_diary(bank, clock)
            _ask(bank, clock, k)
            _forget_and_restore(bank)
            _chat_and_sweep(bank, clock)
    click.echo("\nThe demo's memory bank was temporary and is gone. Your own lives in "
               f"{app.paths.database} - try `cairn remember \"...\"` and `cairn recall \"...\"`.")


def _remember_diary(bank: MemoryBank, clock: ManualClock) -> None:
    click.secho(f"Remembering a diary of {len(DIARY)} notes (embedder: {bank.embedder.id}, "
                f"dim {bank.embedder.dim})", bold=True)
    for when, text in DIARY:
        clock.set(parse_when(when))
        m = bank.remember(text, source=Source("demo", "maya-diary", (), clock.now()))
        click.echo(f"  #{m.id:<3} {iso(m.source.time)[:16]}  {shorten(text, 80)}")


def _ask(bank: MemoryBank, clock: ManualClock, k: int) -> None:
    clock.set(parse_when("2024-03-15T09:00"))
    for question in QUESTIONS:
        click.secho(f"\n> {question}", bold=True)
        click.echo(recalled_lines(bank.recall(question, k)))


def _forget_and_restore(bank: MemoryBank) -> None:
    target = bank.recall("wifi password cabin", 1, touch=False)[0].memory
    click.secho(f"\nForgetting #{target.id}, then restoring it; its history:", bold=True)
    bank.forget(target.id, reason="demo: no longer needed")
    hidden = all(h.memory.id != target.id for h in bank.recall("wifi password cabin", 3, touch=False))
    click.echo(f"  hidden from recall while forgotten: {'yes' if hidden else 'NO'}")
    bank.restore(target.id, reason="demo: wanted after all")
    for entry in bank.history(target.id):
        click.echo(f"  {iso(entry.at)}  {entry.action:<8} {entry.reason or ''}")


def _chat_and_sweep(bank: MemoryBank, clock: ManualClock) -> None:
    click.secho("\nA chat, logged turn by turn (importance = chance the turn is needed later):", bold=True)
    clock.set(parse_when("2024-03-16T11:00"))
    for speaker, text in CHAT:
        r = bank.log_turn("chat-with-lena", text, speaker=speaker)
        kept = f"memory #{r.memory.id}, importance {r.memory.importance:.2f}" if r.memory else "log only"
        click.echo(f"  {speaker:>4}: {shorten(text, 58):<60} -> {kept}")
    pinned = bank.recall("penicillin allergy", 1, touch=False)[0].memory
    bank.pin(pinned.id)
    clock.set(parse_when("2025-03-16T11:00"))
    report = bank.sweep(budget=8)
    click.secho(f"\nA year later, a sweep with a budget of 8 memories archived {report.archived} "
                f"({report.by_rule['decay']} faded, {report.by_rule['budget']} least important); "
                f"#{pinned.id} (penicillin) is pinned and stays:", bold=True)
    for m in bank.list("live"):
        why = bank.explain(m.id)
        click.echo(f"  #{m.id:<3} retention {why['retention_now']:.2f}  {shorten(m.text, 70)}")
    click.echo(f"  archived, restorable: {', '.join(f'#{i}' for i in report.ids)}  "
               "(`cairn memories why ID` explains any of them)")
