"""Prompt-prefix caching for one-shot prompts that share a long beginning.

Each :meth:`PrefixCache.generate` keeps the prompt's tokens in the KV cache of its sequence; the
next prompt evaluates only what differs from the cached tokens (the reply itself is dropped).
This is how llama.cpp's server reuses a prompt, and how a chat app keeps a conversation's
transcript evaluated between questions. Greedy decoding.
"""

from __future__ import annotations

from cairn.core.llm.runtime import CONVERSATION, Runtime
from cairn.core.llm.sampling import Sampling


class PrefixCache:
    def __init__(self, runtime: Runtime, seq: int = CONVERSATION) -> None:
        self.rt, self.seq = runtime, seq
        self.cached: list[int] = []

    def clear(self) -> None:
        self.rt.kv_clear(self.seq)
        self.cached = []

    def _common(self, prompt: list[int]) -> int:
        n = 0
        for a, b in zip(self.cached, prompt[:-1], strict=False):  # the last prompt token is always evaluated (its logits)
            if a != b:
                break
            n += 1
        return n

    def generate(self, prompt: list[int], max_tokens: int, stop: str = "") -> tuple[str, str, int]:
        """(text, finish, prompt tokens evaluated) for ``prompt``, reusing the cached prefix."""
        keep = self._common(prompt)
        self.rt.kv_remove(self.seq, keep, -1)
        self.rt.decode(prompt[keep:], keep, self.seq, logits="last")
        self.cached = list(prompt)
        out, finish = self.rt.sample_on(self.seq, len(prompt), Sampling(temperature=0.0), max_tokens,
                                        (stop,) if stop else ())
        self.rt.kv_remove(self.seq, len(prompt), -1)
        text = self.rt.detokenize(out)
        return (text.split(stop, 1)[0] if stop else text), finish, len(prompt) - keep
