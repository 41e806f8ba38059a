"""The retrieval gate's signals: what the bank knows about the question, and the question's form.

Three groups, each cheap (no model; the one embedding is the one recall needs anyway):

- **Bank support**: the names the question uses (capitalised, or any word that is a speaker's
  name) and whether the bank's memories mention them; how much of the question, weighted by how
  rare each word is in this bank, the single best keyword-matching memory covers; whether that
  memory holds a name of the question together with another of its words (what the bank knows
  *about* the name, not just that it exists); the best memory's embedding similarity.
- **Form**: first or second person, the people of a life ("my sister", "the landlord"), recall
  cues ("remind me", "again", "according to"), past and time words, tasks, how-to and
  definition questions, greetings and thanks, arithmetic and units, bare noun phrases.
- **Conversation**: the previous turn used memory, and this one is an elliptic follow-up
  ("and the address?") or announces a change of topic.

Every value is a plain float so a fitted logistic model (``cairn gate fit``) can weigh them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from cairn.core.memory.lexicon import is_stopword, stem

FEATURES = ("speaker_named", "names_known", "names_unknown", "name_mentions", "name_context", "keyword_cover",
            "bank_support", "similarity", "first_person", "second_person", "relation", "recall_cue", "time_or_past",
            "task_request", "how_to", "advice", "why", "definition", "encyclopedic", "greeting", "arithmetic",
            "fragment", "question_form",
            "after_memory", "elliptic_after_memory", "topic_shift", "cover_x_support", "cover_x_fragment",
            "similarity_x_cover")

MATCH_WORDS = 4  # the question's rarest words the keyword match looks for (the rest barely rank) ...
COMMON_SHARE = 0.1  # ... leaving out words in more than this share of the memories
_NAME = re.compile(r"\b([A-Z][\wà-ÿ]*(?:['’]s)?(?:[ -][A-Z][\wà-ÿ]*(?:['’]s)?)*)")
_WORD = re.compile(r"\w+")
FIRST = frozenset("i me my mine myself we us our ours ourselves im ive id".split())
SECOND = frozenset("you your yours yourself".split())
RELATIONS = frozenset("""mum mom mother mama dad father papa parents sister sis brother bro wife husband partner
boyfriend girlfriend fiance fiancee son daughter kids baby grandma grandmother granny grandpa grandfather aunt
uncle cousin niece nephew boss manager colleague coworker landlord landlady neighbour neighbor friend roommate
flatmate doctor dentist vet therapist teacher tutor coach trainer mechanic""".split())
RECALL = re.compile(r"\b(remind|remember|recall|again|look up|show me|find my|my notes?|according to|did i|have i|"
                    r"was i|what did \w+ (say|tell|mention|ask)|did \w+ (say|tell|mention))\b")
TIME = frozenset("""when ago last yesterday earlier before since previously did was were had week month year
weekend birthday recently""".split())
TASKS = frozenset("""write compose draft translate summarize summarise explain calculate compute convert list
generate create give tell define solve rewrite code implement suggest recommend plan compare make help""".split())
HOW_TO = re.compile(r"\bhow (do|can|should|would|to|does|did) (i|you|we|one|people|they)\b|\bhow to\b|"
                    r"\bwhat('s| is) the best way\b")
ADVICE = re.compile(r"\b(any tips|tips (for|on)|advice|where do i start|should i|what should i|ideas for|"
                    r"i want to|i'm getting into|recommend|suggest)\b")
DEFINITION = re.compile(r"^(what|who)( i|'| wa|'re| are| were)s? (a |an |the )?[\w -]*\w(?<! to)(?<! for)"
                        r"(?<! with)(?<! about)(?<! at)(?<! from)(?<! on)(?<! in)(?<! of)\??$|^what does .* mean|"
                        r"^define\b|^who (wrote|invented|discovered|founded|painted|directed|composed|won)\b|"
                        r"^(which|what) (is|are|was) the (largest|longest|biggest|smallest|highest|capital|population)")
ENCYCLOPEDIC = re.compile(r"\b(is|are|was|were|be) (\w+ ){0,4}(created|built|founded|held|invented|discovered|written|"
                          r"grown|used|called|named|known|formed|produced|established|designed|painted|pruned|"
                          r"measured|linked|caused|treated|made of)\b")
GREETINGS = frozenset("""hi hello hey yo hiya thanks thank thx ty cheers bye goodbye morning evening night ok okay cool
lol haha great nice wow sup""".split())
ARITH = re.compile(r"\d\s*[-+*/x×÷^]\s*\d|\bsquare root\b|\bpercent\b|%|\b(km|kg|miles?|lbs?|celsius|fahrenheit|"
                   r"kilometres?|kilometers?|pounds|ounces|grams|litres?|liters?|gallons)\b")
QUESTION_WORDS = frozenset("what when where who whom whose which why how is are do does did can could would should "
                           "will am was were have has had".split())
ELLIPTIC = re.compile(r"^(and|also|then|what about|how about|and what|so|or)\b")
SHIFT = re.compile(r"\b(unrelated|by the way|btw|different question|another question|anyway|new topic|"
                   r"random question|off topic)\b")


class Probe(Protocol):
    """What the gate may ask the memory bank (cheap lookups only)."""

    def speakers(self) -> set[str]: ...

    def document_frequency(self, words: list[str]) -> dict[str, int]: ...

    def memory_count(self) -> int: ...

    def near_spellings(self, words: list[str]) -> dict[str, tuple[str, int]]:
        """For words the bank lacks: the bank's word each most likely misspells, and its document frequency."""
        ...

    def keyword_matches(self, words: list[str]) -> list[set[str]]:
        """The stemmed words of each of the few memories that best match ``words``."""
        ...

    def best_similarity(self, query: str, embedder_id: str) -> float | None:
        """Cosine similarity of the memory nearest ``query``; None when the bank's vectors are not
        from ``embedder_id`` (the embedder the weights were fitted with) or there are none."""
        ...


