"""The model's own retrieval vote (after Adapt-LLM's ``<RET>`` token): asked whether answering a
message needs the user's memories, what probability does the model put on ``<RET>`` rather than
``NO``? First-token probabilities on the scratch sequence; the conversation's cache is untouched."""

from __future__ import annotations

import logging

from cairn.core.errors import ContextFullError
from cairn.core.llm.prompt import Message, Template
from cairn.core.llm.runtime import Runtime

log = logging.getLogger(__name__)
GATE_PROMPT = ("Decide whether answering the user's message needs their personal memories (things they told "
               "you before). Reply <RET> if it does, NO if general knowledge or the message itself is enough.")


def retrieval_vote(rt: Runtime, template: Template, text: str) -> float | None:
    """P(<RET>), or None when the prompt finds no room beside the conversation."""
    prompt = template.render([Message("system", GATE_PROMPT), Message("user", text)], True)
    try:
        return rt.choice(rt.tokenize(prompt), ["<RET>", "NO"])[0]
    except ContextFullError:
        log.info("no room for the gate prompt beside the conversation: cheap signals only")
        return None
