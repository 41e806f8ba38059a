"""What an assistant turn hands back: the :class:`Answer`, the lines that quote its memories, and
the stream guard that ends a rambling reply at a sentence end."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.core.clock import iso
from cairn.core.memory.gate.decision import Decision
from cairn.core.memory.storage.records import Memory, MemoryId, Recalled

_MARKUP = re.compile(r"<\|[^|>]{1,40}\|>(?:(?:system|user|assistant)\n)?")


def plain(span: str) -> str:
    """Chat text without the template's control tokens, role headers and control characters."""
    text = "".join(c if c.isprintable() or c in "\n\t" else " " for c in _MARKUP.sub(" ", span))
    return " ".join(text.split())


def memory_line(m: Memory) -> str:
    """How a memory is shown to the user: id, date, who said it, text."""
    when = (iso(m.source.time if m.source.time is not None else m.created_at) or "")[:10]
    who = f" · {m.source.speaker}" if m.source.speaker else ""
    return f"[#{m.id} · {when}{who}] {m.text}"


def quote(m: Memory) -> str:
    """A memory line with where it came from: what an answer shows as its proof."""
    return f"{memory_line(m)}\n    (from {m.source.describe()})"


@dataclass(frozen=True)
class Answer:
    text: str
    decision: Decision
    used: list[Recalled]  # the memories shown beside the answer (its proof), best first
    cited: list[MemoryId]  # the ids of the memories the answer rests on
    mode: str  # llm, memory-only, provenance
    kind: str  # phrased, extractive, declined, nothing, general, statement, provenance, no-model
    stored: list[Memory] = field(default_factory=list)  # what this turn added to memory
    unsupported: list[str] = field(default_factory=list)  # the model's claims no memory held (answer replaced)
    note: str = ""  # said beside the answer: why memory was not used, why the model's words were replaced
    finish: str = ""  # how the model's reply ended (stop, stop_sequence, length, ...); "" when no model ran
    prompt_tokens: int = 0  # tokens the model evaluated for this answer
    completion_tokens: int = 0  # tokens the model generated for this answer

    @property
    def quotes(self) -> list[str]:
        return [quote(h.memory) for h in self.used]

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "mode": self.mode, "kind": self.kind, "note": self.note,
                "gate": self.decision.to_dict(), "used": [h.memory.id for h in self.used], "cited": self.cited,
                "quotes": [{"id": h.memory.id, "line": memory_line(h.memory), "source": h.memory.source.describe()}
                           for h in self.used],
                "unsupported": self.unsupported, "stored": [m.id for m in self.stored if m.replaced_by is None]}


OnText = Callable[[str], None] | None
SOFT_WORDS = 40  # a general reply longer than this ends at its next full stop (small models ramble)


class SentenceEnd:
    """Streams a reply and ends it at the first sentence end after SOFT_WORDS words."""

    def __init__(self, on_text: OnText, cancel: Callable[[], bool] | None) -> None:
        self._on_text, self._cancel = on_text, cancel
        self.sofar, self.ended = "", False

    def text(self, piece: str) -> None:
        self.sofar += piece
        if self._on_text is not None:
            self._on_text(piece)

    def cancel(self) -> bool:
        if self._cancel is not None and self._cancel():
            return True
        self.ended = len(self.sofar.split()) >= SOFT_WORDS and self.sofar.rstrip().endswith((".", "!", "?"))
        return self.ended
