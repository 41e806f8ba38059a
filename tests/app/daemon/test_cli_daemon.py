"""The CLI goes through the daemon when one runs, and never opens the database beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.app.client import Client
from cairn.core import Paths, ServiceError


def test_cli_commands_go_through_the_daemon(daemon: Client, daemon_paths: Paths, cairn: Callable[..., object]) -> None:
    r = cairn("remember", "My sister Ana lives in Lisbon", "--kind", "fact")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert daemon.request("GET", "/v1/memories")["data"][0]["text"] == "My sister Ana lives in Lisbon"
    hits = json.loads(cairn("--json", "recall", "where does my sister live?").out)  # type: ignore[attr-defined]
    assert hits[0]["memory"]["kind"] == "fact"
    assert cairn("memories", "forget", "1", "--reason", "moved").code == 0  # type: ignore[attr-defined]
    assert daemon.request("GET", "/v1/memories/1")["forgotten_at"] is not None
    assert cairn("memories", "restore", "1").code == 0  # type: ignore[attr-defined]
    answer = json.loads(cairn("--json", "ask", "Where does my sister live?", timeout=180).out)  # type: ignore[attr-defined]
    assert 1 in answer["used"] and "lisbon" in answer["text"].lower()
    refused = cairn("reindex")
    assert refused.code == 8 and "cairn daemon stop" in refused.err  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_the_cli_never_opens_the_database_while_the_daemon_runs(daemon: Client, daemon_paths: Paths,
                                                                tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    proc = subprocess.run(["strace", "-f", "-e", "trace=open,openat", "-o", str(trace), sys.executable, "-m",
                           "cairn.app.cli", "remember", "Dentist on March 21"], capture_output=True, timeout=120)
    if proc.returncode != 0 and b"ptrace" in proc.stderr:
        pytest.skip("ptrace is not permitted here")
    assert proc.returncode == 0, proc.stderr
    opened = trace.read_text()
    assert str(daemon_paths.database) not in opened
    assert daemon.request("POST", "/v1/memories/search", {"query": "dentist"})["data"]


def test_a_chat_export_is_imported_through_the_daemon(daemon: Client, cairn: Callable[..., object],
                                                       tmp_path: Path) -> None:
    chat = tmp_path / "anna.txt"
    lines = [f"29.12.2023, 22:{n // 60:02d} - Anna: Note {n} about the Lisbon aquarium." for n in range(1200)]
    chat.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cairn("--json", "conversations", "import", str(chat), timeout=300)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    [result] = json.loads(r.out)  # type: ignore[attr-defined]
    assert result["logged"] == 1200 and result["stored"] + result["joined"] + result["log_only"] == 1200
    turns = daemon.request("GET", "/v1/conversations/anna")["turns"]
    assert len(turns) == 1200 and turns[-1]["turn"] == "L1200"  # six requests of 200, in order
    refused = cairn("conversations", "import", str(chat))
    assert refused.code != 0 and "Already in the log" in refused.err  # type: ignore[attr-defined]
    bad = {"turns": [{"speaker": "A", "text": "x", "at": "soon", "turn": "L1"}]}
    with pytest.raises(ServiceError, match="at"):
        daemon.request("POST", "/v1/conversations/anna/turns", bad)
    with pytest.raises(ServiceError, match="UTF-8"):  # the whole file to the daemon, as the app sends it
        daemon.request("POST", "/v1/conversations/import", content=b"29.12.2023, 22:42 - Ana: caf\xe9\n")
    raw = {"session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [
        {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a greyhound called Pixel"}]}
    two = json.dumps([{"sample_id": "s1", "conversation": raw}, {"sample_id": "s2", "conversation": raw}])
    data = daemon.request("POST", "/v1/conversations/import", content=two.encode())["data"]
    assert [(r["conversation"], r["logged"], r["stored"]) for r in data] == [("s1", 1, 1), ("s2", 1, 1)]
    with pytest.raises(ServiceError, match="Already in the log: 's1', 's2'"):
        daemon.request("POST", "/v1/conversations/import", content=two.encode())