@dataclass(frozen=True)
class Context:
    """The conversation around the question."""

    previous_used_memory: bool = False


def signals(query: str, probe: Probe, context: Context = Context(), embedder_id: str = "") -> dict[str, float]:
    """Every signal of one query against the bank, by name (see :data:`FEATURES`). The similarity
    is NaN (no evidence) unless the bank's vectors come from ``embedder_id``."""
    text = query.strip()
    lower = text.casefold().replace("’", "'")
    words = _WORD.findall(lower)
    out = _bank(text, words, probe, embedder_id)
    out.update(_form(lower, words))
    out.update(_conversation(lower, words, context))
    out.update(cover_x_support=out["keyword_cover"] * out["bank_support"],
               cover_x_fragment=out["keyword_cover"] * out["fragment"],
               similarity_x_cover=out["similarity"] * out["keyword_cover"])  # NaN stays NaN: no evidence
    return out


def _bank(text: str, words: list[str], probe: Probe, embedder_id: str) -> dict[str, float]:
    speakers = {s.casefold() for s in probe.speakers()} - {"user"}
    spoken = {w for w in words if w in speakers}
    names = [n for n in _names(text) if n not in spoken]
    content = list(dict.fromkeys(w for w in words if not is_stopword(w) and len(w) > 2 and not w.isdigit()))
    df = probe.document_frequency(sorted(set(content) | {w for n in names for w in n.split()}))
    content, df = _spelled(content, df, probe)
    known = [n for n in names if all(df.get(w, 0) > 0 for w in n.split())]
    total = max(probe.memory_count(), 1)
    weight = {w: math.log(1 + total / max(df.get(w, 0), 0.5)) for w in content}
    held = sorted((w for w in content if 0 < df.get(w, 0) <= COMMON_SHARE * total or df.get(w, 0) == 1),
                  key=lambda w: df[w])
    matches = probe.keyword_matches(held[:MATCH_WORDS]) if held else []
    cover = max((sum(weight[w] for w in content if _holds(m, w)) for m in matches), default=0.0)
    named = {w for n in known for w in n.split()} | spoken
    others = set(content) - named
    similarity = probe.best_similarity(text, embedder_id) if embedder_id else None
    return {
        "speaker_named": float(bool(spoken)),
        "names_known": math.log1p(len(known)),
        "names_unknown": math.log1p(len(names) - len(known)),
        "name_mentions": max((math.log1p(min(df.get(w, 0) for w in n.split())) for n in known), default=0.0),
        "name_context": float(any(any(_holds(m, w) for w in named) and any(_holds(m, w) for w in others)
                                  for m in matches)),
        "keyword_cover": cover / max(sum(weight.values()), 1e-9),
        "bank_support": sum(df.get(w, 0) > 0 for w in content) / max(len(content), 1),
        "similarity": math.nan if similarity is None else similarity,
    }


