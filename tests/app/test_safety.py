"""The CLI's safety promises, tried as a careful user and a second local user would."""

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.core.memory.storage.textcheck import BOM


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(home: Path, *args: str, umask: int = 0o022, input: bytes | None = None, limits=None,  # type: ignore[no-untyped-def]
        timeout: float = 120) -> subprocess.CompletedProcess:
    def prepare() -> None:
        os.umask(umask)
        for which, value in (limits or {}).items():
            resource.setrlimit(which, (value, value))

    env = {**os.environ, "CAIRN_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "cairn.app.cli", *args], env=env, capture_output=True,
                          input=input, timeout=timeout, preexec_fn=prepare,
                          stdin=None if input is not None else subprocess.DEVNULL)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o002])
def test_new_install_is_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "deep" / "cairn-home"
    (tmp_path / "deep").mkdir()
    home.mkdir(mode=0o777)
    os.chmod(home, 0o700)
    (home / "config.toml").write_text('[memory]\nembedder = "hashing"\n')
    assert run(home, "remember", "My sister Ana lives in Lisbon", umask=umask).returncode == 0
    assert run(home, "export", str(home / "exports" / "backup.jsonl"), umask=umask).returncode == 0
    for folder in [home, *[p for p in home.rglob("*") if p.is_dir()]]:
        assert mode(folder) == 0o700, folder
    files = [home / "memory.db", home / "memory.db-wal", home / "memory.db-shm", home / "exports" / "backup.jsonl"]
    for f in files:
        if f.exists():
            assert mode(f) == 0o600, (f, oct(mode(f)))
    assert (home / "memory.db").exists() and (home / "exports" / "backup.jsonl").exists()


def test_existing_install_is_tightened_with_a_note(tmp_path: Path) -> None:
    home = tmp_path / "older-home"
    home.mkdir()
    (home / "config.toml").write_text('[memory]\nembedder = "hashing"\n')
    assert run(home, "remember", "first note").returncode == 0
    os.chmod(home, 0o755)
    for suffix in ("", "-wal", "-shm"):
        if (home / f"memory.db{suffix}").exists():
            os.chmod(home / f"memory.db{suffix}", 0o644)
    r = run(home, "recall", "note")
    assert r.returncode == 0
    assert b"private to you" in r.stderr and b"was 755" in r.stderr
    assert mode(home) == 0o700 and mode(home / "memory.db") == 0o600
    assert b"private to you" not in run(home, "recall", "note").stderr  # only once


def test_errors_are_json_with_json_and_never_internal(cairn) -> None:  # type: ignore[no-untyped-def]
    r = cairn("memories", "show", "99999999999999999999", "--json")
    assert r.code == 3 and json.loads(r.err)["error"]["code"] == "not_found"
    for args in (["memories", "why", "99999999999999999999"], ["memories", "forget", "99999999999999999999"],
                 ["memories", "purge", "--yes", "99999999999999999999"], ["memories", "pin", "99999999999999999999"],
                 ["memories", "history", "99999999999999999999"], ["memories", "restore", "99999999999999999999"],
                 ["memories", "edit", "99999999999999999999", "x"]):
        r = cairn(*args)
        assert r.code == 3 and "No memory with id 99999999999999999999" in r.err, (args, r.err)
    r = cairn("recall", "tea", "-k", "100000000000000000000", "--json")
    assert r.code == 2 and json.loads(r.err)["error"]["code"] == "usage"
    r = cairn("remember", "-", "--json", input="\u200b\u200b \ufeff")
    assert r.code == 2 and "no visible characters" in json.loads(r.err)["error"]["message"]


