"""Query rewriting without an LLM.

Conversation memories are embedded as "Speaker: what they said", in the speaker's own first
person. A question about a speaker ("What is Caroline's job?") is therefore closer to those keys
when asked from that speaker's side ("Caroline: What is my job?"). Only a query that names exactly
one known speaker is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def named_speakers(query: str, speakers: Iterable[str]) -> list[str]:
    return [s for s in speakers if s and re.search(rf"\b{re.escape(s)}\b", query, re.IGNORECASE)]


def perspective(query: str, speakers: Iterable[str]) -> str | None:
    """The query in the first person of the one speaker it names, or None."""
    named = named_speakers(query, speakers)
    if len(named) != 1:
        return None
    name = re.escape(named[0])
    text = re.sub(rf"\b{name}['’]s\b", "my", query, flags=re.IGNORECASE)
    text = re.sub(rf"\b{name}\b", "I", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:his|her)\b", "my", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:he|she)\b", "I", text, flags=re.IGNORECASE)
    return f"{named[0]}: {text}"