def _spelled(content: list[str], df: dict[str, int], probe: Probe) -> tuple[list[str], dict[str, int]]:
    """The content words with each word the bank lacks replaced by the bank's word it most likely
    misspells ("apartmnt" -> "apartment"), so a typo does not read as an unknown topic."""
    lacking = sorted((w for w in content if df.get(w, 0) == 0 and len(w) >= 5 and w.isalpha()), key=len)[-3:]
    near = probe.near_spellings(lacking) if lacking else {}
    df = dict(df) | {term: n for term, n in near.values()}
    return list(dict.fromkeys(near[w][0] if w in near else w for w in content)), df


def _form(lower: str, words: list[str]) -> dict[str, float]:
    lead = [w for w in words if w not in ("please", "can", "could", "you", "u", "would", "pls", "hey", "ok", "so")][:1]
    short = len(words) <= 6
    greeting = short and (not words or words[0] in GREETINGS or all(w in GREETINGS for w in words)
                          or bool(re.match(r"(good|have a) (morning|evening|night|day)", lower)))
    return {
        "first_person": float(any(w in FIRST for w in words)),
        "second_person": float(any(w in SECOND for w in words)),
        "relation": float(any(w in RELATIONS for w in words)),
        "recall_cue": float(bool(RECALL.search(lower))),
        "time_or_past": math.log1p(sum(w in TIME for w in words)),
        "task_request": float(bool(lead) and lead[0] in TASKS),
        "how_to": float(bool(HOW_TO.search(lower))),
        "advice": float(bool(ADVICE.search(lower))),
        "why": float(bool(words) and words[0] == "why"),
        "definition": float(bool(DEFINITION.search(lower)) and not any(w in FIRST for w in words)),
        "encyclopedic": float(bool(ENCYCLOPEDIC.search(lower)) and not any(w in FIRST for w in words)),
        "greeting": float(greeting),
        "arithmetic": float(bool(ARITH.search(lower))),
        "fragment": float(short and not greeting and words[0] not in QUESTION_WORDS and words[0] not in TASKS),
        "question_form": float(lower.rstrip().endswith("?") or bool(words) and words[0] in QUESTION_WORDS),
    }


def _conversation(lower: str, words: list[str], context: Context) -> dict[str, float]:
    after = float(context.previous_used_memory)
    elliptic = bool(ELLIPTIC.search(lower)) or len(words) <= 4
    return {"after_memory": after, "elliptic_after_memory": after * float(elliptic),
            "topic_shift": float(bool(SHIFT.search(lower)))}


def _holds(memory_words: set[str], word: str) -> bool:
    """Whether a memory's stemmed words hold ``word`` or a word sharing its first five letters
    ("allergic" and "allergy")."""
    s = stem(word)
    return s in memory_words or len(s) >= 5 and any(m.startswith(s[:5]) for m in memory_words)


def _names(text: str) -> list[str]:
    """Casefolded capitalised names that are not the first word of a sentence (nor "I")."""
    out = []
    for match in _NAME.finditer(text):
        before = text[: match.start()].rstrip()
        name = re.sub(r"['’]s\b", "", match.group(1)).casefold()
        if before and before[-1] not in ".!?" and name not in ("i", "i'm") and not is_stopword(name):
            out.append(name)
    return list(dict.fromkeys(out))


def is_request(text: str) -> bool:
    """A question or a task ("write ...", "what is ...?"), as opposed to a statement to remember."""
    words = _WORD.findall(text.casefold())
    return text.rstrip().endswith("?") or bool(words) and (words[0] in TASKS or words[0] in QUESTION_WORDS)
