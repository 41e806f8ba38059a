"""Keeping answers honest: the memory proves, the model phrases, the user sees the proof.

Pure functions over the question, the memories shown and an answer's text:

* :func:`evidence` picks the memory that answers the question: the one sharing the most content
  words with it (light stemming), among those that support every name the question asks about;
* :func:`premise` says which name in a question no shown memory supports, so the assistant
  declines ("I have nothing about Melanie's necklace") instead of answering about someone else.
  A name supports a memory when its speaker is that person or its text mentions them, except as
  a form of address ("Thanks, Melanie!"), which says nothing about them;
* :func:`unsupported` lists the names, numbers and dates of an answer that neither the memories
  (their text, speakers and dates, and dates their relative words point to) nor the question hold;
* :func:`extractive` answers from the evidence itself: a date for "when" questions (resolving
  "yesterday" against the memory's own time), else the sentence that answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cairn.core.memory.lexicon import is_stopword
from cairn.core.memory.lexicon import stem as _stem
from cairn.core.memory.retrieval.timeref import day_text, resolve_relative
from cairn.core.memory.storage.records import Memory

_WORD = re.compile(r"[\w'’]+")
_CAPITAL = re.compile(r"\b[A-Z][\w'’-]*")
_QUOTED = re.compile(r"[\"“][^\"”]{1,80}[\"”]")
_NUMBER = re.compile(r"\b\d[\d,.:]*\b")
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bMrs\.)(?<!\bvs\.)\s+")
MONTHS = ("january february march april may june july august september october november december").split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
NUMBER_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                                "twelve".split())}
NOT_NAMES = frozenset("""i i'm i've i'd i'll im ok okay yes no yeah yep sure thanks thank hi hey hello wow oh great good
nice awesome cool sorry please dear well so congrats congratulations aw aww omg haha lol what whose who whom which when
where why how would could should will can did does do is are was were has have had""".split())
TEMPORAL = re.compile(r"^\s*(when\b|what (?:date|day|year|month|time)\b|how long ago\b|which (?:day|year|month)\b)",
                      re.IGNORECASE)
_INTERJECTION = re.compile(r"^(?:(?:hey|hi|hello|thanks|thank you|wow|oh|aw+|yeah|yes|no|omg|haha|great|congrats|"
                           r"sure|ok|okay)\b[^.!?]{0,30}[.!?,]\s+)+", re.IGNORECASE)


def words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text)}


def content_words(text: str, names: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The question's words that carry meaning (no stop words, no names)."""
    return {s for w in _WORD.findall(text) if not is_stopword(w.casefold()) and len(w) > 2
            and (s := _stem(w)) not in names and s not in NOT_NAMES}


def names(text: str) -> list[str]:
    """Capitalised words that are names: not stop words, not the pronoun "I", not greetings."""
    out = []
    for token in _CAPITAL.findall(text):
        plain = token.replace("’", "'").removesuffix("'s").strip("'-")
        if plain and not is_stopword(plain.casefold()) and plain.casefold() not in NOT_NAMES \
                and plain.casefold() not in WEEKDAYS and plain.casefold() not in MONTHS:
            out.append(plain)
    return list(dict.fromkeys(out))


