"""Importance: how much information a memory carries (entropy-based retention, after SirLLM).

A memory's importance is a calibrated combination of named, inspectable parts:

* ``info_background``: surprisal in bits of its content words under a background language model
  of word frequencies (wordfreq's English list), or, when an LLM is loaded, the model's own
  per-token surprisal of the text (SirLLM's token entropy) through :class:`TokenSurprisal`;
* ``info_personal``: surprisal of its words against the user's own memories (document
  frequencies kept by the bank): what is new *for this user*;
* ``novelty``: 1 - cosine similarity to the closest recent memory;
* content signals: length, content words, names, numbers, time references, first-person
  statements, plans and preferences; dialogue signals: questions, phatic words ("wow",
  "thanks"), addressing the other person, answering a question just asked.

The combination is a logistic model whose weights live in a JSON file fitted by
``cairn retention fit`` on labelled conversations (which turns were later asked about), not
tuned by hand in code. ``importance`` is then the model's probability that a memory will be
needed later. Turns without content (``ok``, ``haha thanks``) are not worth a memory at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from cairn.core.memory import logistic
from cairn.core.memory.lexicon import is_stopword
from cairn.core.memory.logistic import LogisticModel

FEATURES = ("info_background", "info_personal", "novelty", "length", "content_words", "names", "numbers",
            "time_refs", "self_reference", "plans_preferences", "question", "phatic", "addressee",
            "answers_question")
WEIGHTS_RESOURCE = ("cairn.models", "importance.json")  # fitted weights shipped with Cairn

_WORD = re.compile(r"\w+")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)(?<![.!?])\b[A-Z][a-z]{1,}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
SELF = frozenset("i me my mine myself we our ours ourselves us".split())
OTHER = frozenset("you your yours yourself u".split())
TIME = frozenset("""yesterday today tomorrow tonight week weekend weekends month months year years ago last next
recently soon since monday tuesday wednesday thursday friday saturday sunday january february march april
june july august september october november december summer winter spring autumn fall morning evening
birthday anniversary""".split())
PLANS = frozenset("""plan plans planning going gonna will want wants hope hoping decided decide start starting
thinking love loves favorite favourite prefer prefers like likes hate hates enjoy enjoys goal dream""".split())
PHATIC = frozenset("""wow thanks thank awesome cool amazing glad proud sounds nice congrats congratulations
haha hahaha lol sweet totally agree yeah yep yes oh hey hi hello bye ok okay great good luck aw aww
absolutely definitely sure really so cute see soon talk later catch care welcome fun happy well lot much""".split())


class Background(Protocol):
    """A background language model: bits of surprisal per content word of a text."""

    id: str

    def surprisal(self, text: str, words: list[str]) -> float: ...


class TokenSurprisal(Protocol):
    """What the LLM runtime provides: per-token surprisal (bits) of a text under the model."""

    model_id: str

    def token_surprisal(self, text: str) -> list[tuple[str, float]]: ...


class WordFrequencyBackground:
    """Unigram surprisal from wordfreq's English frequency list (no model needed)."""

    id = "wordfreq-en"
    floor = 1e-8  # unseen words count as about as rare as wordfreq's rarest

    def warm(self) -> None:
        """Load the word list now (0.1-0.3 s), not in the middle of a write transaction."""
        _word_frequency("the")

    def surprisal(self, text: str, words: list[str]) -> float:
        return float(sum(-math.log2(max(_word_frequency(w), self.floor)) for w in words))


class ModelBackground:
    """Surprisal from the loaded LLM: the sum of its token surprisals over the text."""

    def __init__(self, scorer: TokenSurprisal) -> None:
        self.scorer = scorer
        self.id = f"llm:{scorer.model_id}"

    def surprisal(self, text: str, words: list[str]) -> float:
        return float(sum(bits for _, bits in self.scorer.token_surprisal(text)))


class FixedBackground:
    """A surprisal computed earlier (outside the write transaction) for one text."""

    def __init__(self, ident: str, bits: float) -> None:
        self.id = ident
        self.bits = bits

    def surprisal(self, text: str, words: list[str]) -> float:
        return self.bits