def test_a_leading_byte_order_mark_is_dropped(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "note.txt"
    note.write_bytes((BOM + "Dentist on Tuesday").encode("utf-8"))
    r = cairn("remember", "--file", str(note), "--json")
    assert r.code == 0 and json.loads(r.out)["text"] == "Dentist on Tuesday"


def test_endless_input_is_refused_without_reading_it_all(cairn) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    r = cairn("remember", "--file", "/dev/zero")
    assert r.code == 2 and "the limit is 32,768 bytes" in r.err
    assert time.monotonic() - start < 30


def test_multi_id_commands_are_all_or_nothing(cairn) -> None:  # type: ignore[no-untyped-def]
    a = json.loads(cairn("remember", "Xylophorix clinic results arrive on Tuesday", "--json").out)
    b = json.loads(cairn("remember", "Xylophorix clinic results arrive on Tuesday", "--json").out)
    c = json.loads(cairn("remember", "Buy oat milk and bread", "--json").out)
    assert b["replaced_by"] == a["id"]  # merged into a
    r = cairn("memories", "forget", str(a["id"]), "424242", str(c["id"]))
    assert r.code == 3 and "424242" in r.err and "nothing was changed" in r.err
    assert len(json.loads(cairn("memories", "list", "--json").out)) == 2
    r = cairn("memories", "purge", "--yes", str(a["id"]), str(b["id"]), str(c["id"]))
    assert r.code == 0, r.err
    assert json.loads(cairn("memories", "list", "--all", "--json").out) == []


def test_export_onto_a_full_disk_is_a_storage_error_and_leaves_nothing(cairn, isolated_home: Path,  # type: ignore[no-untyped-def]
                                                                         tmp_path: Path) -> None:
    """A 16 KiB tmpfs in a private mount namespace is a full disk (needs root, as CI and this VM run)."""
    for i in range(30):
        cairn("remember", f"memory {i}: " + "words about gardens and rivers " * 20)
    disk = tmp_path / "small-disk"
    disk.mkdir()
    command = (f"mount -t tmpfs -o size=16k tmpfs {disk} && {sys.executable} -m cairn.app.cli export "
               f"{disk}/backup.jsonl; echo rc=$?; ls -A {disk}")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs {disk}"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {probe.stderr.decode().strip()}")
    r = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True,
                       env={**os.environ, "CAIRN_HOME": str(isolated_home)}, timeout=120)
    assert "rc=4" in r.stdout and "Cannot write the export" in r.stderr and "No space left" in r.stderr, r
    assert "Traceback" not in r.stderr
    assert r.stdout.strip().endswith("rc=4")  # and nothing was left on the disk


def test_conversation_log_commands(cairn) -> None:  # type: ignore[no-untyped-def]
    cairn("ask", "Where did I leave the Xylophorix keys?")
    listed = json.loads(cairn("conversations", "list", "--json").out)
    assert len(listed) == 1 and listed[0]["turns"] == 1
    shown = cairn("conversations", "show", listed[0]["name"]).out
    assert "Xylophorix keys" in shown
    assert cairn("conversations", "purge", "--all", "--yes").code == 0
    assert json.loads(cairn("conversations", "list", "--json").out) == []


@pytest.mark.slow
def test_eight_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    """8 processes, each writing through the CLI in a loop: every write succeeds, none is lost."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text('[memory]\nembedder = "hashing"\n')
    run(home, "remember", "the bank exists")
    script = ("import subprocess, sys\n"
              "for i in range(int(sys.argv[2])):\n"
              "    text = f'writer {sys.argv[1]} wrote entry {i}: ' + ' '.join(['w%s_%s' % (sys.argv[1], i)] * 6)\n"
              "    r = subprocess.run([sys.executable, '-m', 'cairn.app.cli', 'remember', text], capture_output=True)\n"
              "    print(r.returncode, r.stderr.decode().strip().replace(chr(10), ' '), flush=True)\n")
    env = {**os.environ, "CAIRN_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w), "5"], env=env, stdout=subprocess.PIPE, text=True)
             for w in range(8)]
    results = [line for p in procs for line in p.communicate(timeout=600)[0].splitlines()]
    failures = [line for line in results if not line.startswith("0 ")]
    assert len(results) == 40 and failures == []
    listed = json.loads(run(home, "memories", "list", "--limit", "1000", "--json").stdout)
    assert len(listed) == 41


@pytest.mark.slow
def test_a_killed_first_run_conversion_is_cleaned_up_next_time(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    home.mkdir(mode=0o700)
    proc = subprocess.Popen([sys.executable, "-m", "cairn.app.cli", "remember", "hello there"],
                            env={**os.environ, "CAIRN_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    embedders = home / "models" / "embedders"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(embedders.glob(".all-minilm-l6-v2-*/*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(embedders.glob(".all-minilm-l6-v2-*")), "the conversion should have been under way"
    assert run(home, "recall", "hello").returncode == 0
    assert list(embedders.glob(".all-minilm-l6-v2-*")) == []
    assert (embedders / "all-minilm-l6-v2" / "model.onnx").is_file()
