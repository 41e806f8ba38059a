"""`cairn demo`: a two-session conversation with the assistant on a throwaway bank, then forgetting."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import click

from cairn.app.cli.chat import show
from cairn.app.cli.context import get_app
from cairn.app.cli.output import shorten
from cairn.core import Assistant, ManualClock, iso, parse_when
from cairn.core import assistant as assistant_mod
from cairn.core.memory import MemoryBank

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

# Session 2, a week later: questions answered from memory, a general one, and "why?".
QUESTIONS = [
    "What am I allergic to?",
    "When is my brother's birthday?",
    "Who teaches me the cello?",
    "Why do you know that?",
    "Who am I going to Kyoto with?",
    "What is the capital of Japan?",
]


@click.command()
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(min=1, max=20),
              help="Memories recalled per question.")
def demo(k: int) -> None:
    """Show Cairn's main job on its built-in defaults, in a throwaway home: two sessions of a
    conversation with the assistant, then forgetting and a sweep."""
    app = get_app()
    settings = replace(app.settings, assistant=replace(app.settings.assistant, k=k, user="Maya"))
    with tempfile.TemporaryDirectory(prefix="cairn-demo-") as home:
        clock = ManualClock(parse_when(DIARY[0][0]))
        with MemoryBank.open(Path(home) / "memory.db", settings, clock=clock,
                             models_dir=app.paths.models_dir) as bank:
            with assistant_mod.open(settings, app.paths, bank=bank) as assistant:
                _session_one(assistant, clock)
                _session_two(assistant, clock)
            _forget_and_restore(bank)
            _chat_and_sweep(bank, clock)
    click.echo("\nThe demo's memory bank was temporary and is gone. Your own lives in "
               f"{app.paths.database} - try `cairn chat`, `cairn remember \"...\"` and `cairn ask \"...\"`.")


def _session_one(assistant: Assistant, clock: ManualClock) -> None:
    bank = assistant.bank
    model = assistant.model_name or f"none: memory-only mode ({assistant.no_model_reason})"
    click.secho(f"Session 1: Maya tells Cairn about her life (embedder: {bank.embedder.id}; model: {model})",
                bold=True)
    for when, text in DIARY:
        clock.set(parse_when(when))
        answer = assistant.ask(text)
        click.echo(f"  {iso(clock.now())[:16]}  Maya: {shorten(text, 70)}")
        click.secho(f"{'':19}Cairn: {answer.text}", dim=True)


def _session_two(assistant: Assistant, clock: ManualClock) -> None:
    clock.set(parse_when("2024-03-15T09:00"))
    assistant.new_conversation()
    click.secho("\nSession 2, the next day: a new conversation; the chat history is gone, the memories are not.",
                bold=True)
    for question in QUESTIONS:
        click.secho(f"\n> {question}", bold=True)
        answer = assistant.ask(question, on_text=lambda piece: click.echo(piece, nl=False))
        click.echo()
        show(answer, streamed=True)


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