@lru_cache(maxsize=200_000)
def _word_frequency(word: str) -> float:
    import wordfreq  # loads its list on first use (about 0.1 s)

    return float(wordfreq.word_frequency(word, "en"))


@dataclass(frozen=True)
class Context:
    """What the bank knows when a text arrives."""

    corpus_size: int = 0  # live memories so far
    document_frequency: dict[str, int] | None = None  # how many memories hold each content word
    nearest_similarity: float = 0.0  # cosine to the closest recent memory
    previous_text: str | None = None  # the turn just before, said by someone else


def words(text: str) -> list[str]:
    """Lower-cased word tokens, split as the bank counts words (so document frequencies match)."""
    return _WORD.findall(text.casefold())


def content_words(tokens: list[str]) -> list[str]:
    return [w for w in tokens if not is_stopword(w) and w not in PHATIC and w not in SELF and w not in OTHER]


def features(text: str, context: Context, background: Background) -> dict[str, float]:
    """The named parts of a text's importance (raw values, before the model's scaling)."""
    tokens = words(text)
    n = max(len(tokens), 1)
    content = content_words(tokens)
    df = context.document_frequency or {}
    personal = sum(-math.log2((df.get(w, 0) + 1) / (context.corpus_size + 2)) for w in content)
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    previous = (context.previous_text or "").rstrip()
    return {
        "info_background": math.log1p(background.surprisal(text, content)),
        "info_personal": math.log1p(personal),
        "novelty": 1.0 - max(min(context.nearest_similarity, 1.0), 0.0),
        "length": math.log1p(len(tokens)),
        "content_words": math.log1p(len(content)),
        "names": math.log1p(len(_NAME.findall(text))),
        "numbers": math.log1p(sum(w[0].isdigit() for w in tokens)),
        "time_refs": math.log1p(sum(w in TIME for w in tokens)),
        "self_reference": sum(w in SELF for w in tokens) / n,
        "plans_preferences": math.log1p(sum(w in PLANS for w in tokens)),
        "question": sum(s.endswith("?") for s in sentences) / max(len(sentences), 1),
        "phatic": sum(w in PHATIC for w in tokens) / n,
        "addressee": sum(w in OTHER for w in tokens) / n,
        "answers_question": float("?" in previous),
    }


def worth_storing(text: str) -> bool:
    """False for turns with no content of their own ("ok", "haha thanks", "see you!")."""
    tokens = words(text)
    return len(content_words(tokens)) >= 2 or any(w[0].isdigit() for w in tokens)


@dataclass(frozen=True)
class Importance:
    """A memory's importance (0..1) and what it is made of."""

    score: float
    parts: dict[str, float]  # raw feature values
    contributions: dict[str, float]  # each part's push on the log-odds (weight * standardised value)


class ImportanceModel(LogisticModel):
    """The fitted logistic combination of the parts (``models/importance.json``)."""

    @classmethod
    def load(cls, path: Path | None = None) -> ImportanceModel:  # type: ignore[override]  # fixed resource and features
        """The weights at ``path``, or those shipped with Cairn."""
        m = LogisticModel.load(path, WEIGHTS_RESOURCE[1], FEATURES, "importance", "cairn retention fit")
        return cls(m.features, m.mean, m.scale, m.weights, m.bias, m.meta)

    @classmethod
    def neutral(cls) -> ImportanceModel:  # type: ignore[override]  # its features are fixed
        """Every part weighs nothing: importance 0.5 for all (used while collecting parts to fit)."""
        m = LogisticModel.neutral(FEATURES)
        return cls(m.features, m.mean, m.scale, m.weights, m.bias, m.meta)

    def score(self, parts: dict[str, float]) -> Importance:
        p = self.predict(parts)
        return Importance(p.probability, p.values, p.pushes)


def fit(rows: list[dict[str, float]], labels: list[bool], l2: float = 1.0,
        meta: dict[str, Any] | None = None, names: tuple[str, ...] = FEATURES) -> ImportanceModel:
    """Fit importance weights on labelled parts (label: a later question cited the memory)."""
    m = logistic.fit(rows, labels, names, l2, meta)
    return ImportanceModel(m.features, m.mean, m.scale, m.weights, m.bias, m.meta)
