"""How likely the model finds the user's question after each memory: log p(question | memory), the
unsupervised passage re-ranking of UPR (Sachan et al., 2022). Asked yes or no, the bundled 135M
model judges relevance at chance; the likelihood of the question after a memory still orders a
recall's best candidates (docs/benchmarks.md). Scored on the scratch sequence: the conversation's
cache is untouched, and the prompt's fixed opening is evaluated once per question."""

from __future__ import annotations

import logging

from cairn.core.errors import ContextFullError
from cairn.core.llm.prompt import Message, Template
from cairn.core.llm.runtime import Runtime

log = logging.getLogger(__name__)
RELEVANCE_PROMPT = "Here is a message from a chat.\n{passage}\nWrite a question that this message answers."
SLOT = "\x00passage\x00"
MAX_PASSAGE_CHARS = 1200  # a longer memory is cut: its opening says what it is about
MAX_QUERY_TOKENS = 64  # a longer query (a whole dialogue) is scored on its last tokens


class QueryLikelihood:
    """``scorer(query, passages)``: log p(query | passage) for each passage, in nats, or None when
    the prompt finds no room beside the conversation."""

    def __init__(self, rt: Runtime, template: Template) -> None:
        self.rt, self.template = rt, template
        prompt = template.render([Message("user", RELEVANCE_PROMPT.format(passage=SLOT))], True)
        head, self._tail = prompt.split(SLOT, 1)
        self._head = rt.tokenize(head, special=True)

    def __call__(self, query: str, passages: list[str]) -> list[float] | None:
        if not passages:
            return []
        tokens = self.rt.tokenize(query, special=False)[-MAX_QUERY_TOKENS:]
        if not tokens:
            return None
        bodies = [self.rt.tokenize(p[:MAX_PASSAGE_CHARS] + self._tail, special=True) for p in passages]
        try:
            return self.rt.likelihoods(self._head, bodies, tokens)
        except ContextFullError:
            log.info("no room to score memories beside the conversation: recall's order kept")
            return None
