"""The entry point: `cairn --version` without importing the CLI; `-m` for Cairn's modules in a bundle."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cairn.app.cli import launch


def test_version_fast_path_says_what_click_says(capsys: pytest.CaptureFixture[str]) -> None:
    from cairn.app.cli.main import cli

    assert launch.run(["--version"]) == 0
    fast = capsys.readouterr().out
    slow = CliRunner().invoke(cli, ["--version"], prog_name="cairn").output
    assert fast == slow and fast.startswith("cairn, version ")


def test_version_fast_path_imports_no_command_line() -> None:
    code = ("import sys; from cairn.app.cli.launch import run; assert run(['--version']) == 0; "
            "heavy = [m for m in ('click', 'cairn.app.cli.main', 'cairn.core', 'numpy') if m in sys.modules]; "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("cairn, version ")


def test_frozen_bundle_runs_the_daemon_module(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`cairn daemon start` and service units spawn `sys.executable -m cairn.app.daemon`: in a bundle
    sys.executable is cairn itself, which must run the daemon's main (here its --help)."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(SystemExit) as stopped:
        launch.run(["-m", "cairn.app.daemon", "--help"])
    assert stopped.value.code == 0
    assert "cairn-daemon" in capsys.readouterr().out


def test_frozen_bundle_refuses_other_modules(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch.run(["-m", "http.server"]) == 2
    assert "only cairn.app.daemon" in capsys.readouterr().err


def test_outside_a_bundle_minus_m_is_an_ordinary_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert not launch.frozen()
    assert launch.run(["-m", "cairn.app.daemon"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_gui_entry_opens_the_app_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(launch, "run", lambda argv: seen.append(argv) or 0)
    for argv in (["cairnw"], ["Cairn", "-psn_0_1234"], ["cairnw", "--version"]):
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit):
            launch.gui_entry()
    assert seen == [["app"], ["app"], ["--version"]]
