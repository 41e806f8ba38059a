"""The `cairn` command as a user meets it: real subprocesses, a real database under CAIRN_HOME."""

import json
import os
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from cairn.core.memory.storage.migrations import MIGRATIONS


def no_traceback(r) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err


def test_round_trip(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cairn("remember", "My sister Ana lives in Lisbon", "--kind", "fact", "--source", "conversation",
              "--source-ref", "chat-7", "--turn", "D1:3", "--when", "2024-05-08T13:56", "--speaker", "Maya",
              "--json")
    assert r.code == 0, r.err
    first = json.loads(r.out)
    assert first["source"] == {"type": "conversation", "ref": "chat-7", "turns": ["D1:3"], "time": 1715176560.0,
                               "speaker": "Maya"}
    assert cairn("remember", "-", input="The car service is due in June\n").code == 0
    (tmp_path / "note.txt").write_text("Dentist appointment with Dr. Reyes on the 21st", encoding="utf-8")
    assert cairn("remember", "--file", str(tmp_path / "note.txt")).code == 0

    r = cairn("recall", "where does my sister live", "-k", "1", "--json")
    assert json.loads(r.out)[0]["memory"]["id"] == first["id"]
    r = cairn("recall", "where does my sister live", "-k", "1")
    assert "Ana lives in Lisbon" in r.out and "conversation · chat-7 · said by Maya · turn D1:3" in r.out
    r = cairn("recall", "where does my sister live", "-k", "1", "--why")
    assert "why: " in r.out and "close in meaning" in r.out  # the MiniLM bank ranks with the learned ranker
    why = json.loads(cairn("recall", "where does my sister live", "-k", "1", "--why", "--json").out)[0]["why"]
    assert why and all(isinstance(words, str) and isinstance(push, float) for words, push in why)

    assert cairn("memories", "forget", str(first["id"]), "--reason", "test").code == 0
    assert "Lisbon" not in cairn("recall", "sister Lisbon").out
    assert "Lisbon" in cairn("memories", "list", "--forgotten").out
    assert cairn("memories", "restore", str(first["id"])).code == 0
    assert "Lisbon" in cairn("recall", "sister Lisbon").out

    export = tmp_path / "out.jsonl"
    r = cairn("export", str(export))
    assert r.code == 0 and "Exported 3 memories" in r.err
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    r = cairn("memories", "purge", "--yes", str(first["id"]))
    assert r.code == 0 and "Purged" in r.out
    assert "Lisbon" not in cairn("memories", "list", "--all").out
    r = cairn("import", str(export), "--json")
    assert json.loads(r.out) == {"added": 1, "skipped": 2, "turns_added": 0, "verified": True,
                                 "source_embedder": {"id": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384}}
    listed = {m["text"]: m["id"] for m in json.loads(cairn("memories", "list", "--json").out)}
    assert len(listed) == 3 and "My sister Ana lives in Lisbon" in listed
    history = json.loads(cairn("memories", "history", str(listed["My sister Ana lives in Lisbon"]), "--json").out)
    assert [h["action"] for h in history] == ["add", "forget", "restore"]


def test_show_edit_pin_history(cairn) -> None:  # type: ignore[no-untyped-def]
    mid = json.loads(cairn("remember", "draft text", "--json").out)["id"]
    assert cairn("memories", "edit", str(mid), "final text", "--reason", "typo").code == 0
    assert cairn("memories", "pin", str(mid)).code == 0
    shown = cairn("memories", "show", str(mid)).out
    assert "final text" in shown and "pinned: yes" in shown
    hist = cairn("memories", "history", str(mid)).out
    assert "update" in hist and "draft text" in hist and "(typo)" in hist
    assert json.loads(cairn("memories", "pin", "--off", str(mid), "--json").out)[0]["pinned"] is False
    r = cairn("memories", "edit", str(mid), "--kind", "fact", env={"EDITOR": "false"})
    assert r.code == 0 and "[fact]" in r.out


def test_help_lists_every_command(cairn) -> None:  # type: ignore[no-untyped-def]
    out = cairn("--help").out
    for name in ("remember", "recall", "memories", "export", "import", "reindex", "doctor", "demo"):
        assert name in out
    sub = cairn("memories", "--help").out
    for name in ("list", "show", "edit", "forget", "restore", "purge", "pin", "history"):
        assert name in sub


@pytest.mark.parametrize("args, stdin, needle", [
    (["remember", ""], None, "Memory text is empty"),
    (["remember", "   "], None, "Memory text is empty"),
    (["remember", "-"], b"\n\n", "Memory text is empty"),
    (["remember", "-"], b"caf\xe9 au lait", "standard input is not valid UTF-8 (byte 0xe9 at offset 3)"),
    (["remember", "-"], b"x" * (32 * 1024 + 5), "the limit is 32,768 bytes"),
    (["memories", "show", "999"], None, "No memory with id 999"),
    (["memories", "forget", "999"], None, "No memory with id 999"),
    (["recall", "-"], b"", "Query is empty"),
    (["remember", "x", "--when", "yesterday-ish"], None, "Not a date"),
])
def test_bad_input_is_one_clear_sentence(cairn, args, stdin, needle) -> None:  # type: ignore[no-untyped-def]
    r = cairn(*args, input=stdin)
    assert r.code != 0
    assert needle in r.err, r.err
    assert r.err.startswith("Error: ")
    no_traceback(r)


def test_invalid_utf8_file_and_argument(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok then \xff\xfe broken")
    r = cairn("remember", "--file", str(bad))
    assert r.code == 2 and f"file {bad} is not valid UTF-8 (byte 0xff at offset 8)" in r.err
    r = subprocess.run([os.sys.executable, "-m", "cairn.app.cli", "remember", b"bad \xff arg"],
                       capture_output=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and b"not valid UTF-8" in r.stderr
    assert json.loads(cairn("memories", "list", "--all", "--json").out) == []


def test_not_a_database(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    db = isolated_home / "memory.db"
    db.write_bytes(b"PK\x03\x04 definitely a zip file" * 10)
    before = db.read_bytes()
    for args in (["remember", "hello"], ["recall", "hello"], ["memories", "list"]):
        r = cairn(*args)
        assert r.code == 4 and "is not a SQLite database" in r.err
        no_traceback(r)
    assert db.read_bytes() == before


def test_newer_schema(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert cairn("remember", "hello").code == 0
    db = isolated_home / "memory.db"
    # The stdlib sqlite3 can always set a pragma, even without extension loading.
    c = sqlite3.connect(db)
    c.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    before = db.read_bytes()
    r = cairn("memories", "list")
    assert r.code == 4 and "written by a newer Cairn" in r.err and "Upgrade Cairn" in r.err
    no_traceback(r)
    assert db.read_bytes() == before


def test_bad_settings_file(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    (isolated_home / "config.toml").write_text("[memory]\nmax_text_bytes = -1\nembedder = 3\n")
    r = cairn("remember", "x")
    assert r.code == 1 and "2 problems" in r.err and "memory.max_text_bytes" in r.err and "memory.embedder" in r.err
    no_traceback(r)
    r = cairn("doctor")
    assert r.code == 1 and "[FAIL] settings" in r.out


def test_configured_size_limit(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    (isolated_home / "config.toml").write_text("[memory]\nmax_text_bytes = 20\n")
    r = cairn("remember", "this sentence is longer than twenty bytes")
    assert r.code == 2 and "the limit is 20 bytes" in r.err


def make_read_only(path: Path) -> bool:
    """Make a folder unwritable even for root (chattr +i) or for a normal user (chmod)."""
    if os.geteuid() != 0:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        return True
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def undo_read_only(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o700)


def test_read_only_home(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert cairn("remember", "written before the lock").code == 0
    parent = isolated_home.parent
    if not make_read_only(isolated_home):
        pytest.skip("this filesystem cannot make a folder read-only for root (no chattr +i)")
    try:
        r = cairn("remember", "cannot be written")
        assert r.code == 4 and "read-only" in r.err, r.err
        no_traceback(r)
        fresh = parent / "ro-parent"
        fresh.mkdir()
        assert make_read_only(fresh)
        r = cairn("remember", "x", env={"CAIRN_HOME": str(fresh / "home")})
        assert r.code == 4 and "Cannot create the Cairn folder" in r.err, r.err
        undo_read_only(fresh)
    finally:
        undo_read_only(isolated_home)
    assert "written before the lock" in cairn("memories", "list").out


def test_embedder_mismatch_and_reindex(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert cairn("remember", "a memory made with 384 dimensions").code == 0
    (isolated_home / "config.toml").write_text('[memory]\nembedder = "hashing"\nhashing_dim = 64\n')
    r = cairn("remember", "another")
    assert r.code == 4 and "cairn reindex" in r.err
    no_traceback(r)
    r = cairn("doctor")
    assert r.code == 1 and "[FAIL] embedder" in r.out
    r = cairn("reindex", "--json")
    assert r.code == 0 and json.loads(r.out) == {"reindexed": 1, "embedder": ["hashing-v1", 64]}
    assert cairn("remember", "another").code == 0
    assert "384 dimensions" in cairn("recall", "dimensions").out


def test_doctor_reports_the_installation(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = cairn("doctor")
    assert r.code == 0, r.out
    for needle in ("python", "SQLite 3.", "sqlite-vec v", "fts5", "not created yet", "(bundled)", "llama.cpp 0.3"):
        assert needle in r.out
    cairn("remember", "x y z")
    data = json.loads(cairn("doctor", "--json").out)
    assert data["ok"] is True
    assert any(c["name"] == "memory database" and "integrity ok" in c["detail"] for c in data["checks"])
    (isolated_home / "config.toml").write_text('[llm]\nmodel = "no-such-model"\n')
    r = cairn("doctor")
    assert r.code != 0 and "No installed model called 'no-such-model'" in r.out


def test_demo_runs_in_a_throwaway_home(cairn, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = cairn("demo")
    assert r.code == 0, r.err
    assert "allergic to penicillin" in r.out and "Memory-only" not in r.out
    answer = r.out.split("> What am I allergic to?\n", 1)[1].split("\n", 1)[0]
    assert "penicillin" in answer.casefold(), answer  # the answer itself, not only its proof
    assert "From your memories:\n  [#2 · 2024-03-01 · Maya] I'm allergic to penicillin" in r.out
    assert "14th of April." in r.out and "Answered without your memories." in r.out
    assert "said by Maya" in r.out  # "why do you know that?" shows the provenance trail
    assert "hidden from recall while forgotten: yes" in r.out
    assert not (isolated_home / "memory.db").exists()


def test_bad_import_file(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "in.jsonl"
    f.write_text('{"format": "cairn-export", "version": 1}\n{oops\n')
    r = cairn("import", str(f))
    assert r.code == 2 and "Line 2 of the import is not valid JSON" in r.err
    no_traceback(r)
    r = cairn("import", str(tmp_path / "missing.jsonl"))
    assert r.code == 2 and "cannot read" in r.err


def test_bench_locomo_json_contract(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.bench.test_bench import CONV

    data = tmp_path / "conv.json"
    data.write_text(json.dumps([CONV]))
    r = cairn("bench", "locomo", str(data), "--k", "1,3", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["questions"] == 4 and {"recall@1", "recall@3"} <= set(report["macro"])
    assert set(report["baselines"]) == {"bm25", "dense", "rrf"}
    assert report["embedder"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert report["fusion"] == "learned" and "recall@3" in report["fixed_fusion"]["macro"]
    r = cairn("bench", "locomo", str(data), "--k", "1,3")  # in words: the same run as a table
    assert r.code == 0, r.err
    rows = {line.split("   ")[-1].strip(): line.split()[:2] for line in r.out.splitlines() if "0." in line[:14]}
    shown = [float(v) for v in rows["Cairn (learned fusion)"]]
    assert all(abs(a - report["macro"][f"recall@{k}"]) < 5e-4 for a, k in zip(shown, (1, 3), strict=True))
    assert {"BM25", "Cairn, fixed fusion", "BM25 + dense, reciprocal-rank fusion"} <= set(rows)
    assert "by category (questions)" in r.out and "ms a turn" in r.out
    r = cairn("bench", "locomo", str(data), "--k", "x")
    assert r.code == 2 and "comma-separated" in r.err
    r = cairn("bench", "locomo", str(tmp_path / "missing.json"))
    assert r.code == 2 and "does not exist" in r.err


def test_bench_madial_reports_cairn_beside_its_baselines(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    memories, dialogues = tmp_path / "mem.jsonl", tmp_path / "dia.jsonl"
    memories.write_text("\n".join(json.dumps(x) for x in [
        {"1": {"time": "2023-12-25", "event": "Bart danced at the Christmas party and felt very happy."}},
        {"2": {"time": "2023-03-07", "event": "Bart won the 100 meters race at school."}}]))
    dialogues.write_text(json.dumps({"dialogue": ["<BOD>\n", '<Bart>: "I will dance at the party tonight!"\n',
                                                  '<Assistant>: "Remember the Christmas party?"\n', "<EOD>\n"],
                                     "test-turn": [2], "relevant-id": [1], "user-id": 1}))
    r = cairn("bench", "madial", str(dialogues), str(memories), "--k", "1,2")
    assert r.code == 0, r.err
    assert "1 dialogue over 2 memories" in r.out and "recall@1" in r.out and "ms (p95)" in r.out
    table = [line.split() for line in r.out.splitlines() if line.strip()[:2] in ("0.", "1.")]
    assert [row[2:] for row in table] == [["Cairn"], ["BM25"], ["dense", "(cosine", "over", "every", "memory)"]]
    assert table[0][:2] == ["1.000", "1.000"]  # the party memory comes first for a party dialogue


def test_bench_rerank_reports_a_table_and_records_scores(cairn, isolated_home: Path,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    from cairn.models import tiny_gguf
    from tests.core.bench.test_bench import _diary_conversation

    data = tmp_path / "chats.json"
    data.write_text(json.dumps([_diary_conversation(name, seed) for seed, name in enumerate("abc", start=1)]))
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    (isolated_home / "config.toml").write_text("[llm]\nn_ctx = 512\n")
    record = tmp_path / "scores.jsonl"
    r = cairn("bench", "rerank", str(data), "--model", str(model), "--k", "1,5", "--depth", "6", "--every", "4",
              "--record", str(record), timeout=240)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[1].startswith("  questions: {'a': 3, 'b': 3, 'c': 3}; depth 6, every 4")
    assert lines[2].split() == ["recall@1", "recall@5"]
    labels = [line.split("   locomo: ")[1] for line in lines[3:7]]
    assert labels[:3] == ["the ranker alone, held out", "re-ranked 6 deep, weight chosen on the other groups",
                          "re-ranked 6 deep, weight 2 (assistant.rerank_weight)"]
    assert labels[3].startswith("re-ranked 5 deep, weight chosen on the other groups (")
    assert all(0 <= float(x) <= 1 for line in lines[3:7] for x in line.split("   locomo: ")[0].split())
    assert "the model's time a question:" in r.out and str(record) in r.out
    assert len(record.read_text().splitlines()) == 9
    r = cairn("bench", "rerank", str(data), "--model", str(tmp_path / "missing.gguf"))
    assert r.code != 0 and "missing.gguf" in r.err


def test_an_output_file_in_a_missing_folder_is_refused_before_the_work(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "chats.json"
    data.write_text("[]")
    missing = tmp_path / "no-such-folder"
    for args in (("bench", "rerank", str(data), "--model", str(data), "--record", str(missing / "r.jsonl")),
                 ("bench", "ranker", str(data), "--save", str(missing / "w.json")),
                 ("retention", "fit", str(data), "--out", str(missing / "w.json")),
                 ("memories", "plot", "--all", "--out", str(missing / "f.png")),
                 ("gate", "fit", "--personal", str(data), "--out", str(missing / "g.json"))):
        r = cairn(*args)
        assert r.code == 2 and f"the folder {missing} does not exist" in r.err, (args, r.err)
    assert not missing.exists()


def test_bench_ranker_fits_and_saves(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.bench.test_bench import _diary_conversation

    data = tmp_path / "chats.json"
    data.write_text(json.dumps([_diary_conversation("a", 1), _diary_conversation("b", 2)]))
    r = cairn("bench", "ranker", str(data), "--k", "1,3", "--save", str(tmp_path / "w.json"), "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["groups"] == {"a": 12, "b": 12} and "recall@3" in report["locomo"]["learned_held_out"]
    assert json.loads((tmp_path / "w.json").read_text())["fitted_on"] == ["a", "b"]
    r = cairn("bench", "ranker", str(data), "--k", "1,3")
    assert r.code == 0 and "recall@3" in r.out and "locomo: learned, each group held out" in r.out
    r = cairn("bench", "ranker", str(data), "--madial", str(data))
    assert r.code == 2 and "requires 2 arguments" in r.err


def test_embedders_commands(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cairn.models.convert import convert_sentence_transformer
    from cairn.models.tiny_bert import synthesize

    listed = json.loads(cairn("embedders", "list", "--json").out)
    assert listed[0]["name"] == "all-minilm-l6-v2" and listed[0]["installed"] is True
    export = tmp_path / "export"
    convert_sentence_transformer(synthesize(tmp_path / "src"), export)
    r = cairn("embedders", "import", str(export), "--name", "tiny", "--id", "test/tiny", "--json")
    assert r.code == 0 and json.loads(r.out)["dim"] == 32
    (export / "model.onnx").write_bytes(b"nope")
    r = cairn("embedders", "import", str(export), "--name", "tiny2")
    assert r.code == 5 and "damaged or truncated" in r.err
    no_traceback(r)


def test_truncated_model_file(cairn, tmp_path: Path, models_cache: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    home = tmp_path / "home2"
    target = home / "models" / "embedders" / "all-minilm-l6-v2"
    shutil.copytree(models_cache / "embedders" / "all-minilm-l6-v2", target)
    data = (target / "model.onnx").read_bytes()
    (target / "model.onnx").write_bytes(data[: len(data) // 3])
    env = {"CAIRN_HOME": str(home)}
    r = cairn("remember", "hello", env=env)
    assert r.code == 5 and "damaged or truncated" in r.err and "cairn embedders install" in r.err
    no_traceback(r)
    r = cairn("doctor", env=env)
    assert r.code == 1 and "[FAIL] embedder model" in r.out
    assert not (home / "memory.db").exists()  # nothing was written


def test_retention_commands(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cairn("remember", "My brother Tomas lives in Porto; his birthday is 14 April").code == 0
    assert cairn("remember", "ok cool", "--pin").code == 0
    assert cairn("remember", "note about the weather today").code == 0
    r = cairn("memories", "why", "1", "--days", "30")
    assert r.code == 0 and "importance" in r.out and "retention ahead" in r.out and "history:" in r.out
    report = json.loads(cairn("memories", "why", "1", "--json").out)
    assert set(report) >= {"importance", "strength_days", "retention_now", "curve", "history", "days_until_archive"}
    assert len(report["curve"]) == 91 and set(report["importance"]["parts"]) == set(report["importance"]["contributions"])
    r = cairn("sweep", "--budget", "1", "--json")
    assert r.code == 0, r.err
    swept = json.loads(r.out)
    assert swept["archived"] == 2 and swept["live_after"] == 1 and swept["pinned_over_budget"] == 0
    assert swept["ids"] and 2 not in swept["ids"]  # the pinned one stays
    listed = cairn("memories", "list", "--archived", "--json")
    assert {m["id"] for m in json.loads(listed.out)} == set(swept["ids"])
    assert "archived by a sweep" in cairn("memories", "show", str(swept["ids"][0])).out
    assert cairn("memories", "restore", str(swept["ids"][0])).code == 0
    out = tmp_path / "curves.png"
    r = cairn("memories", "plot", "--all", "--out", str(out))
    assert r.code == 0, r.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cairn("memories", "plot")
    assert r.code == 2 and "memory ids" in r.err
    r = cairn("memories", "why", "999")
    assert r.code == 3 and "No memory with id 999" in r.err


def test_bench_retention_and_fit(cairn, tmp_path: Path, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.bench.test_bench import CONV

    data = tmp_path / "conv.json"
    data.write_text(json.dumps([CONV, {**CONV, "sample_id": "made-up-2"}]))
    r = cairn("bench", "retention", str(data), "--budget", "0.4", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["budget"] == 0.4 and report["turns"] == 10 and report["evidence_turns"] == 8
    assert set(report["baselines"]) == {"recency", "random", "length", "unigram_surprisal"}
    assert 0 <= report["evidence_kept"] <= 1 and "recall@10_after_sweep" in report
    r = cairn("bench", "retention", str(data), "--budget", "0.4")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    kept = next(line for line in lines if line.strip().endswith("Cairn (wordfreq-en)"))
    assert abs(float(kept.split()[0]) - report["evidence_kept"]) < 5e-4  # the same figure, in words
    assert any(line.strip().endswith("keep the most recent") for line in lines)
    assert "made-up-1:" in r.out and "answers' words in the 10 recalled" in r.out
    weights = tmp_path / "w.json"
    r = cairn("retention", "fit", str(data), "--out", str(weights), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["fitted_on"] == ["made-up-1", "made-up-2"] and weights.exists()
    (isolated_home / "config.toml").write_text(f'[retention]\nweights_file = "{weights}"\n')
    assert cairn("remember", "scored with my own weights").code == 0
    weights.write_text("{}")
    r = cairn("remember", "scored with broken weights")
    assert r.code == 5 and "malformed" in r.err
    r = cairn("retention", "fit", str(data), "--out", str(weights), "--exclude", "made-up-2")
    assert r.code == 2 and "at least 10 labelled examples" in r.err  # five turns: too few to fit
    r = cairn("bench", "retention", str(data), "--budget", "0")
    assert r.code == 2 and "0.01" in r.err


def test_models_commands(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cairn.models import tiny_gguf

    model = tiny_gguf.write(tmp_path / "Tiny.gguf")
    r = cairn("models", "list", "--json")
    assert r.code == 0 and {m["name"] for m in json.loads(r.out)} >= {"llama-3.2-1b-instruct"}
    r = cairn("models", "import", str(model))
    assert r.code == 0 and "Installed tiny" in r.out
    info = json.loads(cairn("models", "info", "tiny", "--json").out)
    assert info["architecture"] == "llama" and info["vocabulary"] == 512
    (tmp_path / "junk.gguf").write_text("not a model")
    r = cairn("models", "import", str(tmp_path / "junk.gguf"))
    assert r.code == 5 and "not a GGUF" in r.err
    r = cairn("models", "pull", "no-such-model")
    assert r.code == 3 and "Known:" in r.err and "Downloading" not in r.err
    assert cairn("models", "remove", "tiny").code == 0
    assert cairn("models", "remove", "tiny").code == 3


def test_bench_llm_json_contract(cairn) -> None:  # type: ignore[no-untyped-def]
    r = cairn("bench", "llm", "--model", "synthesized", "--shape", "tiny", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    for key in ("decode_ratio_vs_raw", "ttft_turn50_over_turn2", "restore_ms", "reprefill_ms", "evictions", "errors"):
        assert key in report, key
    assert report["errors"] == 0 and report["evictions"] > 0 and report["restore_ok"]


def test_gate_commands(cairn, isolated_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.bench.test_bench import CONV

    assert cairn("remember", "I adopted a greyhound called Pixel", "--speaker", "Ana").code == 0
    r = cairn("gate", "check", "What did Ana adopt?", "--json")
    assert r.code == 0 and json.loads(r.out)["retrieve"] is True
    r = cairn("gate", "check", "Write a haiku about rain")
    assert r.code == 0 and r.out.startswith("skip retrieval")
    personal, world = tmp_path / "l.json", tmp_path / "p.json"
    personal.write_text(json.dumps([CONV]))
    world.write_text(json.dumps({str(i): {"question": f"In what city was Person Number{i} born?"} for i in range(12)}))
    r = cairn("bench", "gate", "--personal", str(personal), "--world", str(world), "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert {"macro", "sets", "latency_ms", "baselines", "threshold"} <= set(report)
    assert "source:persona_personal" in report["sets"]  # the shipped personas by default
    r = cairn("bench", "gate", "--personal", str(personal))
    assert r.code == 2 and "--personal and --world go together" in r.err
    r = cairn("gate", "fit", "--personal", str(personal), "--world", str(world), "--out", str(tmp_path / "g.json"))
    assert r.code == 0 and "threshold 0.24" in r.out and (tmp_path / "g.json").exists()
    (isolated_home / "config.toml").write_text(f'[gate]\nweights_file = "{tmp_path / "g.json"}"\n')
    r = cairn("gate", "check", "What did Ana adopt?", "--json")
    assert r.code == 0 and "form_score" in json.loads(r.out)["signals"], r.err


def test_a_scripted_multi_session_chat(cairn, isolated_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Real llama.cpp (synthesized model), real bank, real MiniLM: stored with provenance, recalled in
    a later session when the gate says so, retrieval skipped for world and chit-chat turns."""
    from cairn.models import tiny_gguf

    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    (isolated_home / "config.toml").write_text(f'[llm]\nmodel = "{model}"\nn_ctx = 1024\n')
    script = ("I keep the spare house key under the blue flowerpot.\n"
              "My brother Tomas's birthday is on the 14th of April.\n/new\n"
              "Where do I keep my spare house key?\nWhen is my brother's birthday?\n"
              "Write a haiku about the sea\nIn what city was Aarno Maliniemi born?\n/why 1\n/quit\n")
    r = cairn("chat", input=script)
    assert r.code == 0, r.err
    notes = [line.strip() for line in r.err.splitlines() if line.strip().startswith("[")]
    assert len(notes) == 6, r.err
    assert "said by user" in r.out  # /why 1 shows the provenance trail
    listed = [m for m in json.loads(cairn("memories", "list", "--json").out)
              if not m["source"]["ref"].endswith("#evicted")]  # spans evicted from the context window
    by_turn = {t: {m["id"] for m in listed if m["source"]["turns"] == [t]} for t in ("T1", "T2")}
    assert by_turn["T1"] and by_turn["T2"] and {m["source"]["turns"][0] for m in listed} == {"T1", "T2"}
    assert all(m["source"]["speaker"] == "user" and m["source"]["type"] == "conversation" for m in listed)

    def used(note: str) -> set[int]:
        return {int(x) for x in re.findall(r"#(\d+)", note.rsplit("used", 1)[1])}

    assert notes[2].startswith("[memory") and used(notes[2]) & by_turn["T1"]
    assert notes[3].startswith("[memory") and used(notes[3]) & by_turn["T2"]
    assert notes[4].startswith("[no memory") and notes[5].startswith("[no memory")
    r = cairn("ask", "Where do I keep my spare house key?", "--json")
    assert r.code == 0, r.err
    answer = json.loads(r.out)
    assert answer["mode"] == "llm" and set(answer["used"]) & by_turn["T1"] and answer["gate"]["retrieve"]


CHAT = """29.12.2023, 22:40 - Messages and calls are end-to-end encrypted.
29.12.2023, 22:42 - Anna: I moved to Lisbon last week!
29.12.2023, 22:42 - Anna: The flat is in Alfama, near the castle.
29.12.2023, 22:43 - Ben: Oh nice, my cousin lives in Porto.
29.12.2023, 22:44 - Anna: <Media omitted>
"""


def test_importing_a_chat_export(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chat = tmp_path / "WhatsApp Chat with Anna.txt"
    chat.write_text(CHAT, encoding="utf-8")
    r = cairn("conversations", "import", str(chat))
    assert r.code == 0, r.err
    assert "Imported 'WhatsApp Chat with Anna': 3 messages from Anna and Ben, 2023-12-29" in r.out
    assert "2 new memories, 1 message joined the one before" in r.out and "2 lines skipped" in r.out
    hits = json.loads(cairn("recall", "Where is Anna's flat?", "-k", "1", "--json").out)
    assert hits[0]["memory"]["source"]["turns"] == ["L2", "L3"]
    shown = cairn("conversations", "show", "WhatsApp Chat with Anna").out.splitlines()
    assert [line.rsplit("-> ", 1)[-1] for line in shown] == ["memory #1", "memory #1", "memory #3"]
    again = cairn("conversations", "import", str(chat))
    assert again.code != 0 and "Already in the log: 'WhatsApp Chat with Anna'; nothing was imported" in again.err
    no_traceback(again)
    assert cairn("conversations", "import", str(chat), "--name", "anna", "--json").code == 0
    assert len(json.loads(cairn("conversations", "list", "--json").out)) == 2
    ambiguous = tmp_path / "us.txt"
    ambiguous.write_text("03/04/2023, 10:00 - A: I like tea\n", encoding="utf-8")
    r = cairn("conversations", "import", str(ambiguous))
    assert r.code != 0 and "--dates dmy or --dates mdy" in r.err
    no_traceback(r)
    assert cairn("conversations", "import", str(ambiguous), "--dates", "mdy").code == 0
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"29.12.2023, 22:42 - Anna: caf\xe9\n")
    r = cairn("conversations", "import", str(bad))
    assert r.code != 0 and "UTF-8" in r.err
    no_traceback(r)
