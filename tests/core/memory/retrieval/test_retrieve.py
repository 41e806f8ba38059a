from datetime import UTC, datetime

from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.retrieve import Retrievers
from cairn.core.memory.retrieval.timeref import date_range
from cairn.core.memory.storage.records import Source

ALL_OFF = dict(context=False, speaker=False, neighbours=False, session=False, time=False)


def test_each_retriever_can_be_switched_off(bank: MemoryBank) -> None:
    bank.remember("xylophone lessons on thursday")
    bank.remember("music instrument practice schedule")
    only_kw = bank.recall("xylophone", k=5, use=Retrievers(vector=False, **ALL_OFF))
    assert [h.memory.text for h in only_kw] == ["xylophone lessons on thursday"]
    assert all("cosine" not in h.signals for h in only_kw)
    only_vec = bank.recall("xylophone", k=5, use=Retrievers(keyword=False, **ALL_OFF))
    assert len(only_vec) == 2 and all("keyword" not in h.signals for h in only_vec)


def chat(bank: MemoryBank, turns: list[tuple[str, str]], ref: str = "chat-1") -> list[int]:
    return [bank.remember(text, source=Source("conversation", ref, (f"D1:{n}",), None, who)).id
            for n, (who, text) in enumerate(turns, start=1)]


def test_speaker_named_in_the_query_rises(bank: MemoryBank) -> None:
    ids = chat(bank, [("Ana", "I adopted a dog last week"), ("Ben", "I adopted a dog last week too")])
    assert bank.recall("Did Ben adopt a dog?", k=1, touch=False)[0].memory.id == ids[1]
    assert bank.recall("Did Ana adopt a dog?", k=1, touch=False)[0].memory.id == ids[0]
    hit = bank.recall("Did Ana adopt a dog?", k=1, touch=False)[0]
    assert hit.signals["speaker_boost"] > 0


def test_neighbouring_turn_answers_the_question(bank: MemoryBank) -> None:
    filler = [("Cy" if i % 2 else "Dee", f"unrelated chatter number {i} about weather") for i in range(30)]
    ids = chat(bank, [*filler, ("Ben", "What did you name the telescope you built?"), ("Ana", "Stargazer!"), *filler])
    answer = ids[31]
    with_n = [h.memory.id for h in bank.recall("name of the telescope", k=3, touch=False)]
    assert answer in with_n
    without = [h.memory.id for h in bank.recall("name of the telescope", k=3, touch=False,
                                                use=Retrievers(neighbours=False, context=False))]
    assert answer not in without


def test_context_column_links_adjacent_turns(bank: MemoryBank) -> None:
    ids = chat(bank, [("Ben", "Which city did you move to?"), ("Ana", "Lisbon, finally.")])
    ctx = bank.db.conn.execute("SELECT context FROM memory_fts WHERE rowid = ?", (ids[0],)).fetchone()[0]
    assert ctx == "Ana: Lisbon, finally."
    ctx = bank.db.conn.execute("SELECT context FROM memory_fts WHERE rowid = ?", (ids[1],)).fetchone()[0]
    assert ctx == "Ben: Which city did you move to?"


def test_date_named_in_query() -> None:
    lo, hi = date_range("What did Caroline do in May 2023?")
    assert datetime.fromtimestamp(lo, UTC) == datetime(2023, 5, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(hi, UTC) == datetime(2023, 6, 1, tzinfo=UTC)
    lo, hi = date_range("trips during 2022")
    assert datetime.fromtimestamp(hi, UTC).year == 2023
    assert date_range("May I ask you something?") is None
    assert date_range("Dec 2021 party")[1] == datetime(2022, 1, 1, tzinfo=UTC).timestamp()


def test_time_boost(bank: MemoryBank) -> None:
    old = bank.remember("went hiking with friends", source=Source(time=datetime(2022, 6, 3, tzinfo=UTC).timestamp()))
    new = bank.remember("went hiking with friends", source=Source(time=datetime(2023, 6, 3, tzinfo=UTC).timestamp()))
    assert bank.recall("hiking in June 2022", k=1, touch=False)[0].memory.id == old.id
    assert bank.recall("hiking in June 2023", k=1, touch=False)[0].memory.id == new.id


def test_fts_query_is_not_injectable(bank: MemoryBank) -> None:
    bank.remember('quotes " and NEAR( operators * are just text')
    for q in ['"', "NEAR(", "a AND OR NOT b", "*", "col:umn", "))", "{speaker}"]:
        bank.recall(q)  # must not raise an FTS syntax error


def test_speaker_names_match_through_one_typo() -> None:
    from cairn.core.memory.retrieval.rewrite import mentions, perspective

    speakers = ["Caroline", "Melanie", "Jon"]
    assert mentions("What did Carolin paint?", speakers) == {"Caroline": "Carolin"}  # a letter missing
    assert mentions("What is Melanei's job?", speakers) == {"Melanie": "Melanei"}  # two swapped
    assert perspective("What is Melanei's job?", speakers) == "Melanie: What is my job?"
    assert mentions("What did Joe do?", speakers) == {}  # short names must match exactly
    assert mentions("Which melody did she like?", speakers) == {}  # two edits from Melanie, lower case
    assert mentions("Where did caroline go?", speakers) == {"Caroline": "Caroline"}


def test_misspelt_speaker_still_rises(bank: MemoryBank) -> None:
    ids = chat(bank, [("Melanie", "I adopted a dog last week"), ("Caroline", "I adopted a dog last week too")])
    assert bank.recall("Did Carolien adopt a dog?", k=1, touch=False)[0].memory.id == ids[1]
    assert bank.recall("Did Melanei adopt a dog?", k=1, touch=False)[0].memory.id == ids[0]
