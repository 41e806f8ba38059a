"""LoCoMo-format input from real chats: per-turn times, day-first dates, clean_text; clear errors."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.core.bench import locomo
from cairn.core.errors import InvalidInput
from cairn.core.memory import chatlog
from tests.core.bench.test_bench import CONV


def write(tmp_path: Path, conv: dict) -> Path:
    path = tmp_path / "conv.json"
    path.write_text(json.dumps([conv]))
    return path


def stamp(text: str, fmt: str) -> float:
    return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()


def test_day_first_dates_and_per_turn_times(tmp_path: Path) -> None:
    conv = copy.deepcopy(CONV)
    raw = conv["conversation"]
    raw["session_1_date_time"] = "29.12.2023, 22:42:04"
    raw["session_1"][1]["date_time"] = "30.12.2023, 09:05:00"  # answered the next morning
    del raw["session_2_date_time"]
    for turn in raw["session_2"]:
        turn["date_time"] = "02.01.2024, 18:00:00"
        turn["clean_text"] = turn.pop("text")  # REALTALK names the text clean_text
    [loaded] = locomo.load(write(tmp_path, conv))
    times = {t.dia_id: t.time for t in loaded.turns}
    assert times["D1:1"] == times["D1:3"] == stamp("29.12.2023 22:42:04", "%d.%m.%Y %H:%M:%S")
    assert times["D1:2"] == stamp("30.12.2023 09:05", "%d.%m.%Y %H:%M")
    assert times["D2:1"] == stamp("2024-01-02 18:00", "%Y-%m-%d %H:%M")
    assert loaded.turns[3].text == "My pottery teacher praised my first vase."


def test_locomo_dates_still_parse() -> None:
    assert chatlog.parse_time("1:56 pm on 8 May, 2023") == stamp("2023-05-08 13:56", "%Y-%m-%d %H:%M")


@pytest.mark.parametrize("value", ["8th of May", "2023/05/08 (Mon) 13:56", "31.02.2023, 10:00:00"])
def test_an_unknown_date_format_is_a_clear_error(tmp_path: Path, value: str) -> None:
    conv = copy.deepcopy(CONV)
    conv["conversation"]["session_1_date_time"] = value
    with pytest.raises(InvalidInput) as err:
        locomo.load(write(tmp_path, conv))
    assert "Unknown date format" in err.value.message and value[:20] in err.value.message


def test_a_turn_without_any_time_is_a_clear_error(tmp_path: Path) -> None:
    conv = copy.deepcopy(CONV)
    del conv["conversation"]["session_2_date_time"]
    with pytest.raises(InvalidInput, match="D2:1 has no time"):
        locomo.load(write(tmp_path, conv))


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    assert locomo.rrf([[1, 2, 3], [3, 1, 4]], 10)[:2] == [1, 3]
    assert locomo.rrf([[], [5]], 10) == [5] and locomo.rrf([[1, 2], [2, 1]], 1) in ([1], [2])


def test_scratch_index_ranks_by_bm25_with_the_banks_tokenizer() -> None:
    from cairn.core.memory.storage.scratch import ScratchIndex

    texts = ["Ana: I adopted a greyhound", "Ben: pottery classes", "Ana: greyhounds love running, greyhound races"]
    with ScratchIndex(texts) as fts:
        assert fts.search("greyhound", 5)[0] == 2  # stemmed, two hits in a short text
        assert set(fts.search("Ana greyhound", 5)) == {0, 2}
        assert fts.search("   ", 5) == [] and fts.search("zebra", 5) == []


def realtalk(conv: dict) -> dict:
    """REALTALK's own layout: the sessions at the top, the speakers under 'name', no sample_id."""
    raw = copy.deepcopy(conv["conversation"])
    del raw["speaker_a"], raw["speaker_b"]
    return {"name": {"speaker_1": "Ana", "speaker_2": "Ben"}, **raw, "qa": conv["qa"]}


def test_a_folder_of_realtalk_files_loads_one_conversation_a_file(tmp_path: Path) -> None:
    first = realtalk(CONV)
    first["session_1"].insert(1, {"speaker": "Ben", "dia_id": "D1:9", "clean_text": "  ", "blip_caption": ""})
    first["qa"][0]["evidence"] = ["D1:9", "D1:1"]  # the empty message (a sticker) is gone, its id too
    (tmp_path / "Chat_1_Ana_Ben.json").write_text(json.dumps(first))
    (tmp_path / "Chat_2_Ana_Ben.json").write_text(json.dumps(realtalk(CONV)))
    (tmp_path / "notes.txt").write_text("not a conversation")
    one, two = locomo.load(tmp_path)
    assert (one.sample_id, two.sample_id) == ("Chat_1_Ana_Ben", "Chat_2_Ana_Ben")
    assert [t.dia_id for t in one.turns] == [t.dia_id for t in two.turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert one.questions[0].evidence == {"D1:1"} and len(one.questions) == len(two.questions) == 4


def test_an_empty_folder_or_an_unknown_object_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no .json files"):
        locomo.load(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"sessions": []}))
    with pytest.raises(InvalidInput, match="no 'conversation' object and no 'session_1' list"):
        locomo.load(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"session_1": [{"speaker": "Ana", "dia_id": "D1:1", "text": ""}],
                                                 "session_1_date_time": "29.12.2023, 22:42:04"}))
    with pytest.raises(InvalidInput, match="conversation x has no turns"):
        locomo.load(tmp_path)


def test_a_realtalk_file_imports_as_a_chat_named_by_its_speakers() -> None:
    [log] = chatlog.parse_chat(json.dumps(realtalk(CONV)), "file.json")
    assert log.name == "Ana & Ben" and log.format == "locomo" and len(log.messages) == 5
