"""Running the daemon at login (`cairn daemon install|uninstall`): a systemd user unit on Linux, a
LaunchAgent on macOS; on Windows nothing is written, the report names the Startup-folder shortcut.
Platform, environment, interpreter and command runner are parameters (tests make every platform's
files anywhere). Where the service manager is out of reach (most containers) the file is still
written and the report says which commands the user must run."""

from __future__ import annotations

import logging
import os
import plistlib
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PureWindowsPath

from cairn.app.daemon.lifecycle import write_private
from cairn.core import InvalidInput, Paths, StorageError, ensure_dir, expand, paths

log = logging.getLogger(__name__)
Runner = Callable[[list[str]], int]
UNIT_NAME = "cairn.service"
LABEL = "org.cairn.daemon"
MISSING = 127  # the shell's code for "command not found"
COMMAND_TIMEOUT_S = 60.0
MODULE = ["-m", "cairn.app.daemon"]
WINDOWS_ARGS = ["--tcp", "0"]  # loopback TCP and a token: a Unix socket may be unavailable
SYSTEMCTL = ["systemctl", "--user"]
LAUNCHD_LOG = "launchd.log"
STARTUP_LNK = "$([Environment]::GetFolderPath('Startup'))\\Cairn.lnk"


@dataclass(frozen=True)
class Ran:
    """One command run for the user, and its exit status (127: the program is missing)."""

    argv: tuple[str, ...]
    code: int


@dataclass(frozen=True)
class Report:
    """What `install`/`uninstall` did (``path``: the file written or removed, ``changed``: whether
    it did), what it ran, and what the user must still run (``todo``, in order)."""

    platform: str
    action: str
    path: Path | None
    changed: bool
    ran: tuple[Ran, ...] = ()
    todo: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:  # nothing left for the user to run
        return not self.todo

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data |= {"path": str(self.path) if self.path else None, "complete": self.complete,
                 "ran": [{"argv": list(r.argv), "code": r.code} for r in self.ran]}
        return data

    def describe(self) -> str:
        """The report for people: what changed, what ran, what is left to do."""
        lines, installing = [], self.action == "install"
        if self.path is not None:
            done = ("Wrote" if installing else "Removed") if self.changed else ("Unchanged:" if installing else "No file at")
            lines.append(f"{done} {self.path}")
        lines += [f"Ran `{shlex.join(r.argv)}`: " + ("ok" if r.code == 0 else f"exit {r.code}") for r in self.ran]
        lines += self.notes
        if self.todo:
            lines += ["Still to do:", *(f"  {command}" for command in self.todo)]
        elif self.platform != "windows":
            lines.append("Done: the Cairn daemon " + ("now starts at login." if installing else "no longer starts at login."))
        return "\n".join(lines)


def run_command(argv: list[str]) -> int:
    """Run ``argv`` quietly; its exit status, 127 when the program is missing (the default runner)."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return MISSING
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("%s could not run: %s", argv[0], exc)
        return 126
    if proc.returncode:
        log.info("%s exited with %d: %s", shlex.join(argv), proc.returncode, proc.stderr.strip())
    return proc.returncode


def kind(platform: str) -> str:
    """``linux``, ``darwin`` or ``windows`` for a ``sys.platform`` value."""
    key = "linux" if platform.startswith("linux") else platform
    found = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}.get(key)
    if found:
        return found
    raise InvalidInput(f"Cairn cannot install its daemon as a service on {platform}.",
                       hint="Have your service manager run `python -m cairn.app.daemon`, or use `cairn daemon start`.")


def unit_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user/cairn.service`` (default ``~/.config``)."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "systemd" / "user" / UNIT_NAME


def plist_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def _cairn_home(env: Mapping[str, str]) -> str | None:
    """CAIRN_HOME as the service will need it: absolute (a Windows path is taken as it is)."""
    home = env.get(paths.HOME_ENV, "").strip()
    if not home or PureWindowsPath(home).drive:
        return home or None
    return str(expand(home).absolute())


def _in_tmp(path: Path) -> bool:
    """Whether ``path`` lies in /tmp or /var/tmp (which PrivateTmp= would replace for the service)."""
    roots = [Path(r) for t in ("/tmp", "/var/tmp") for r in (t, os.path.realpath(t))]
    return any(p.is_relative_to(r) for p in (path.absolute(), Path(os.path.realpath(path))) for r in roots)


def systemd_quote(arg: str, dollars: bool = True) -> str:
    """One double-quoted word for a unit file: backslash, quote and control characters escaped,
    ``%`` doubled (specifiers), and ``$`` doubled where systemd expands variables (arguments)."""
    out = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    out = out.replace("$", "$$") if dollars else out
    return '"' + "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in out) + '"'


def unit_text(executable: str, cairn_home: str | None, private_tmp: bool = True) -> str:
    """The systemd user unit: the daemon in the foreground, restarted if it fails, hardened.
    ``private_tmp``: False when Cairn's files lie in /tmp (a private /tmp would hide them)."""
    if any(c in "\"'\\" or ord(c) < 32 or ord(c) == 127 for c in executable):
        raise StorageError(f"systemd cannot run the Python at {executable!r}: its path has a quote, a backslash or "
                           "a control character.", hint="Install Cairn in a virtual environment whose path has none.")
    exec_start = " ".join([systemd_quote(executable, dollars=False), *map(systemd_quote, MODULE)])
    env = [f"Environment={systemd_quote(f'{paths.HOME_ENV}={cairn_home}', dollars=False)}"] if cairn_home else []
    tmp = ["PrivateTmp=yes"] if private_tmp else ["# No PrivateTmp=: Cairn's files lie in /tmp, which it would hide."]
    return "\n".join([
        "[Unit]", "Description=Cairn memory assistant daemon (local model and memory database)", "",
        "[Service]", "Type=simple", f"ExecStart={exec_start}", *env,
        "Restart=on-failure", "RestartSec=5",
        "# Exit status 4: another daemon holds the lock, or the database cannot be opened.",
        "RestartPreventExitStatus=4",
        "UMask=0077", "NoNewPrivileges=yes", *tmp,
        "LockPersonality=yes", "RestrictRealtime=yes", "RestrictSUIDSGID=yes",
        "# No network restrictions: clients reach the daemon on its Unix socket (and, with --tcp,",
        "# on 127.0.0.1 only). Cairn itself makes no outbound connections.", "",
        "[Install]", "WantedBy=default.target", "",
    ])


