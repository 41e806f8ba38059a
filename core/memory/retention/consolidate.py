"""Consolidation: near-duplicates merge, changed statements supersede older ones.

Decided when a memory arrives, against the recent memories of the same source (or the most
recent ones overall for memories without a source):

* **merge**: cosine >= ``duplicate_similarity``, the same speaker, and dates no more than
  ``MERGE_WINDOW`` apart (the same words a year later are a new event, not a copy). The older memory stays and
  gains the newer one's turns (provenance of both), the higher importance and strength; the
  newer row is kept, hidden, pointing at the survivor (restorable, nothing lost).
* **supersede**: cosine >= ``supersede_similarity``, the same speaker, and the same statement
  with a different value ("my favourite colour is blue" -> "... is green", "I like sushi" ->
  "I don't like sushi"). The older memory gets ``valid_to`` and the newer ``valid_from``; both
  stay recallable, so "what did I like before?" still has an answer.

Without an LLM the "same statement, different value" test is lexical (:func:`changed_value`).
With one, a :class:`Judge` decides instead, and a :class:`Summariser` can turn a session into
atomic facts linked to their source turns (the assistant wires both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

NEGATIONS = frozenset("not no never don t doesn didn isn wasn aren weren won can cannot nor n".split())
MAX_CHANGED = 4  # words that may differ on each side for "the same statement"
MERGE_WINDOW = 7 * 86_400.0  # seconds between two memories' dates for them to be copies


@dataclass(frozen=True)
class Fact:
    """An atomic fact a summariser drew from a session, with the turns it came from."""

    text: str
    turns: tuple[str, ...]
    speaker: str | None = None


class Summariser(Protocol):
    def summarise(self, conversation: str, turns: list[tuple[str | None, str | None, str]]) -> list[Fact]:
        """Facts from (turn id, speaker, text) triples of one session."""
        ...


class Judge(Protocol):
    def contradicts(self, older: str, newer: str) -> bool: ...


@dataclass(frozen=True)
class Decision:
    action: str  # "merge" or "supersede"
    target: int  # the older memory's id
    similarity: float


class LexicalJudge:
    """The model-free judge: :func:`changed_value`."""

    def contradicts(self, older: str, newer: str) -> bool:
        return changed_value(older, newer)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def changed_value(older: str, newer: str) -> bool:
    """True when both say the same thing about the same subject but with a different value:
    a shared frame (common start and end covering at least half of the shorter text, and at
    least three words) around a short differing span, or the same words with a negation added
    or removed."""
    a, b = _tokens(older), _tokens(newer)
    if a == b or min(len(a), len(b)) < 3:
        return False
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    mid_a, mid_b = a[prefix:len(a) - suffix], b[prefix:len(b) - suffix]
    frame = prefix + suffix
    if frame < 3 or frame < 0.5 * min(len(a), len(b)):
        return False
    if not mid_a or not mid_b:  # one side only adds words: a negation flips it, detail does not
        return bool(set(mid_a or mid_b) & NEGATIONS)
    return len(mid_a) <= MAX_CHANGED and len(mid_b) <= MAX_CHANGED


@dataclass(frozen=True)
class Neighbour:
    id: int
    similarity: float
    text: str
    speaker: str | None
    when: float  # the memory's date: its source time, else when it was stored


def decide(near: list[Neighbour], text: str, speaker: str | None, when: float,
           duplicate: float, supersede: float, judge: Judge) -> Decision | None:
    """What to do with a new memory given its closest recent neighbours."""
    same = sorted((n for n in near if n.speaker == speaker and n.similarity >= min(duplicate, supersede)),
                  key=lambda n: -n.similarity)
    for n in same:
        if n.similarity >= supersede and judge.contradicts(n.text, text):
            return Decision("supersede", n.id, n.similarity)
        if is_copy(n, speaker, when, duplicate):
            return Decision("merge", n.id, n.similarity)
    return None


def is_copy(n: Neighbour, speaker: str | None, when: float, duplicate: float) -> bool:
    """A new text said by ``speaker`` at ``when`` is a near-duplicate of the recent memory ``n``."""
    return n.speaker == speaker and n.similarity >= duplicate and abs(when - n.when) <= MERGE_WINDOW
