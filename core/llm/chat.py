"""A chat over one :class:`Session`: streaming turns, stop sequences, cancellation, and
per-turn context (memories) that never invalidates the cached history.

The prompt of a turn is ``history + [context] + user + assistant header``. After the reply, the
context's tokens are cut out of the cache (positions shifted down), so the cache again holds
exactly ``history + user + reply``: the start of the next turn's prompt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.core.llm.prompt import Message, Template
from cairn.core.llm.runtime import Runtime, Sampler
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    text: str
    tokens: int
    finish: str  # stop (end of turn), stop_sequence, length, cancelled
    prompt_tokens: int  # tokens evaluated for the prompt (what was not cached already)
    first_token_s: float = 0.0  # from the start of the turn to the first sampled token
    decode_s: float = 0.0  # generating after the first token
    logprobs: tuple[float, ...] = ()  # natural-log probability of each generated token, when asked


class Chat:
    def __init__(self, runtime: Runtime, session: Session, system: str | None = None) -> None:
        self.rt = runtime
        self.session = session
        self.template = Template(runtime.metadata("tokenizer.chat_template"), runtime.special_text("bos"),
                                 runtime.special_text("eos"))
        self.messages: list[Message] = [Message("system", system)] if system else []
        if system:
            session.protected = len(self._tokens(self.messages, False))
        self._cached: str | None = ""  # the text the cache stands for (None: unknown, start over)

    def reset(self) -> None:
        """Forget the conversation (keep the system prompt); the next turn starts from scratch."""
        self.messages = [m for m in self.messages[:1] if m.role == "system"]
        self.session.truncate(0)
        self._cached = ""

    def state(self) -> dict[str, Any]:
        """The conversation the cache stands for (saved with a KV snapshot)."""
        return {"messages": [[m.role, m.content] for m in self.messages], "cached": self._cached}

    def load_state(self, state: dict[str, Any]) -> None:
        """Take back :meth:`state` after its KV snapshot was restored into the session."""
        self.messages = [Message(str(role), str(content)) for role, content in state["messages"]]
        cached = state.get("cached")
        self._cached = cached if isinstance(cached, str) else None

    def rewind(self) -> None:
        """Back to just the system prompt, keeping its cache: the next turn evaluates only itself."""
        system = [m for m in self.messages[:1] if m.role == "system"]
        if not system or self._cached is None:
            self.reset()
            return
        self.messages = system
        self.session.truncate(self.session.protected)
        self._cached = self.template.render(system, False)

    def _tokens(self, messages: list[Message], generation: bool) -> list[int]:
        return self.rt.tokenize(self.template.render(messages, generation), special=True)

    def turn(self, user: str, context: str | None = None, sampling: Sampling = Sampling(), max_tokens: int = 256,
             stop: tuple[str, ...] = (), on_text: Callable[[str], None] | None = None,
             cancel: Callable[[], bool] | None = None, logprobs: bool = False) -> Reply:
        """One user turn: evaluate what is new, stream the reply, then drop ``context`` from the cache."""
        extra = [Message("system", context)] if context else []
        parts = self._delta(extra, user)
        if parts is None:  # the template does not render the history as a prefix: start over
            parts = self._restart(extra, user)
        head, ctx, tail, texts = parts
        started = time.perf_counter()
        self.session.decay_scores()
        new = len(head) + len(ctx) + len(tail)
        max_tokens = max(1, min(max_tokens, self.session.capacity() - new))  # a reply never overflows
        self.session.make_room(new + max_tokens)  # no eviction mid-reply
        self.session.extend(head + ctx + tail)
        prompt_end = len(self.session)
        stream = _Stream([] if logprobs else None)
        with Sampler(self.rt, sampling) as sampler:
            reply, count, finish = self._generate(sampler, max_tokens, stop, on_text, cancel, stream)
        ended = time.perf_counter()
        if finish == "stop_sequence":  # keep only the reply's own tokens in the cache
            self.session.truncate(prompt_end)
            if reply:
                self.session.extend(self.rt.tokenize(reply, special=False))
        if ctx:
            self._drop(prompt_end - len(tail) - len(ctx), prompt_end - len(tail), ctx)
        self.messages += [Message("user", user), Message("assistant", reply)]
        self._cached = texts[0] + texts[2] + reply
        first = stream.first_at or ended
        return Reply(reply, count, finish, len(head) + len(ctx) + len(tail), first - started, ended - first,
                     tuple(stream.logprobs or ()))

    def _delta(self, extra: list[Message], user: str) -> tuple[list[int], list[int], list[int], tuple[str, str, str]] | None:
        """The new tokens of this turn as (before the context, the context, after it), tokenized on
        their own so the cached history is never re-tokenized (it may have evicted holes)."""
        a = self.template.render(self.messages, False) if self.messages else ""
        b = self.template.render(self.messages + extra, False) if self.messages or extra else ""
        full = self.template.render(self.messages + extra + [Message("user", user)], True)
        cached = self._cached
        if cached is None or not (a.startswith(cached) and b.startswith(a) and full.startswith(b)):
            return None
        pieces = (a[len(cached):], b[len(a):], full[len(b):])
        head, ctx, tail = (self.rt.tokenize(p, special=True) if p else [] for p in pieces)
        return head, ctx, tail, (cached + pieces[0], pieces[1], pieces[2])

    def _restart(self, extra: list[Message], user: str) -> tuple[list[int], list[int], list[int], tuple[str, str, str]]:
        """Re-render from scratch, dropping the oldest exchanges until the prompt fits."""
        log.info("chat template is not incremental here: re-evaluating the conversation")
        self.session.truncate(0)
        self._cached = ""
        system = [m for m in self.messages[:1] if m.role == "system"]
        rest = self.messages[len(system):]
        while True:
            self.messages = system + rest
            parts = self._delta(extra, user)
            assert parts is not None
            if sum(len(p) for p in parts[:3]) < self.rt.n_ctx // 2 or not rest:
                return parts
            rest = rest[2:]

    def _drop(self, start: int, end: int, ctx: list[int]) -> None:
        if self.session.tokens[start:end] != ctx:
            self._cached = None  # moved by an eviction: the next turn starts over
            return
        on_evict, self.session.on_evict = self.session.on_evict, None  # context is not evicted history
        try:
            self.session.cut(start, end)
        finally:
            self.session.on_evict = on_evict

    def _generate(self, sampler: Sampler, max_tokens: int, stop: tuple[str, ...],
                  on_text: Callable[[str], None] | None, cancel: Callable[[], bool] | None,
                  stream: _Stream) -> tuple[str, int, str]:
        out = b""
        shown = 0
        for count in range(max_tokens):
            if cancel is not None and cancel():
                return _text(out), count, "cancelled"
            token = sampler.sample()
            if count == 0:
                stream.first_at = time.perf_counter()
            if stream.logprobs is not None and self.session.last_logits is not None:
                stream.logprobs.append(_logprob(self.session.last_logits, token))
            if self.rt.is_end(token):
                return _text(out), count, "stop"
            self.session.extend([token])
            out += self.rt.piece(token)
            text = _text(out)
            hit = next((s for s in stop if s in text), None)
            if hit is not None:
                text = text[: text.index(hit)]
                if on_text is not None and len(text) > shown:
                    on_text(text[shown:])
                return text, count + 1, "stop_sequence"
            safe = len(text) - max((len(s) - 1 for s in stop), default=0)  # hold back a partial stop
            if on_text is not None and safe > shown:
                on_text(text[shown:safe])
                shown = safe
        text = _text(out)
        if on_text is not None and len(text) > shown:
            on_text(text[shown:])
        return text, max_tokens, "length"


@dataclass
class _Stream:
    """What a reply's generation records on the way: its log-probabilities, its first token's time."""

    logprobs: list[float] | None
    first_at: float | None = None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "ignore")



def _logprob(logits: np.ndarray, token: int) -> float:
    top = float(logits.max())
    return float(logits[token] - top - np.log(np.exp(logits - top).sum()))
