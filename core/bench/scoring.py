"""Answer scoring as LoCoMo does it: normalised, stemmed token F1 against the gold answer.

Normalisation follows LoCoMo's evaluation: lower case, no punctuation, no articles (a, an, the),
single spaces; tokens are stemmed (LoCoMo uses the Porter stemmer; this is a light suffix stemmer
with the same effect on the usual -s, -ed, -ing endings, so figures are close but not identical).
Category 1 (multi-hop) answers list several parts: each gold part (split on commas) takes its
best F1 against the answer's parts, and the parts are averaged. Category 3 keeps the gold answer
before its first ";". Category 5 (the premise is false) is scored as abstention: 1 when the
answer declines.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_SUFFIXES = ("ingly", "edly", "ing", "ied", "ies", "ed", "es", "s", "ly")


def normalise(text: str) -> str:
    text = text.lower().replace(",", " ")
    text = "".join(c for c in text if c not in set(string.punctuation) | {"’", "‘", "“", "”"})
    return " ".join(_ARTICLES.sub(" ", text).split())


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    return [stem(w) for w in normalise(text).split()]


def f1(prediction: str, gold: str) -> float:
    p, g = tokens(prediction), tokens(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def f1_multi(prediction: str, gold: str) -> float:
    """Category 1: each gold part's best match among the answer's parts, averaged."""
    preds = [p for p in prediction.split(",") if p.strip()] or [prediction]
    golds = [g for g in gold.split(",") if g.strip()] or [gold]
    return sum(max(f1(p, g) for p in preds) for g in golds) / len(golds)


def score(category: str, prediction: str, gold: str) -> float:
    if category == "1":
        return f1_multi(prediction, gold)
    if category == "3":
        gold = gold.split(";")[0]
    return f1(prediction, gold)
