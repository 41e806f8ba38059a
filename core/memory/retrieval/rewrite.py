"""Query rewriting without an LLM.

Conversation memories are embedded as "Speaker: what they said", in the speaker's own first
person. A question about a speaker ("What is Caroline's job?") is therefore closer to those keys
when asked from that speaker's side ("Caroline: What is my job?"). Only a query that names exactly
one known speaker is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FUZZY_FROM = 5  # names this long also match a word one typo away ("Carolin", "Melanei")


def mentions(query: str, speakers: Iterable[str]) -> dict[str, str]:
    """Each known speaker the query names, with the word that names them: the name itself, or for
    a name of 5 letters or more a capitalised word one typo (a letter missing, added, changed or
    two swapped) away, as people misspell names in real chats."""
    found: dict[str, str] = {}
    words = [w for w in re.findall(r"[^\W\d_]+", query) if w[:1].isupper()]
    for s in speakers:
        if not s:
            continue
        if re.search(rf"\b{re.escape(s)}\b", query, re.IGNORECASE):
            found[s] = s
        elif len(s) >= FUZZY_FROM:
            near = [w for w in words if _one_typo(w.casefold(), s.casefold())]
            if near:
                found[s] = near[0]
    return found


def _one_typo(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one edit (Damerau: a swap counts as one)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def named_speakers(query: str, speakers: Iterable[str]) -> list[str]:
    return list(mentions(query, speakers))


def perspective(query: str, speakers: Iterable[str]) -> str | None:
    """The query in the first person of the one speaker it names, or None."""
    named = mentions(query, speakers)
    if len(named) != 1:
        return None
    speaker, word = next(iter(named.items()))
    name = re.escape(word)
    text = re.sub(rf"\b{name}['’]s\b", "my", query, flags=re.IGNORECASE)
    text = re.sub(rf"\b{name}\b", "I", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:his|her)\b", "my", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:he|she)\b", "I", text, flags=re.IGNORECASE)
    return f"{speaker}: {text}"
