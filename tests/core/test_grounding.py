"""The pure checks that keep answers honest, and LoCoMo-style answer scoring."""

from cairn.core import grounding as g
from cairn.core.bench import scoring
from cairn.core.memory.storage.records import Memory, Source

DAY = 1_683_504_000.0  # 8 May 2023, 00:00 UTC


def mem(text: str, speaker: str = "Ana", mid: int = 1) -> Memory:
    return Memory(mid, "", text, "turn", Source("conversation", "c", ("D1:1",), DAY, speaker), DAY, DAY, False,
                  0.0, 0.0, None, 0, None)


def test_when_questions_get_the_date_the_memory_points_to() -> None:
    said = [mem("I adopted a greyhound called Pixel yesterday!")]
    assert g.extractive("When did Ana adopt Pixel?", said).text == "7 May 2023."
    birthday = [mem("My brother's birthday is on the 14th of April.")]
    assert g.extractive("When is my brother's birthday?", birthday).text == "14th of April."
    assert g.explicit_dates("Dentist on March 21 at 4pm; the service is due in June 2025.") == ["March 21",
                                                                                                 "June 2025"]
    assert g.extractive("What did Ana adopt?", said).text.startswith("I adopted a greyhound called Pixel")


def test_unsupported_names_numbers_and_dates_are_found() -> None:
    said = [mem("I went to Lisbon with Marco in October 2025.")]
    assert g.unsupported("Lisbon, with Marco.", said, "Who did I go to Lisbon with?") == []
    assert g.unsupported("October 12, 2026 in Paris.", said, "When?") == ["Paris", "12", "2026"]
    assert g.unsupported("Ana", said, "Who?") == []  # the speaker is in the memory's provenance


def test_answers_that_only_echo_or_copy_are_caught() -> None:
    assert g.adds_nothing("Who teaches me the cello?", "The cello.")
    assert not g.adds_nothing("Who teaches me the cello?", "Mrs. Okafor.")
    assert g.copies_notes("On 3 March 2024, you said: I started the cello", 30)
    assert g.copies_notes(" ".join(["word"] * 31), 30) and not g.copies_notes("A blue bowl.", 30)


def test_a_false_premise_is_named() -> None:
    shown = [mem("I painted a sunrise over the lake.", "Ana", 1), mem("How are your pets?", "Melanie", 2)]
    assert g.premise("What did Melanie paint?", shown) == ["Melanie"]  # a question says nothing of its asker
    assert g.premise("What did Ana paint?", shown) == []
    assert g.premise('What did Ana take from "Becoming Nicole"?', shown) == []  # a quoted title is no person
    assert g.premise("What did Ana paint?", []) == []


def test_facts_must_be_supported_by_their_turn() -> None:
    turn = "My sister Ana moved to Porto in March 2024."
    assert g.supported_by("Ana moved to Porto in March 2024.", turn)
    assert not g.supported_by("Ana moved to Lisbon.", turn)
    assert not g.supported_by("Ana is a renowned cellist who mentors many students.", turn)


def test_answer_scoring_follows_locomo() -> None:
    assert scoring.f1("The blue bowls!", "a blue bowl") == 1.0
    assert scoring.f1("Paris", "Lisbon") == 0.0
    assert 0 < scoring.f1("She went to Lisbon", "Lisbon") < 1
    assert scoring.score("1", "Oliver, Luna", "Oliver, Luna, Bailey") == 2 / 3
    assert scoring.score("3", "liberal", "Liberal; progressive") == 1.0


def test_an_answer_that_uses_none_of_the_memorys_words_is_off_topic() -> None:
    memory = "I'm allergic to penicillin - it gave me hives when I was twelve."
    assert g.off_topic("The week before 1 March 2024.", memory)  # a prompt example's shape, not an answer
    assert not g.off_topic("The allergy to penicillin.", memory)
    assert not g.off_topic("Yes.", memory)  # nothing to compare: the other checks decide
