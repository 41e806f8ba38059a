"""Word lists and a light stemmer shared by the retrievers, the gate and the grounding checks."""

from __future__ import annotations

import functools

# Function words that carry almost no information about which memory is meant (a standard
# English stop list, trimmed: pronouns stay out of it because "my"/"I" matter to personal memory
# elsewhere, but they do not help tell one memory from another).
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves s t don d ll m o re ve y
""".split())


def is_stopword(word: str) -> bool:
    return word in STOPWORDS


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper ("works" -> "work", "moved" -> "mov"): enough to match a word's
    forms between a question and a memory, never shown to anyone."""
    w = word.casefold().replace("’", "'").removesuffix("'s").strip("'")
    for suffix in ("ingly", "edly", "ing", "ied", "ies", "ed", "es", "s", "ly"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance between ``a`` and ``b``, or ``limit + 1`` once it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        if min(row) > limit:
            return limit + 1
    return row[-1]
