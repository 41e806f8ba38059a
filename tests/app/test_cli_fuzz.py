"""Fuzzing the command line: no argument list and no standard input may end in an internal error.

Runs the real CLI entry point in-process (click's isolation swaps stdin/stdout) against a real
bank on the hashing embedder, so a few hundred examples take a minute. Network commands (pulls)
are not fuzzed: tests never touch the network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.app.cli.main import INTERNAL_ERROR, main

WEIRD_TEXT = st.sampled_from(["", " ", "\u200b", "\ufeff", "\x00", "é", "🦷", "-", "--", "--json", "x" * 40000,
                              "../../etc/passwd", "/dev/zero", "/dev/null", "/nonexistent/file", "%s%n", "{}",
                              "[1,2]", '{"format": "cairn-export", "version": 3}', "1e20", "NaN", "-1", "0",
                              "99999999999999999999", "2024-13-45", "yesterday"])
NUMBERS = st.sampled_from(["0", "1", "2", "3", "-1", "-0", "1.5", "1e3", "99999999999999999999",
                           "9223372036854775807", "9223372036854775808", "abc", ""])
TEXT = st.one_of(WEIRD_TEXT, st.text(max_size=30))
ARG = st.one_of(TEXT, NUMBERS)

COMMANDS: list[tuple[list[str], list[st.SearchStrategy[str]]]] = [
    (["remember"], [TEXT]),
    (["remember", "-"], []),
    (["remember", "--file"], [WEIRD_TEXT]),
    (["remember", "--kind"], [TEXT, TEXT]),
    (["remember", "--when"], [TEXT, TEXT]),
    (["recall"], [TEXT]),
    (["recall", "-"], []),
    (["recall", "-k"], [NUMBERS, TEXT]),
    (["recall", "--since"], [TEXT, TEXT]),
    (["memories", "list", "--limit"], [NUMBERS]),
    (["memories", "list", "--offset"], [NUMBERS]),
    (["memories", "show"], [NUMBERS]),
    (["memories", "edit"], [NUMBERS, TEXT]),
    (["memories", "forget"], [NUMBERS, NUMBERS]),
    (["memories", "restore"], [NUMBERS]),
    (["memories", "purge", "--yes"], [NUMBERS, NUMBERS]),
    (["memories", "pin"], [NUMBERS]),
    (["memories", "history"], [NUMBERS]),
    (["memories", "why"], [NUMBERS]),
    (["memories", "why", "--days"], [NUMBERS, NUMBERS]),
    (["conversations", "show"], [TEXT]),
    (["conversations", "purge", "--yes"], [TEXT]),
    (["import"], [WEIRD_TEXT]),
    (["import", "-"], []),
    (["sweep", "--budget"], [NUMBERS]),
    (["gate", "check"], [TEXT]),
    (["ask"], [TEXT]),
    (["models", "info"], [TEXT]),
    (["models", "remove"], [TEXT]),
    (["embedders", "list"], []),
    (["export", "-"], []),
    ([], [ARG, ARG]),
]


@st.composite
def invocation(draw: st.DrawFn) -> tuple[list[str], bytes]:
    head, slots = draw(st.sampled_from(COMMANDS))
    args = head + [draw(s) for s in slots]
    if draw(st.booleans()):
        args.insert(draw(st.integers(0, len(args))), "--json")
    stdin = draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"\xff\xfe", b"\x00" * 10,
                                                                     b'{"format": "cairn-export", "version": 3}\n'])))
    return args, stdin


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("fuzz-home")
    os.chmod(home, 0o700)
    (home / "config.toml").write_text('[memory]\nembedder = "hashing"\n\n[llm]\nmodel = "none"\n')
    return home


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(call=invocation())
def test_no_input_ends_in_an_internal_error(fuzz_home: Path, monkeypatch: pytest.MonkeyPatch,
                                            call: tuple[list[str], bytes]) -> None:
    args, stdin = call
    monkeypatch.setenv("CAIRN_HOME", str(fuzz_home))
    monkeypatch.setenv("EDITOR", "true")
    runner = CliRunner()
    with runner.isolation(input=stdin) as (_out, err, *_):
        code = main(args)
        stderr = err.getvalue().decode("utf-8", "replace")
    assert code != INTERNAL_ERROR, (args, stdin[:60], stderr[-500:])
    assert "Traceback" not in stderr
    if "--json" in args[: args.index("--") if "--" in args else len(args)] and code not in (0, None):
        json.loads(stderr.strip().splitlines()[-1])  # errors stay machine-readable
