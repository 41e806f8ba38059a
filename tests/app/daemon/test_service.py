"""`cairn daemon install|uninstall`: the files each platform gets, and the commands run for the user
(recorded by a fake runner: no systemctl or launchctl ever runs here, and the real home is never touched)."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shlex
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.app.daemon import service
from cairn.core import InvalidInput, StorageError, paths
from tests.conftest import Result

PYTHON = "/opt/py 3.11/bin/python"
RELOAD = "systemctl --user daemon-reload"
ENABLE = "systemctl --user enable --now cairn.service"


class Recorder:
    """A runner that records each command and answers with the code ``answer`` gives it."""

    def __init__(self, answer: Callable[[list[str]], int] = lambda argv: 0) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        return self.answer(argv)


def user_env(tmp_path: Path, cairn_home: str | None = "/home/ana/cairn data") -> dict[str, str]:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return env | ({"CAIRN_HOME": cairn_home} if cairn_home else {})


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    unit.read_string(path.read_text())
    return unit


def test_linux_unit_is_a_hardened_user_service_enabled_now(tmp_path: Path) -> None:
    run, env = Recorder(), user_env(tmp_path)
    report = service.install("linux", env, PYTHON, run)
    assert report.path == tmp_path / "config" / "systemd" / "user" / "cairn.service"
    assert report.platform == "linux" and report.changed and report.complete and report.todo == ()
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o600
    unit = read_unit(report.path)
    svc = unit["Service"]
    assert unit["Unit"]["Description"] and unit["Install"]["WantedBy"] == "default.target"
    assert shlex.split(svc["ExecStart"]) == [PYTHON, "-m", "cairn.app.daemon"]
    assert shlex.split(svc["Environment"]) == ["CAIRN_HOME=/home/ana/cairn data"]
    assert svc["Restart"] == "on-failure"
    assert svc["NoNewPrivileges"] == "yes" and svc["PrivateTmp"] == "yes" and svc["UMask"] == "0077"
    for blocked in ("PrivateNetwork", "IPAddressDeny", "RestrictAddressFamilies", "ProtectHome"):
        assert blocked not in svc  # the Unix socket, loopback TCP and the user's files stay reachable
    assert "no outbound connections" in report.path.read_text()
    assert [shlex.join(c) for c in run.calls] == ["systemctl --user show-environment", RELOAD, ENABLE]
    assert [r.code for r in report.ran] == [0, 0, 0] and "now starts at login" in report.describe()
    again = service.install("linux", env, "/usr/bin/python3", Recorder())
    assert again.changed and "systemctl --user restart cairn.service" in " ".join(again.notes)


def test_cairn_home_is_carried_only_when_set(tmp_path: Path) -> None:
    where = paths.resolve({"CAIRN_HOME": "/home/ana/cairn"})  # the folders Cairn would use without it
    report = service.install("linux", user_env(tmp_path, None), PYTHON, Recorder(), where=where)
    assert report.path is not None and "Environment" not in read_unit(report.path)["Service"]
    assert "CAIRN_HOME" not in report.path.read_text()


def test_a_home_in_tmp_gets_no_private_tmp(tmp_path: Path) -> None:
    """A private /tmp would hide the socket (and the database) of a CAIRN_HOME under /tmp."""
    env = user_env(tmp_path, "/tmp/cairn-demo")
    report = service.install("linux", env, PYTHON, Recorder(), where=paths.resolve(env))
    assert report.path is not None and "PrivateTmp" not in read_unit(report.path)["Service"]


def test_systemd_quoting() -> None:
    assert service.systemd_quote('a b%c$d"e\\f\n') == '"a b%%c$$d\\"e\\\\f\\x0a"'
    assert service.systemd_quote("HOME=/x/$y%", dollars=False) == '"HOME=/x/$y%%"'
    text = service.unit_text("/opt/50% off/$py/python", "/srv/$home")
    assert 'ExecStart="/opt/50%% off/$py/python" "-m" "cairn.app.daemon"' in text  # no $ expansion in the program
    assert 'Environment="CAIRN_HOME=/srv/$home"' in text
    with pytest.raises(StorageError, match="quote"):
        service.unit_text('/opt/it"s/python', None)


def test_missing_systemctl_writes_the_file_and_says_what_to_run(tmp_path: Path) -> None:
    run = Recorder(lambda argv: service.MISSING)
    report = service.install("linux", user_env(tmp_path), PYTHON, run)
    assert report.path is not None and report.path.is_file()
    assert not report.complete and report.todo == (RELOAD, ENABLE)
    assert run.calls == [["systemctl", "--user", "show-environment"]]  # nothing else was tried
    assert "systemctl was not found" in report.notes[0]
    text = report.describe()
    assert f"Wrote {report.path}" in text and f"Still to do:\n  {RELOAD}\n  {ENABLE}" in text


def test_unreachable_user_manager_or_failed_enable(tmp_path: Path) -> None:
    report = service.install("linux", user_env(tmp_path), PYTHON, Recorder(lambda argv: 1))
    assert report.todo == (RELOAD, ENABLE) and "no systemd user manager" in report.notes[0]
    failing = Recorder(lambda argv: 1 if "enable" in argv else 0)
    report = service.install("linux", user_env(tmp_path), PYTHON, failing)
    assert report.todo == (ENABLE,) and not report.changed  # same unit: rewritten as it was
    assert "failed (exit 1)" in report.notes[0]


def test_default_runner_reports_a_missing_program() -> None:
    assert service.run_command(["cairn-no-such-program-anywhere"]) == service.MISSING
    assert service.run_command([sys.executable, "-c", "raise SystemExit(3)"]) == 3


def test_install_then_uninstall_on_linux_leaves_nothing(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    installed = service.install("linux", env, PYTHON, Recorder())
    assert installed.path is not None
    wants = installed.path.parent / "default.target.wants" / "cairn.service"
    wants.parent.mkdir()
    wants.symlink_to(installed.path)  # as `systemctl --user enable` makes it
    run = Recorder()
    removed = service.uninstall("linux", env, run)
    assert removed.path == installed.path and removed.changed and removed.complete
    assert not installed.path.exists() and not wants.is_symlink()
    assert [shlex.join(c) for c in run.calls] == ["systemctl --user show-environment",
                                                  "systemctl --user disable --now cairn.service", RELOAD]
    again = service.uninstall("linux", env, Recorder())
    assert not again.changed and again.complete and "No file at" in again.describe()


def test_uninstall_without_a_user_manager_says_what_to_run(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    service.install("linux", env, PYTHON, Recorder(lambda argv: 1))
    report = service.uninstall("linux", env, Recorder(lambda argv: 1))
    assert report.path is not None and not report.path.exists()
    assert report.todo == ("systemctl --user stop cairn.service", RELOAD)


def test_macos_launch_agent(tmp_path: Path) -> None:
    env = user_env(tmp_path, str(tmp_path / "cairn-home"))
    where, run = paths.resolve(env), Recorder()
    report = service.install("darwin", env, PYTHON, run, where=where)
    assert report.path == tmp_path / "home" / "Library" / "LaunchAgents" / "org.cairn.daemon.plist"
    agent = plistlib.loads(report.path.read_bytes())
    assert agent["Label"] == "org.cairn.daemon" and agent["ProgramArguments"] == [PYTHON, "-m", "cairn.app.daemon"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert Path(agent["StandardOutPath"]).parent == where.log_dir == Path(agent["StandardErrorPath"]).parent
    assert where.log_dir.is_dir()  # launchd does not make the folder
    assert agent["EnvironmentVariables"] == {"CAIRN_HOME": str(tmp_path / "cairn-home")}
    assert run.calls == [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(report.path)]] and report.complete
    assert "EnvironmentVariables" not in plistlib.loads(service.plist_bytes(PYTHON, None, where.log_dir))


def test_macos_falls_back_to_load_and_reloads_a_changed_agent(tmp_path: Path) -> None:
    env, domain = user_env(tmp_path), f"gui/{os.getuid()}"
    run = Recorder(lambda argv: 5 if argv[1] == "bootstrap" else 0)
    first = service.install("darwin", env, PYTHON, run)
    assert first.path is not None and first.complete
    assert run.calls[-1] == ["launchctl", "load", "-w", str(first.path)]
    run = Recorder(lambda argv: service.MISSING)
    second = service.install("darwin", env, "/usr/local/bin/python3", run)
    assert run.calls[0] == ["launchctl", "bootout", f"{domain}/org.cairn.daemon"] and second.changed
    assert second.todo == (shlex.join(["launchctl", "bootstrap", domain, str(first.path)]),)
    run = Recorder()
    removed = service.uninstall("darwin", env, run)
    assert removed.changed and not first.path.exists()
    assert run.calls == [["launchctl", "bootout", f"{domain}/org.cairn.daemon"]]


def test_windows_gets_instructions_and_no_file(tmp_path: Path) -> None:
    run = Recorder()
    env = user_env(tmp_path, r"C:\Users\ana\cairn")
    report = service.install("win32", env, r"C:\Program Files\Python311\python.exe", run)
    assert report.path is None and not report.changed and not report.complete and run.calls == []
    assert not (tmp_path / "home").exists() and not (tmp_path / "config").exists()
    assert report.todo[0] == r'setx CAIRN_HOME "C:\Users\ana\cairn"'
    shortcut = report.todo[1]
    assert "Startup" in shortcut and r"'C:\Program Files\Python311\pythonw.exe'" in shortcut
    assert "'-m cairn.app.daemon --tcp 0'" in shortcut
    text = " ".join(report.notes)
    assert "shell:startup" in text and "--tcp 0" in text and "loopback" in text
    task = r'/TR "\"C:\Program Files\Python311\pythonw.exe\" -m cairn.app.daemon --tcp 0"'
    assert f"schtasks /Create /SC ONLOGON /TN Cairn {task}" in text
    assert "Remove-Item" in service.uninstall("win32", env, run).todo[0] and run.calls == []


def test_other_platforms_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="freebsd"):
        service.install("freebsd14", user_env(tmp_path), PYTHON, Recorder())
    assert service.kind("linux2") == "linux" and service.kind("cygwin") == "windows"


def test_report_as_json_and_a_running_daemon_noted(tmp_path: Path) -> None:
    report = service.install("linux", user_env(tmp_path), PYTHON, Recorder(), running_pid=4242)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["path"] == str(report.path) and data["complete"] is True and data["action"] == "install"
    assert data["ran"][0] == {"argv": ["systemctl", "--user", "show-environment"], "code": 0}
    assert any("PID 4242" in note for note in data["notes"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the real command on this platform's service manager")
def test_cli_install_and_uninstall_on_this_machine(cairn: Callable[..., Result], tmp_path: Path) -> None:
    """The real CLI and systemctl (if any), kept away from any user manager: no bus, no runtime folder."""
    away = {"XDG_RUNTIME_DIR": str(tmp_path / "no-runtime"), "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "cairn.service"
    done = cairn("daemon", "install", "--json", env=away)
    assert done.code == 0 and done.err == "", done.err
    data = json.loads(done.out)
    assert data["path"] == str(unit) and unit.is_file() and data["complete"] is False
    assert data["todo"] == [RELOAD, ENABLE] and data["ran"][0]["code"] != 0
    assert f"CAIRN_HOME={os.environ['CAIRN_HOME']}" in unit.read_text()
    text = cairn("daemon", "install", env=away)
    assert text.code == 0 and f"Still to do:\n  {RELOAD}\n  {ENABLE}" in text.out
    gone = cairn("daemon", "uninstall", "--json", env=away)
    assert gone.code == 0 and json.loads(gone.out)["changed"] is True and not unit.exists()
