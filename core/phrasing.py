"""The model phrases what the memories prove.

A memory question gets its own short prompt, not the chat: a one-line instruction, two worked
examples (made-up people, so nothing in them can leak into an answer as a fact about the user)
and the notes, each as "On 8 May 2023, Caroline said: ..." with the dates its relative words
point to. No memory ids are shown to the model: small models copy them wrongly; Cairn shows the
ids itself, beside the answer. Greedy decoding, one line, a few words. The prompt and sampling
were chosen by measurement on LoCoMo's development split (docs/benchmarks.md); repetition
penalties made answers worse there, so there is none.

The reply is then checked (:func:`cairn.core.grounding.unsupported`) by the assistant; this module
only builds prompts and runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cairn.core.llm import prompt_cache
from cairn.core.llm.prompt import Message, Template
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Completion, Sampling
from cairn.core.memory.retrieval.timeref import day_text, resolve_relative
from cairn.core.memory.storage.records import Memory

INSTRUCTION = "Answer the question in a few words using only the notes."
EXAMPLES = (
    ("On 14 November 2022, Priya said: I just got back from my pottery class in Lisbon, I made a blue bowl!",
     "What did Priya make in her pottery class?", "A blue bowl."),
    ("On 3 March 2021, Tom said: We adopted a puppy last week, his name is Biscuit.",
     "When did Tom adopt a puppy?", "The week before 3 March 2021."),
)
MAX_TOKENS = 48
NOTE_CHARS = 600  # a longer memory is cut in the prompt (the user still sees all of it)


def when(m: Memory) -> float:
    return m.source.time if m.source.time is not None else m.created_at


def note(m: Memory, you: str = "user") -> str:
    """A memory as the model sees it: its day, who said it, its text, and what its relative dates mean."""
    day = day_text(datetime.fromtimestamp(when(m), tz=UTC).date())
    who = m.source.speaker or "you"
    if who == you:
        who = "you"
    text = " ".join(m.text.split())
    text = text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS].rsplit(" ", 1)[0] + " ..."
    resolved = resolve_relative(m.text, when(m))
    return f"On {day}, {who} said: {text}" + (f" (that is: {'; '.join(resolved)})" if resolved else "")


def _user(notes: list[str], question: str) -> str:
    return "Notes:\n" + "\n".join(notes) + f"\n\nQuestion: {question}"


def messages(notes: list[str], question: str) -> list[Message]:
    out = [Message("system", INSTRUCTION)]
    for example_note, example_question, example_answer in EXAMPLES:
        out += [Message("user", _user([example_note], example_question)), Message("assistant", example_answer)]
    return out + [Message("user", _user(notes, question))]


@dataclass(frozen=True)
class Phrased:
    text: str
    completion: Completion

    @property
    def runaway(self) -> bool:
        """The reply ran to the token cap instead of ending."""
        return self.completion.finish in ("length", "context")


class Phraser:
    """Runs the phrasing prompt on the model's scratch sequence (the chat's cache is untouched).
    With a ``cache_dir``, the prompt's fixed beginning (instruction and examples) is evaluated once
    and kept there (:mod:`cairn.core.llm.prompt_cache`)."""

    def __init__(self, runtime: Runtime, template: Template, max_tokens: int = MAX_TOKENS, you: str = "user",
                 cache_dir: Path | None = None) -> None:
        self.rt, self.template, self.max_tokens, self.you = runtime, template, max_tokens, you
        self.cache_dir = cache_dir

    def prompt(self, question: str, shown: list[Memory]) -> list[int]:
        text = self.template.render(messages([note(m, self.you) for m in shown], question), True)
        return self.rt.tokenize(text, special=True)

    def fixed(self, prompt: list[int]) -> list[int]:
        """The tokens every phrasing prompt starts with (empty if the template splits them)."""
        head = self.template.render(messages([], "")[:-1], False)
        tokens = self.rt.tokenize(head, special=True)
        return tokens if prompt[:len(tokens)] == tokens else []

    def phrase(self, question: str, shown: list[Memory]) -> Phrased:
        prompt = self.prompt(question, shown)
        cached = prompt_cache.warm(self.rt, self.fixed(prompt), self.cache_dir) if self.cache_dir else 0
        done = self.rt.generate(prompt, Sampling(temperature=0.0), self.max_tokens, stop=("\n",), cached=cached)
        return Phrased(" ".join(done.text.split()), done)

    def bare(self, question: str, max_tokens: int = MAX_TOKENS) -> Phrased:
        """The same model and instruction with no notes at all (the no-memory baseline)."""
        text = self.template.render([Message("system", "Answer the question in a few words."),
                                     Message("user", question)], True)
        done = self.rt.generate(self.rt.tokenize(text, special=True), Sampling(temperature=0.0), max_tokens,
                                stop=("\n",))
        return Phrased(" ".join(done.text.split()), done)