def _vocatives(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each name used as a form of address: "Thanks, Ana!", "Ana, look",
    "you did it, Ana.", "Hey Mel!"."""
    pattern = re.compile(r"(?:^|[.!?,;:]\s*|\b(?:hey|hi|hello|thanks|thank you|dear|yo|bye|congrats|wow|oh)\s+)"
                         r"([A-Z][\w'’-]+)\s*(?=[,!?.;:]|$)", re.IGNORECASE)
    return [(m.start(1), m.end(1), m.group(1)) for m in pattern.finditer(text) if m.group(1)[0].isupper()]


def _same_person(a: str, b: str) -> bool:
    """Ana and ana; Mel and Melanie (a name and its short form of at least three letters)."""
    a, b = a.casefold(), b.casefold()
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short) >= 3 and long_.startswith(short))


FIRST = frozenset("i i'm i've i'd i'll me my mine myself we we're we've our ours us".split())
SECOND = frozenset("you you're you've you'd you'll your yours yourself".split())


def about(memory: Memory) -> list[str]:
    """Who a memory is about: people it names (other than in address); its speaker when it speaks
    in the first person (or in no person at all); whoever it addresses when it says "you"."""
    text = memory.text
    tokens = {w.casefold().replace("’", "'") for w in _WORD.findall(text)}
    address = _vocatives(text)
    spans = [(a, b) for a, b, _ in address]
    people = [n for n in names(text) if not any(a <= m.start() < b for m in re.finditer(rf"\b{re.escape(n)}\b", text)
                                                for a, b in spans)
              or len(re.findall(rf"\b{re.escape(n)}\b", text)) > len([1 for _, _, v in address if v == n])]
    speaker = memory.source.speaker
    if speaker and (tokens & FIRST or not tokens & SECOND) and not _asks(text):  # a question tells nothing of its asker
        people.append(speaker)
    if tokens & SECOND:
        people += [v for _, _, v in address]
    return list(dict.fromkeys(people))


def supports_name(memory: Memory, name: str) -> bool:
    """Whether ``memory`` is about ``name`` (see :func:`about`)."""
    return any(_same_person(name, person) or _same_person(name, person.split()[0]) for person in about(memory))


def premise(question: str, shown: list[Memory]) -> list[str]:
    """The names the question asks about that the answering memory does not support (empty: the
    premise holds, or there is nothing to check)."""
    asked = names(_QUOTED.sub(" ", question))  # a quoted title ("Becoming Nicole") is not a person
    if not asked or not shown:
        return []
    best = evidence(question, shown, require_names=False)
    if best is not None and all(supports_name(best, n) for n in asked):
        return []
    if evidence(question, shown, require_names=True) is not None:
        return []
    return [n for n in asked if best is None or not supports_name(best, n)]


def evidence(question: str, shown: list[Memory], require_names: bool = True) -> Memory | None:
    """The shown memory that answers the question: most content words in common (ties: recall
    order), statements before questions (a question asked in a chat is not its answer); with
    ``require_names``, only among memories that support every name asked about and share at
    least as many content words as the best one overall."""
    if not shown:
        return None
    asked = names(question)
    wanted = content_words(question, {_stem(n) for n in asked})
    overlap = [len(wanted & words(m.text)) - (0.5 if _asks(m.text) else 0.0) for m in shown]
    top = max(overlap)
    order = sorted(range(len(shown)), key=lambda i: -overlap[i])
    if not require_names:
        return shown[order[0]]
    for i in order:
        if overlap[i] < top:
            break
        if all(supports_name(shown[i], n) for n in asked):
            return shown[i]
    return None


def _asks(text: str) -> bool:
    """Whether a text is only a question (every sentence ends with "?")."""
    sentences = [x for x in _SENTENCE.split(text.strip()) if x.strip()]
    return bool(sentences) and all(x.rstrip().endswith("?") for x in sentences if not x.startswith("[shares"))


def _date_words(ts: float) -> set[str]:
    day = datetime.fromtimestamp(ts, tz=UTC).date()
    out: set[str] = set()
    for d in (day, day - timedelta(days=1), day + timedelta(days=1)):
        out |= words(day_text(d)) | {d.strftime("%A").casefold()}
    return out


def support_words(shown: list[Memory], question: str) -> set[str]:
    """Every word an answer may use as a name, number or date."""
    out = words(question)
    for m in shown:
        when = m.source.time if m.source.time is not None else m.created_at
        out |= words(m.text) | words(m.source.speaker or "") | _date_words(when)
        for phrase in resolve_relative(m.text, when):
            out |= words(phrase)
    return {_normal(w) for w in out}


def _normal(word: str) -> str:
    w = word.replace(",", "")
    return NUMBER_WORDS.get(w, w)


def claims(answer: str) -> list[str]:
    """The checkable parts of an answer: names and places, numbers, months, weekdays, years."""
    found = names(answer) + _NUMBER.findall(answer)
    found += [w for w in _WORD.findall(answer) if w.casefold() in MONTHS or w.casefold() in WEEKDAYS]
    return list(dict.fromkeys(found))


def unsupported(answer: str, shown: list[Memory], question: str) -> list[str]:
    """The answer's names, numbers and dates that neither the memories nor the question hold."""
    allowed = support_words(shown, question)
    return [c for c in claims(answer) if not (words(c) and all(_normal(w) in allowed for w in words(c)))]


@dataclass(frozen=True)
class Extracted:
    text: str
    memory: Memory


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_EXPLICIT = re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}(?:,? \d{{4}})?|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?"
                       rf"(?:,? \d{{4}})?|(?:in |since ){_MONTH}(?: \d{{4}})?|(?:in |since )(?:19|20)\d\d)\b", re.IGNORECASE)