def plist_bytes(executable: str, cairn_home: str | None, log_dir: Path) -> bytes:
    """The LaunchAgent: started at login, restarted when it exits with an error."""
    agent: dict[str, object] = {
        "Label": LABEL,
        "ProgramArguments": [executable, *MODULE],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        # Only what the daemon prints before its own rotating log (daemon.log) is set up.
        "StandardOutPath": str(log_dir / LAUNCHD_LOG),
        "StandardErrorPath": str(log_dir / LAUNCHD_LOG),
    }
    if cairn_home:
        agent["EnvironmentVariables"] = {paths.HOME_ENV: cairn_home}
    return plistlib.dumps(agent)


def pythonw(executable: str) -> str:
    """The console-less interpreter next to ``executable`` (what a login shortcut should start)."""
    exe = PureWindowsPath(executable)
    return str(exe.with_name("pythonw.exe")) if exe.name.lower() in ("python.exe", "python3.exe") else executable


def install(platform: str = sys.platform, env: Mapping[str, str] | None = None, executable: str | None = None,
            run: Runner = run_command, where: Paths | None = None, running_pid: int | None = None) -> Report:
    """Install the daemon as a service that starts at login (see the module's docstring).
    ``where``: Cairn's folders (default: resolved from ``env``); ``running_pid``: a daemon running now."""
    env = os.environ if env is None else env
    exe = executable or sys.executable
    if not exe:
        raise StorageError("Cannot tell which Python runs Cairn, so no service can start it.",
                           hint="Run `cairn daemon install` with the Python that Cairn is installed in.")
    home, os_kind = _cairn_home(env), kind(platform)
    if os_kind == "windows":
        return _windows_install(exe, home)
    where = where or paths.resolve(dict(env))
    target = plist_path(env) if os_kind == "darwin" else unit_path(env)
    existed = target.exists()
    if os_kind == "darwin":
        ensure_dir(where.log_dir)
        changed = _write(target, plist_bytes(exe, home, where.log_dir))
        ran, todo, notes = _launchd_load(target, existed, run)
    else:
        changed = _write(target, unit_text(exe, home, private_tmp=not _in_tmp(where.run_dir)).encode())
        ran, todo, notes = _systemd_enable(existed and changed, run)
    if running_pid is not None:
        notes.append(f"A daemon is already running (PID {running_pid}): if `cairn daemon start` started it, stop it "
                     "(`cairn daemon stop`) and start the service, or the service's own daemon cannot start.")
    return Report(os_kind, "install", target, changed, tuple(ran), tuple(todo), tuple(notes))


def uninstall(platform: str = sys.platform, env: Mapping[str, str] | None = None, run: Runner = run_command) -> Report:
    """Stop and remove the service `install` made (nothing to do where there is none)."""
    env = os.environ if env is None else env
    os_kind = kind(platform)
    if os_kind == "windows":
        return Report("windows", "uninstall", None, False, todo=(f'Remove-Item "{STARTUP_LNK}"',),
                      notes=("Or, if you made the scheduled task instead: schtasks /Delete /TN Cairn /F",))
    if os_kind == "darwin":
        target = plist_path(env)
        existed = target.exists()
        ran = (_run(run, ["launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}"]),) if existed else ()
        _remove(target)
        return Report("darwin", "uninstall", target, existed, ran)
    return _systemd_remove(unit_path(env), run)


