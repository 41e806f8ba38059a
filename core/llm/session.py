"""A conversation's KV cache: the token list Cairn believes is cached, always equal to what
llama.cpp holds in sequence 0 at positions 0..n-1.

Each turn evaluates only the tokens after the longest common prefix with what is cached. When the
next tokens would not fit, an eviction policy (:mod:`cairn.core.llm.kv`) picks spans to drop;
each span is removed and the tokens after it shifted down, so positions stay contiguous and RoPE
consistent, without re-evaluating anything. Dropped spans go to ``on_evict`` (the assistant
turns them into candidate memories).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cairn.core.errors import ContextFullError
from cairn.core.llm import kv
from cairn.core.llm.runtime import CONVERSATION, Runtime

log = logging.getLogger(__name__)


@dataclass
class EvictionStats:
    events: int = 0
    tokens: int = 0
    seconds: float = 0.0
    spans: list[int] = field(default_factory=list)


class Session:
    def __init__(self, runtime: Runtime, eviction: kv.Eviction = kv.Eviction(), protected: int = 0,
                 on_evict: Callable[[str], None] | None = None) -> None:
        self.rt = runtime
        self.eviction = eviction
        self.protected = protected  # leading tokens never evicted (the system prompt)
        self.on_evict = on_evict
        self.tokens: list[int] = []
        self.scores: list[float] = []  # token entropy (bits) per cached token, decayed per turn
        self.stats = EvictionStats()
        self.last_logits: np.ndarray | None = None
        runtime.kv_clear(CONVERSATION)

    def __len__(self) -> int:
        return len(self.tokens)

    def sync(self, tokens: list[int]) -> np.ndarray:
        """Make the cache hold ``tokens`` (evaluating only what differs from what is cached) and
        return the logits after the last one. Evicts first when they would not fit."""
        common = common_prefix(self.tokens, tokens)
        if common == len(tokens) and common == len(self.tokens) and self.last_logits is not None:
            return self.last_logits
        if common == len(tokens):  # nothing new to evaluate: re-evaluate the last token for its logits
            common -= 1
        self.truncate(common)
        return self.extend(tokens[common:])

    def truncate(self, n: int) -> None:
        """Drop everything cached from index ``n`` on (an edit, a regeneration, a cancelled turn)."""
        if n < len(self.tokens):
            self.rt.kv_remove(CONVERSATION, n, -1)
            del self.tokens[n:], self.scores[n:]
            self.last_logits = None

    def extend(self, new: list[int]) -> np.ndarray:
        """Evaluate ``new`` after what is cached; returns the logits after the last token."""
        if not new:
            raise ValueError("nothing to evaluate")
        if len(new) > self.rt.n_ctx - max(self.eviction.sinks, self.protected) - 1:
            raise ContextFullError(f"A prompt of {len(new)} tokens is longer than the context window of "
                                   f"{self.rt.n_ctx} tokens allows.", hint="Shorten it, or use a larger llm.n_ctx.")
        self.make_room(len(new))
        want = "all" if self.eviction.policy == "entropy" else "last"
        rows = self.rt.decode(new, len(self.tokens), CONVERSATION, logits=want)
        self.scores += _surprisal(rows, new, self.last_logits) if want == "all" else [0.0] * len(new)
        self.tokens += new
        last: np.ndarray = rows[-1]
        self.last_logits = last
        return last

    def capacity(self) -> int:
        """Most tokens one turn can add: the context minus what eviction always keeps."""
        front, back = kv.kept(self.rt.n_ctx, self.protected, self.eviction)
        return max(self.rt.n_ctx - front - back, 1)

    def make_room(self, needed: int) -> None:
        try:
            spans = kv.plan(len(self.tokens), needed, self.rt.n_ctx, self.protected, self.scores, self.eviction)
        except ValueError as exc:
            raise ContextFullError(f"The next {needed} tokens cannot fit in the context window of "
                                   f"{self.rt.n_ctx} tokens ({exc}).", hint="Use a larger llm.n_ctx.") from exc
        if not spans:
            return
        started = time.perf_counter()
        for start, end in reversed(spans):  # from the back, so earlier indexes stay valid
            self.cut(start, end)
        self.stats.events += 1
        self.stats.seconds += time.perf_counter() - started

    def cut(self, start: int, end: int) -> list[int]:
        """Remove cached tokens [start, end) and shift the rest down; returns the removed tokens."""
        removed = self.tokens[start:end]
        self.rt.kv_remove(CONVERSATION, start, end)
        self.rt.kv_shift(CONVERSATION, end, -1, -(end - start))
        del self.tokens[start:end], self.scores[start:end]
        self.stats.tokens += len(removed)
        self.stats.spans.append(len(removed))
        if self.on_evict and removed:
            self.on_evict(self.rt.detokenize(removed))
        return removed

    def decay_scores(self) -> None:
        """Age the token entropies once per turn (entropy policy)."""
        self.scores = [s * self.eviction.decay for s in self.scores]

    def check(self) -> None:
        """Assert that llama.cpp holds exactly as many positions as the mirror (tests, debugging)."""
        held = self.rt.kv_pos_max(CONVERSATION) + 1
        if held != len(self.tokens):
            raise AssertionError(f"cache holds {held} positions, the session believes {len(self.tokens)}")


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _surprisal(rows: np.ndarray, tokens: list[int], before: np.ndarray | None) -> list[float]:
    """Bits of each new token given the logits before it (the first one's come from ``before``,
    the logits after the previously cached token, when known)."""
    prior = rows[:-1] if before is None else np.vstack([before[None, :], rows[:-1]])
    logz = prior.max(axis=1) + np.log(np.exp(prior - prior.max(axis=1)[:, None]).sum(axis=1))
    targets = tokens[1:] if before is None else tokens
    bits: list[float] = ((logz - prior[np.arange(len(targets)), targets]) / np.log(2.0)).tolist()
    return ([0.0] if before is None else []) + bits
