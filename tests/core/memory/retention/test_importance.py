"""Importance scoring: parts, the fitted model, the LLM surprisal interface, the trivial-turn rule."""

import json
from pathlib import Path

import pytest

from cairn.core.errors import ModelLoadError
from cairn.core.memory.retention.importance import (
    FEATURES,
    Context,
    ImportanceModel,
    ModelBackground,
    WordFrequencyBackground,
    features,
    fit,
    worth_storing,
)


def score(text: str, **context: object) -> float:
    model = ImportanceModel.load()
    return model.score(features(text, Context(**context), WordFrequencyBackground())).score  # type: ignore[arg-type]


def test_informative_beats_phatic() -> None:
    fact = score("My sister Ana moved to Porto in March 2023 and started a job at the harbour.")
    chit = score("Wow, that's so cool! Thanks!")
    assert 0.0 < chit < fact < 1.0


def test_parts_are_named_and_finite() -> None:
    parts = features("Did you see the band? I loved it!", Context(previous_text="How was the concert?"),
                     WordFrequencyBackground())
    assert set(parts) == set(FEATURES)
    assert parts["question"] == 0.5 and parts["answers_question"] == 1.0
    assert all(v == v and abs(v) < 100 for v in parts.values())


def test_background_rare_words_carry_more_bits() -> None:
    bg = WordFrequencyBackground()
    assert bg.surprisal("", ["greyhound"]) > bg.surprisal("", ["house"]) > 0


def test_trivial_turns_are_not_worth_a_memory() -> None:
    for text in ("ok", "haha thanks", "Wow!! See you soon :)", "yes, you too"):
        assert not worth_storing(text), text
    for text in ("I adopted a greyhound called Pixel", "Flight at 7:45", "Call mum on Sunday"):
        assert worth_storing(text), text


class FakeLlm:
    """Stands in for the LLM runtime behind the TokenSurprisal interface: 2 bits per character."""

    model_id = "fake"

    def token_surprisal(self, text: str) -> list[tuple[str, float]]:
        return [(c, 2.0) for c in text]


def test_model_background_uses_token_surprisal() -> None:
    bg = ModelBackground(FakeLlm())
    assert bg.id == "llm:fake" and bg.surprisal("abcd", []) == 8.0
    parts = features("abcd efgh", Context(), bg)
    assert abs(parts["info_background"] - __import__("math").log1p(18.0)) < 1e-9


def test_fit_learns_a_separating_direction_and_round_trips(tmp_path: Path) -> None:
    rows = [{f: 0.0 for f in FEATURES} | {"names": float(i % 2)} for i in range(60)]
    labels = [bool(i % 2) for i in range(60)]
    model = fit(rows, labels, meta={"note": "test"})
    assert model.weights[FEATURES.index("names")] > 1.0
    path = tmp_path / "w.json"
    model.save(path)
    again = ImportanceModel.load(path)
    assert again.score(rows[1]).score == pytest.approx(model.score(rows[1]).score)
    assert model.score(rows[1]).score > 0.9 > 0.1 > model.score(rows[0]).score
    assert again.meta["note"] == "test"


def test_broken_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "w.json"
    bad.write_text("{not json")
    with pytest.raises(ModelLoadError, match="malformed"):
        ImportanceModel.load(bad)
    bad.write_text(json.dumps({"features": ["nope"], "mean": [0], "scale": [1], "weights": [1], "bias": 0}))
    with pytest.raises(ModelLoadError, match="does not match"):
        ImportanceModel.load(bad)


def test_shipped_weights_say_what_they_were_fitted_on() -> None:
    model = ImportanceModel.load()
    assert model.features == FEATURES and model.meta["examples"] > 1000 and model.meta["fitted_on"]