def explicit_dates(text: str) -> list[str]:
    """Dates a text states outright ("the 14th of April", "March 21", "in June 2023")."""
    return [m.group(0).removeprefix("in ").removeprefix("since ") for m in _EXPLICIT.finditer(text)]


def is_temporal(question: str) -> bool:
    return bool(TEMPORAL.search(question))


def extractive(question: str, shown: list[Memory]) -> Extracted | None:
    """An answer taken from the evidence: for "when" questions the date it points to (a relative
    date resolved against the memory's own time), else the sentence that answers."""
    best = evidence(question, shown) or evidence(question, shown, require_names=False)
    if best is None:
        return None
    sentence = best_sentence(question, best.text)
    if is_temporal(question):
        when = best.source.time if best.source.time is not None else best.created_at
        dates = explicit_dates(sentence) or resolve_relative(sentence, when) or resolve_relative(best.text, when)
        day = dates[0] if dates else day_text(datetime.fromtimestamp(when, tz=UTC).date())
        return Extracted(day[0].upper() + day[1:] + ".", best)
    return Extracted(sentence, best)


def best_sentence(question: str, text: str) -> str:
    """The sentence of ``text`` sharing the most content words with the question, without leading
    greetings and thanks."""
    wanted = content_words(question, {_stem(n) for n in names(question)})
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()] or [text.strip()]
    scored = max(sentences, key=lambda s: (len(wanted & words(s)), -sentences.index(s)))
    cleaned = _INTERJECTION.sub("", scored).strip()
    return cleaned[0].upper() + cleaned[1:] if cleaned else scored


def supported_by(fact: str, text: str) -> bool:
    """Whether ``text`` supports ``fact``: every name, number and date of the fact is in the text,
    and most of its content words (at least two thirds) are too."""
    said = words(text)
    if any(not (words(c) and words(c) <= said) for c in claims(fact)):
        return False
    wanted = content_words(fact)
    return not wanted or len(wanted & said) * 3 >= len(wanted) * 2


def adds_nothing(question: str, answer: str) -> bool:
    """Whether an answer only repeats the question ("Who teaches me the cello?" "The cello."):
    no content word, name or number that the question does not already have."""
    asked = words(question)
    return not ({_stem(w) for w in _WORD.findall(answer) if len(w) > 2 and not is_stopword(w.casefold())} - asked) \
        and not set(_NUMBER.findall(answer)) - asked


def off_topic(answer: str, memory_text: str) -> bool:
    """Whether a phrased answer has content words and none of them is in the memory it rests on
    ("The week before 1 March 2024." for "What am I allergic to?": the shape of a prompt example,
    filled with the note's date)."""
    said = content_words(answer)
    return bool(said) and not said & words(memory_text)


def copies_notes(answer: str, max_words: int) -> bool:
    """Whether a phrased answer is a copy of the prompt's notes ("... said: ...") or far longer
    than the few words asked for."""
    return "said:" in answer or len(answer.split()) > max_words