def _write(target: Path, content: bytes) -> bool:
    """Write ``target`` (0600, replaced atomically); whether its content changed."""
    try:
        if target.exists() and target.read_bytes() == content:
            return False
        ensure_dir(target.parent)
        write_private(target, content.decode())
    except OSError as exc:
        raise StorageError(f"Cannot write the service file {target}: {exc.strerror or exc}.",
                           hint="Make that folder writable, or check HOME and XDG_CONFIG_HOME.") from exc
    return True


def _run(run: Runner, argv: list[str]) -> Ran:
    return Ran(tuple(argv), run(argv))


def _manager(run: Runner) -> tuple[Ran, str | None]:
    """Probe the systemd user manager; the reason it cannot be used, None when it can."""
    probe = _run(run, [*SYSTEMCTL, "show-environment"])
    if probe.code == MISSING:
        return probe, "systemctl was not found (this system does not run systemd)"
    if probe.code:
        return probe, "no systemd user manager could be reached (as in most containers and some SSH sessions)"
    return probe, None


def _systemd_enable(replaced: bool, run: Runner) -> tuple[list[Ran], list[str], list[str]]:
    """Reload and enable the unit (``replaced``: an older version of it was there)."""
    steps = [[*SYSTEMCTL, "daemon-reload"], [*SYSTEMCTL, "enable", "--now", UNIT_NAME]]
    probe, problem = _manager(run)
    ran = [probe]
    if problem:
        return ran, [shlex.join(s) for s in steps], [f"The service is not enabled: {problem}. Run the commands below yourself."]
    for i, step in enumerate(steps):
        ran.append(_run(run, step))
        if ran[-1].code:
            return ran, [shlex.join(s) for s in steps[i:]], [f"`{shlex.join(step)}` failed (exit {ran[-1].code})."]
    notes = [f"If the service ran already, `systemctl --user restart {UNIT_NAME}` applies the new unit."] if replaced else []
    return ran, [], [*notes, f"`journalctl --user -u {UNIT_NAME}` shows what the service manager saw."]


def _systemd_remove(target: Path, run: Runner) -> Report:
    probe, problem = _manager(run)
    ran = [probe]
    if problem is None:
        ran.append(_run(run, [*SYSTEMCTL, "disable", "--now", UNIT_NAME]))
    wants = target.parent / "default.target.wants" / UNIT_NAME
    if wants.is_symlink():  # what `disable` removes; left behind when it could not run
        _remove(wants)
    existed = target.exists()
    _remove(target)
    if problem is None:
        ran.append(_run(run, [*SYSTEMCTL, "daemon-reload"]))
    if problem is None or not existed:
        return Report("linux", "uninstall", target, existed, tuple(ran))
    todo = (shlex.join([*SYSTEMCTL, "stop", UNIT_NAME]), shlex.join([*SYSTEMCTL, "daemon-reload"]))
    note = f"The service was not stopped: {problem}. If it still runs, run the commands below yourself."
    return Report("linux", "uninstall", target, True, tuple(ran), todo, (note,))


def _launchd_load(target: Path, existed: bool, run: Runner) -> tuple[list[Ran], list[str], list[str]]:
    domain = f"gui/{os.getuid()}"
    ran = [_run(run, ["launchctl", "bootout", f"{domain}/{LABEL}"])] if existed else []  # unload the old agent
    ran.append(_run(run, ["launchctl", "bootstrap", domain, str(target)]))
    if ran[-1].code and ran[-1].code != MISSING:
        ran.append(_run(run, ["launchctl", "load", "-w", str(target)]))  # older macOS
    if ran[-1].code:
        command = shlex.join(["launchctl", "bootstrap", domain, str(target)])
        return ran, [command], ["launchctl could not load the agent; run the command below yourself."]
    return ran, [], []


def _windows_install(executable: str, cairn_home: str | None) -> Report:
    """Nothing to write: the Startup-folder shortcut (or logon task) the user makes, as commands."""
    target, args = pythonw(executable), subprocess.list2cmdline([*MODULE, *WINDOWS_ARGS])
    line = subprocess.list2cmdline([target, *MODULE, *WINDOWS_ARGS])
    shortcut = (f'$s = (New-Object -ComObject WScript.Shell).CreateShortcut("{STARTUP_LNK}"); '
                f"$s.TargetPath = '{target.replace(chr(39), chr(39) * 2)}'; $s.Arguments = '{args}'; $s.Save()")
    todo = ([f'setx {paths.HOME_ENV} "{cairn_home}"'] if cairn_home else []) + [shortcut]
    task = line.replace('"', '\\"')
    notes = (f"Nothing was written: a shortcut in the Startup folder (shell:startup) that runs `{line}` starts the "
             "daemon at login; the PowerShell command below makes it. On Windows the daemon listens on loopback TCP "
             "(127.0.0.1) with a token (--tcp 0), since a Unix socket may be unavailable.",
             f'Or, as a task at logon (may need an administrator prompt): schtasks /Create /SC ONLOGON /TN Cairn /TR "{task}"')
    return Report("windows", "install", None, False, todo=tuple(todo), notes=notes)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot remove {path}: {exc.strerror or exc}.", hint="Remove it yourself.") from exc
