"""One assistant turn: gate -> recall -> answer -> write back. The memory proves, the model phrases,
the user sees the proof.

The only module (with :mod:`cairn.core.phrasing`) that imports both :mod:`cairn.core.llm` and
:mod:`cairn.core.memory`. :func:`open` assembles the assistant from the settings; the CLI, the
daemon and the GUI all call it.

A personal question gets, in order: nothing (no memory clears the relevance floor); a decline
naming who or what no memory is about ("I have nothing about Melanie in your memories"); a date
worked out from the memory that holds it ("when" questions); or a short answer phrased by the
model from the memories shown, checked against them, and replaced by the memory's own sentence
when it names, counts or dates anything they do not hold. Every such answer carries the quoted
memories (id, date, source). A general question goes to the model without memory (and says so);
a statement is stored with provenance and acknowledged. Without a model, Cairn answers in
memory-only mode and says why.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core import grounding
from cairn.core.answer import Answer, OnText, SentenceEnd, memory_line, plain
from cairn.core.clock import Clock, SystemClock, iso
from cairn.core.config import AssistantSettings, Settings
from cairn.core.errors import ContextFullError
from cairn.core.llm import snapshot
from cairn.core.llm.chat import Chat
from cairn.core.llm.loader import ModelChoice, ModelSlot, resolve_choice
from cairn.core.llm.prompt import Message
from cairn.core.llm.relevance import QueryLikelihood
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.vote import retrieval_vote
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate.decision import Decision, Gate, State, is_request
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.rerank import rerank
from cairn.core.memory.storage.records import Memory, MemoryId, Recalled, Source
from cairn.core.paths import Paths, expand, secure
from cairn.core.phrasing import Phraser

log = logging.getLogger(__name__)
NOTHING = "I have nothing about that in your memories."
SYSTEM = "You are Cairn, a private assistant on the user's own computer. Reply in one or two short sentences."
EXTRACT_PROMPT = ("List the facts about the user's life in their message as a JSON array of short, self-contained "
                  "sentences (third person, with names and dates). Reply [] if there are none.")
FACTS_GRAMMAR = r"""
root   ::= "[" ws ( string ( "," ws string )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ["\\/bfnrt] ){3,200} "\"" ws
ws     ::= [ \n]?
"""
MAX_FACT_CHARS = 300
PHRASE_WORDS = 30  # a phrased answer longer than this is not "a few words": the quote is shown instead
WHY = re.compile(r"\b(?:why|how) do you know (?:that|this)\b|\bwhere did you get that\b", re.IGNORECASE)
EVICTED_CHARS = 1000  # an evicted span longer than this is cut before it becomes a candidate


class Assistant:
    def __init__(self, bank: MemoryBank, gate: Gate, model: ModelSlot | Chat | None = None,
                 settings: AssistantSettings = AssistantSettings(), choice: ModelChoice | None = None,
                 owns_bank: bool = False, cache_dir: Path | None = None) -> None:
        self.bank, self.gate, self.settings = bank, gate, settings
        self.cache_dir = cache_dir  # where fixed prompt beginnings are kept evaluated
        self._slot = model if isinstance(model, ModelSlot) else None
        self._chat = model if isinstance(model, Chat) else None
        self.choice = choice or ModelChoice(Sampling(temperature=0.0), 96, settings.answers if settings.answers !=
                                            "auto" else "phrased", settings.llm_vote == "on",
                                            settings.extract_facts == "on")
        self._owns_bank = owns_bank
        self.conversation = f"chat-{uuid.uuid4().hex[:12]}"
        self._turn = 0
        self._used_memory = False
        self._evicted: list[str] = []
        self._last: list[Recalled] = []
        self._max_tokens: int | None = None
        if self._chat is not None:
            self._chat.session.on_evict = self._evicted.append

    # ---- the model, loaded when a turn first needs it ------------------------------------------

    @property
    def has_model(self) -> bool:
        return self._chat is not None or (self._slot is not None and self._slot.configured)

    @property
    def model_name(self) -> str:
        """The chat model's file name ("" in memory-only mode)."""
        if self._slot is not None:
            return self._slot.path.name if self._slot.configured and self._slot.path else ""
        return "model" if self._chat is not None else ""

    @property
    def no_model_reason(self) -> str:
        return self._slot.reason if self._slot is not None else ("" if self._chat else "no model was given")

    @property
    def chat(self) -> Chat | None:
        if self._chat is None and self._slot is not None:
            self._chat = self._slot.get()
            if self._chat is not None:
                self._chat.session.on_evict = self._evicted.append
        return self._chat

    @property
    def model_loaded(self) -> bool:
        return self._chat is not None

    def unload_model(self) -> bool:
        """Free the chat model (it reloads on the next turn that needs it); False if none was loaded.
        The conversation starts afresh: its cache went with the model."""
        if self._slot is None or self._chat is None:
            return False
        self._slot.unload()
        self._chat = None
        self._turn = 0
        return True

    def use_model(self, slot: ModelSlot) -> None:
        """Switch to the chat model ``slot`` names (from :func:`model_slot`; loaded on the next turn
        that needs it), freeing the current one: the conversation's cache goes with it, as after
        :meth:`unload_model`, and the model's measured defaults replace the old model's."""
        old, self._slot, self._chat = self._slot, slot, None
        self.choice = resolve_choice(slot.llm, self.settings, slot.path)
        self._turn = 0
        if old is not None and old is not slot:
            old.close()

    def save_conversation(self, data_dir: Path) -> Path | None:
        """Save the conversation's KV cache and history (a snapshot) so :meth:`resume` can pick it
        up after the model was freed or the process restarted; None if there is nothing to save."""
        chat = self._chat
        if chat is None or not any(m.role == "user" for m in chat.messages):
            return None
        path = snapshot.path_for(data_dir, self.conversation)
        snapshot.save(chat.session, path, {"conversation": self.conversation, "turn": self._turn,
                                           "chat": chat.state()})
        return path

    def resume(self, name: str, data_dir: Path) -> bool:
        """Continue conversation ``name``: from its snapshot when one matches the loaded model
        (False: none, or refused, and the conversation starts afresh under that name)."""
        self.new_conversation()
        self.conversation = name
        path = snapshot.path_for(data_dir, name)
        chat = self.chat if path.exists() else None
        if chat is None:
            return False
        restored = snapshot.restore(chat.session, path)
        saved = restored.extra or {}
        if not restored.ok or saved.get("conversation") != name or not isinstance(saved.get("chat"), dict):
            chat.reset()
            return False
        chat.load_state(saved["chat"])
        self._turn = int(saved.get("turn", 0))
        return True

    def close(self) -> None:
        if self._slot is not None:
            self._slot.close()
        self._chat = None
        if self._owns_bank:
            self.bank.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_conversation(self) -> None:
        """Start a new session: a new conversation id (memories persist, the chat history does not)."""
        self.conversation = f"chat-{uuid.uuid4().hex[:12]}"
        self._turn = 0
        self._used_memory = False
        if self._chat is not None:
            self._chat.reset()

    # ---- a turn -------------------------------------------------------------------------------

    def ask(self, text: str, on_text: OnText = None, cancel: Callable[[], bool] | None = None,
            memory: bool = True, max_tokens: int | None = None) -> Answer:
        """One turn. ``memory=False``: the model answers alone; nothing is recalled or stored.
        ``max_tokens`` caps a reply the model writes on its own (default: the model's setting)."""
        self._max_tokens = max_tokens
        if not memory:
            return self._general(text, Decision(False, 0.0, "memory was switched off for this turn"), on_text, cancel)
        if WHY.search(text) and self._last:  # "why do you know that?": the provenance trail
            return self._emit(Answer("\n\n".join(self.why(h.memory.id) for h in self._last),
                                     Decision(True, 1.0, "asked where an answer came from"), self._last,
                                     [h.memory.id for h in self._last], "provenance", "provenance"), on_text)
        if self._slot is not None and self._chat is None and is_request(text) and not grounding.is_temporal(text):
            self._slot.prefetch()  # the model loads while the gate and recall run
        decision = self._decide(text)
        if not is_request(text):
            return self._statement(text, decision, on_text)
        shown = self._recall(text) if decision.retrieve else []
        self._used_memory = bool(shown)
        if decision.retrieve:
            answer = self._from_memory(text, decision, shown)
            self._last = [h for h in answer.used if h.memory.id in answer.cited] or answer.used
            self._write_back(text, request=True)
            return self._emit(answer, on_text)
        answer = self._general(text, decision, on_text, cancel)
        self._write_back(text, request=True)
        return answer

    def _emit(self, answer: Answer, on_text: OnText) -> Answer:
        if on_text is not None:
            on_text(answer.text)
        return answer

    def _mode(self) -> str:
        return "llm" if self.has_model else "memory-only"

    def explain_gate(self, text: str) -> Decision:
        """What the gate decides for ``text`` now, with its signals (nothing is recalled or stored)."""
        return self._decide(text)

    def _decide(self, text: str) -> Decision:
        decision = self.gate.decide(text, self.bank.probe(), State(previous_used_memory=self._used_memory))
        if self.choice.llm_vote and self.settings.vote_low < decision.confidence < self.settings.vote_high:
            vote = self.llm_vote(text)  # ask the model only when the cheap signals are unsure
            if vote is not None:
                decision = self.gate.with_vote(decision, vote)
        return decision

    def _recall(self, text: str) -> list[Recalled]:
        """The memories worth showing: recalled, above the relevance floor, inside the token budget.
        Only these are reinforced: a memory recalled but not shown was not used."""
        s = self.settings
        scorer = self._relevance(text)
        depth = s.rerank_depth if scorer is not None else 0
        hits = self.bank.recall(text, max(s.k, depth), touch=False)
        if scorer is not None:
            hits = rerank(text, hits, scorer, depth, s.rerank_weight)
        hits = [h for h in hits[:s.k] if h.signals.get("cosine", 0.0) >= s.min_cosine]
        kept, budget = [], s.memory_tokens
        chat = self._chat
        for h in hits:
            line = memory_line(h.memory)
            cost = len(chat.rt.tokenize(line, special=False)) if chat else len(line) // 4 + 1
            if cost > budget:
                break
            kept.append(h)
            budget -= cost
        self.bank.retention.reinforce(kept)
        return kept

    def _relevance(self, text: str) -> QueryLikelihood | None:
        """The model's log p(question | memory) to reorder recall by (``assistant.rerank``), or None.
        The model is not loaded for this alone: a date question is answered from the memory."""
        if self.settings.rerank == "off" or self.settings.rerank_weight == 0:
            return None
        if not self.model_loaded and grounding.is_temporal(text):
            return None
        chat = self.chat
        return None if chat is None else QueryLikelihood(chat.rt, chat.template)

    def _from_memory(self, text: str, decision: Decision, shown: list[Recalled]) -> Answer:
        mems = [h.memory for h in shown]
        if not shown:
            return Answer(NOTHING, decision, [], [], self._mode(), "nothing")
        missing = grounding.premise(text, mems)
        if missing:
            who = " or ".join(missing)
            return Answer(f"I have nothing about {who} in your memories.", decision, shown, [], self._mode(),
                          "declined", note="The closest memories are shown; none of them is about " + who + ".")
        found = grounding.extractive(text, mems)
        assert found is not None
        cited = [found.memory.id]
        if grounding.is_temporal(text) or self.choice.answers == "extractive" or self.chat is None:
            note = "" if self.has_model else f"Memory-only mode: {self.no_model_reason}."
            return Answer(found.text, decision, shown, cited, self._mode(), "extractive", note=note)
        # The model sees only the memory that answers: with more, small models mix them up.
        try:
            phraser = Phraser(self.chat.rt, self.chat.template, you=self.settings.user, cache_dir=self.cache_dir)
            phrased = phraser.phrase(text, [found.memory])
        except ContextFullError:
            return Answer(found.text, decision, shown, cited, "llm", "extractive",
                          note="No room beside the conversation in the model's context; this is the memory's own "
                               "sentence.")
        bad = grounding.unsupported(phrased.text, [found.memory], text)
        why = (f"names {', '.join(bad)}, which the memory does not hold" if bad else
               "did not finish" if phrased.runaway else "was empty" if not phrased.text else
               "repeated the notes instead of answering" if grounding.copies_notes(phrased.text, PHRASE_WORDS) else
               "only repeated the question" if grounding.adds_nothing(text, phrased.text) else
               "used none of the memory's words" if grounding.off_topic(phrased.text, found.memory.text) else "")
        done = phrased.completion
        if not why:
            return Answer(phrased.text, decision, shown, cited, "llm", "phrased", finish=done.finish,
                          prompt_tokens=done.prompt_tokens, completion_tokens=done.tokens)
        return Answer(found.text, decision, shown, cited, "llm", "extractive", unsupported=bad,
                      note=f"The model's answer {why}; this is the memory's own sentence instead.", finish=done.finish,
                      prompt_tokens=done.prompt_tokens, completion_tokens=done.tokens)

    def _general(self, text: str, decision: Decision, on_text: OnText, cancel: Callable[[], bool] | None) -> Answer:
        chat = self.chat
        if chat is None:
            return self._emit(Answer("That does not need your memories, and no language model is set up to "
                                     "answer it.", decision, [], [], "memory-only", "no-model",
                                     note=f"Memory-only mode: {self.no_model_reason}."), on_text)
        ender = SentenceEnd(on_text, cancel)
        reply = chat.turn(text, sampling=self.choice.sampling, max_tokens=self._max_tokens or self.choice.max_tokens,
                          on_text=ender.text, cancel=ender.cancel)
        finish = "stop" if reply.finish == "cancelled" and ender.ended else reply.finish
        note = "Answered without your memories." + (" (The reply reached the length limit.)"
                                                    if finish == "length" else "")
        return Answer(reply.text, decision, [], [], "llm", "general", note=note, finish=finish,
                      prompt_tokens=reply.prompt_tokens, completion_tokens=reply.tokens)

    def _statement(self, text: str, decision: Decision, on_text: OnText) -> Answer:
        stored = self._write_back(text, request=False)
        kept = [m for m in stored if m.replaced_by is None]
        noted = f"Noted (memory #{kept[0].id})." if kept else "Noted."
        return self._emit(Answer(noted, decision, [], [], self._mode(), "statement", stored), on_text)

    # ---- the model's side tasks ---------------------------------------------------------------

    def llm_vote(self, text: str) -> float | None:
        """P(<RET>): the model's own choice between needing the user's memories and not."""
        chat = self.chat
        return None if chat is None else retrieval_vote(chat.rt, chat.template, text)

    def extract(self, text: str) -> list[str]:
        """Atomic facts the model finds in a statement, kept only when the statement supports them:
        every name, number and date in the fact is in the statement."""
        return grounded_facts(self.propose_facts(text), text)

    def propose_facts(self, text: str) -> list[str]:
        """What the model offers as atomic facts of a statement, before any check."""
        chat = self.chat
        if chat is None:
            return []
        prompt = chat.template.render([Message("system", EXTRACT_PROMPT), Message("user", text)], True)
        try:
            raw = chat.rt.complete(chat.rt.tokenize(prompt), Sampling(temperature=0.0, grammar=FACTS_GRAMMAR), 160)
            facts = json.loads(raw)
        except (ContextFullError, ValueError) as exc:
            log.info("no facts extracted: %s", exc)
            return []
        return [" ".join(str(f).split())[:MAX_FACT_CHARS] for f in facts] if isinstance(facts, list) else []

    def _write_back(self, text: str, request: bool) -> list[Memory]:
        """The user's turn goes to the conversation log, and to memory when it is a statement that
        carries information; spans evicted from the model's context become candidates too."""
        self._turn += 1
        stored = []
        turn = self.bank.log_turn(self.conversation, text, speaker=self.settings.user, turn=f"T{self._turn}",
                                  memorable=not request, continues=False)  # Cairn replied in between
        if turn.memory is not None:
            stored.append(turn.memory)
            if self.choice.extract_facts:
                source = Source("conversation", self.conversation, (f"T{self._turn}",), self.bank.clock.now(),
                                self.settings.user)
                stored += [self.bank.remember(f, kind="fact", source=source) for f in self.extract(text)]
        while self._evicted:
            span = plain(self._evicted.pop(0))
            if span:
                evicted = self.bank.log_turn(f"{self.conversation}#evicted", span[:EVICTED_CHARS])
                if evicted.memory is not None:
                    stored.append(evicted.memory)
        return stored

    def why(self, memory_id: MemoryId) -> str:
        """The provenance trail of a memory: where it came from and everything that happened to it."""
        m = self.bank.get(memory_id)
        trail = [memory_line(m), f"  from {m.source.describe()}"]
        trail += [f"  {iso(h.at)}  {h.action}" + (f" ({h.reason})" if h.reason else "") for h in self.bank.history(m.id)]
        return "\n".join(trail)


def grounded_facts(facts: list[str], text: str) -> list[str]:
    """The facts worth storing: not the statement itself, and supported by it."""
    return [f for f in facts if len(f) >= 3 and f.casefold() != text.strip().casefold()
            and grounding.supported_by(f, text)]


def model_slot(settings: Settings, paths: Paths, model: str | None = None) -> ModelSlot:
    """The chat model the settings name (``model`` overrides ``llm.model``), not yet loaded: a
    caller that knows a turn will need it can :meth:`ModelSlot.prefetch` it before the bank opens."""
    return ModelSlot(settings.llm if model is None else _with_model(settings, model), paths.models_dir, SYSTEM)


def open(settings: Settings, paths: Paths, *, bank: MemoryBank | None = None, clock: Clock | None = None,
         embedder: Embedder | None = None, model: str | None = None, slot: ModelSlot | None = None) -> Assistant:
    """The assistant as the settings describe it: the user's bank (made private on open), the
    gate, and the chat model (loaded on first use; ``model`` overrides ``llm.model``; ``slot``: one
    from :func:`model_slot`, which the assistant then owns)."""
    owns = bank is None
    if bank is None:
        secure(paths)
        bank = MemoryBank.open(paths.database, settings, embedder=embedder, clock=clock or SystemClock(),
                               models_dir=paths.models_dir)
    try:
        g = settings.gate
        gate = Gate.load(expand(g.weights_file) if g.weights_file else None, threshold=g.threshold)
        slot = slot or model_slot(settings, paths, model)
    except BaseException:
        if owns:
            bank.close()
        if slot is not None:
            slot.close()
        raise
    choice = resolve_choice(slot.llm, settings.assistant, slot.path)
    return Assistant(bank, gate, slot, settings.assistant, choice, owns_bank=owns,
                     cache_dir=paths.cache_dir / "prompts")


def _with_model(settings: Settings, model: str) -> Any:
    return dataclasses.replace(settings.llm, model=model)
