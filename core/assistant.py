"""One assistant turn: gate -> recall -> prompt -> generate -> write back.

The only module that imports both :mod:`cairn.core.llm` and :mod:`cairn.core.memory`. Without a
model, Cairn answers in memory-only mode: the best memories with their sources (extractive),
and a pointer to installing a model. A question the gate sends to memory but nothing relevant
answers gets "I have nothing about that", not an invention.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.core.clock import iso
from cairn.core.errors import ContextFullError
from cairn.core.llm.chat import Chat
from cairn.core.llm.prompt import Message
from cairn.core.llm.runtime import Sampling
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate import Decision, Gate, State, is_request
from cairn.core.memory.records import Memory, Recalled, Source

log = logging.getLogger(__name__)
NOTHING = "I have nothing about that in your memories."
NO_MODEL = "(Memory-only mode: no language model is set up. `cairn models pull llama-3.2-1b-instruct` and " \
           "`llm.model` in the settings give full answers.)"
SYSTEM = ("You are Cairn, a private assistant running on the user's own computer. When memories are given, "
          "answer from them and cite the ids you used like [#12]. If they do not answer the question, say so.")
GATE_PROMPT = ("Decide whether answering the user's message needs their personal memories (things they told "
               "you before). Reply <RET> if it does, NO if general knowledge or the message itself is enough.")
EXTRACT_PROMPT = ("List the facts about the user's life in their message as a JSON array of short, self-contained "
                  "sentences (third person, with names and dates). Reply [] if there are none.")
FACTS_GRAMMAR = r"""
root   ::= "[" ws ( string ( "," ws string )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ["\\/bfnrt] ){3,200} "\"" ws
ws     ::= [ \n]?
"""
MAX_FACT_CHARS = 300
UNSURE = (0.2, 0.8)  # gate probabilities between which the model is consulted
WHY = re.compile(r"\b(?:why|how) do you know (?:that|this)\b|\bwhere did you get that\b", re.IGNORECASE)
_CITE = re.compile(r"\[#(\d+)\]")
_MARKUP = re.compile(r"<\|[^|>]{1,40}\|>(?:(?:system|user|assistant)\n)?")
EVICTED_CHARS = 1000  # an evicted span longer than this is cut before it becomes a candidate


def _plain(span: str) -> str:
    """Chat text without the template's control tokens and role headers."""
    text = "".join(c if c.isprintable() or c in "\n\t" else " " for c in _MARKUP.sub(" ", span))
    return " ".join(text.split())


@dataclass(frozen=True)
class Answer:
    text: str
    decision: Decision
    used: list[Recalled]  # the memories put in front of the model (or quoted, in memory-only mode)
    cited: list[int]  # ids the reply cites
    mode: str  # "llm" or "memory-only"
    stored: list[Memory] = field(default_factory=list)  # what this turn added to memory

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "mode": self.mode, "gate": self.decision.to_dict(),
                "used": [h.memory.id for h in self.used], "cited": self.cited,
                "stored": [m.id for m in self.stored if m.replaced_by is None]}


def memory_line(m: Memory) -> str:
    """How a memory is shown to the model and to the user: id, date, who said it, text."""
    when = iso(m.source.time if m.source.time is not None else m.created_at)[:10]
    who = f" · {m.source.speaker}" if m.source.speaker else ""
    return f"[#{m.id} · {when}{who}] {m.text}"


class Assistant:
    def __init__(self, bank: MemoryBank, gate: Gate, chat: Chat | None = None, *, k: int = 5,
                 min_cosine: float = 0.3, context_tokens: int = 512, user: str = "user",
                 sampling: Sampling = Sampling(), max_tokens: int = 256, extract_facts: bool = True) -> None:
        self.bank, self.gate, self.chat = bank, gate, chat
        self.k, self.min_cosine, self.context_tokens = k, min_cosine, context_tokens
        self.user, self.sampling, self.max_tokens = user, sampling, max_tokens
        self.extract_facts = extract_facts
        self.conversation = f"chat-{uuid.uuid4().hex[:12]}"
        self._turn = 0
        self._used_memory = False
        self._evicted: list[str] = []
        self._last_used: list[Recalled] = []
        if chat is not None:
            chat.session.on_evict = self._evicted.append

    def new_conversation(self) -> None:
        """Start a new session: a new conversation id (memories persist, the chat history does not)."""
        self.conversation = f"chat-{uuid.uuid4().hex[:12]}"
        self._turn = 0
        self._used_memory = False
        if self.chat is not None:
            self.chat.reset()

    def ask(self, text: str, on_text: Callable[[str], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> Answer:
        if WHY.search(text) and self._last_used:  # "why do you know that?": the provenance trail
            trail = "\n\n".join(self.why(h.memory.id) for h in self._last_used)
            if on_text is not None:
                on_text(trail)
            return Answer(trail, Decision(True, 1.0, "asked where an answer came from"), self._last_used, [],
                          "provenance")
        probe = self.bank.probe()
        decision = self.gate.decide(text, probe, State(previous_used_memory=self._used_memory))
        if self.chat is not None and UNSURE[0] < decision.confidence < UNSURE[1]:
            vote = self.llm_vote(text)  # ask the model only when the cheap signals are unsure
            if vote is not None:
                decision = self.gate.decide(text, probe, State(self._used_memory, vote))
        hits = self._recall(text) if decision.retrieve else []
        self._used_memory = bool(hits)
        request = is_request(text)
        if self.chat is None:
            stored = self._write_back(text, request)
            reply, mode = self._extractive(decision, hits, request, stored), "memory-only"
            if on_text is not None:
                on_text(reply)
        else:
            reply, mode = self._generate(text, decision, hits, on_text, cancel), "llm"
            stored = self._write_back(text, request)
        cited = [int(i) for i in _CITE.findall(reply) if int(i) in {h.memory.id for h in hits}]
        self._last_used = hits
        return Answer(reply, decision, hits, cited, mode, stored)

    def _recall(self, text: str) -> list[Recalled]:
        """The memories worth showing: recalled, above the relevance floor, inside the token budget."""
        hits = [h for h in self.bank.recall(text, self.k) if h.signals.get("cosine", 0.0) >= self.min_cosine]
        kept, budget = [], self.context_tokens
        for h in hits:
            line = memory_line(h.memory)
            cost = len(self.chat.rt.tokenize(line, special=False)) if self.chat else len(line) // 4 + 1
            if cost > budget:
                break
            kept.append(h)
            budget -= cost
        return kept

    def _extractive(self, decision: Decision, hits: list[Recalled], request: bool, stored: list[Memory]) -> str:
        if not request:
            kept = [m for m in stored if m.replaced_by is None]
            return f"Noted (memory #{kept[0].id})." if kept else "Noted."
        if not decision.retrieve:
            return "That does not need your memories, and there is no language model to answer it.\n" + NO_MODEL
        if not hits:
            return NOTHING
        lines = [memory_line(h.memory) + f"\n    (from {h.memory.source.describe()})" for h in hits]
        return "From your memories:\n" + "\n".join(lines) + "\n" + NO_MODEL

    def _generate(self, text: str, decision: Decision, hits: list[Recalled],
                  on_text: Callable[[str], None] | None, cancel: Callable[[], bool] | None) -> str:
        assert self.chat is not None
        context = None
        if decision.retrieve:
            context = ("Memories (cite the ids you use):\n" + "\n".join(memory_line(h.memory) for h in hits)) \
                if hits else "No stored memory matches this question: say you have nothing about it."
        reply = self.chat.turn(text, context=context, sampling=self.sampling, max_tokens=self.max_tokens,
                               on_text=on_text, cancel=cancel)
        return reply.text

    def llm_vote(self, text: str) -> float | None:
        """P(<RET>): the model's own choice between needing the user's memories and not."""
        assert self.chat is not None
        prompt = self.chat.template.render([Message("system", GATE_PROMPT), Message("user", text)], True)
        try:
            return self.chat.rt.choice(self.chat.rt.tokenize(prompt), ["<RET>", "NO"])[0]
        except ContextFullError:
            log.info("no room for the gate prompt beside the conversation: cheap signals only")
            return None

    def _extract(self, text: str, turn: str) -> list[Memory]:
        """Atomic facts from a statement, by the model under a JSON grammar, linked to the turn."""
        assert self.chat is not None
        prompt = self.chat.template.render([Message("system", EXTRACT_PROMPT), Message("user", text)], True)
        try:
            raw = self.chat.rt.complete(self.chat.rt.tokenize(prompt), Sampling(temperature=0.0, grammar=FACTS_GRAMMAR),
                                        max_tokens=160)
            facts = json.loads(raw)
        except (ContextFullError, ValueError) as exc:
            log.info("no facts extracted from turn %s: %s", turn, exc)
            return []
        source = Source("conversation", self.conversation, (turn,), self.bank.clock.now(), self.user)
        out = []
        for fact in facts if isinstance(facts, list) else []:
            fact = " ".join(str(fact).split())[:MAX_FACT_CHARS]
            if len(fact) >= 3 and fact.casefold() != text.strip().casefold():
                out.append(self.bank.remember(fact, kind="fact", source=source))
        return out

    def _write_back(self, text: str, request: bool) -> list[Memory]:
        """The user's turn goes to the conversation log, and to memory when it is a statement that
        carries information; spans evicted from the model's context become candidates too."""
        self._turn += 1
        stored = []
        turn = self.bank.log_turn(self.conversation, text, speaker=self.user, turn=f"T{self._turn}",
                                  memorable=not request)
        if turn.memory is not None:
            stored.append(turn.memory)
            if self.chat is not None and self.extract_facts:
                stored += self._extract(text, f"T{self._turn}")
        while self._evicted:
            span = _plain(self._evicted.pop(0))
            if span:
                evicted = self.bank.log_turn(f"{self.conversation}#evicted", span[:EVICTED_CHARS])
                if evicted.memory is not None:
                    stored.append(evicted.memory)
        return stored

    def why(self, memory_id: int) -> str:
        """The provenance trail of a memory: where it came from and everything that happened to it."""
        m = self.bank.get(memory_id)
        trail = [memory_line(m), f"  from {m.source.describe()}"]
        trail += [f"  {iso(h.at)}  {h.action}" + (f" ({h.reason})" if h.reason else "") for h in self.bank.history(m.id)]
        return "\n".join(trail)
