"""The Linux packages' files: desktop entry, systemd user unit, maintainer scripts, rpm spec, the
purge script (run for real on a made-up home)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cairn.app.cli import launch
from cairn.app.daemon import service
from tests.packaging.files import PACKAGING, text

INSTALLED = "/usr/lib/cairn/cairn"


def ini(source: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(source)
    return parser


def test_desktop_entry_is_well_formed() -> None:
    entry = ini(text("linux/cairn.desktop"))["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Cairn" and entry["Terminal"] == "false"
    assert entry["Exec"] == "cairn app" and entry["Icon"] == "cairn"
    assert entry["Categories"].endswith(";") and entry["Keywords"].endswith(";")
    assert (PACKAGING / "icons" / "cairn.svg").is_file() and (PACKAGING / "icons" / "cairn.png").is_file()
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(PACKAGING / "linux" / "cairn.desktop")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_packaged_unit_runs_the_bundle_as_the_daemon() -> None:
    """The unit the packages ship is service.py's, for the installed executable; the bundle runs
    `-m cairn.app.daemon` itself (launch.MODULES)."""
    unit = ini(service.unit_text(INSTALLED, None))
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    assert unit["Service"]["ExecStart"] == f'"{INSTALLED}" "-m" "cairn.app.daemon"'
    assert unit["Service"]["Type"] == "simple" and unit["Install"]["WantedBy"] == "default.target"
    assert "Environment" not in unit["Service"]  # no CAIRN_HOME: each user's own folders
    assert "cairn.app.daemon" in launch.MODULES
    assert "unit_text" in text("linux/build-packages.sh")


def test_scripts_parse() -> None:
    for script in ("linux/build-packages.sh", "linux/smoke-packages.sh", "linux/make-package.sh", "macos/build.sh"):
        subprocess.run(["bash", "-n", str(PACKAGING / script)], check=True)
    for script in ("linux/debian/postrm", "linux/cairn-purge-user-data"):
        subprocess.run(["sh", "-n", str(PACKAGING / script)], check=True)
        assert os.access(PACKAGING / script, os.X_OK), script


def test_debian_control_and_rpm_spec_list_the_same_files() -> None:
    control = text("linux/control.in")
    for field in ("Package: cairn", "Version: @VERSION@", "Architecture: @ARCH@", "Depends: libc6 (>= @GLIBC@)",
                  "Installed-Size: @INSTALLED_KB@", "Description: "):
        assert field in control, field
    spec = text("linux/cairn-rpm.spec")
    assert "AutoReqProv:    no" in spec and "__os_install_post %{nil}" in spec  # no strip of the bundle
    files = spec.split("%files", 1)[1]
    for path in ("%{_bindir}/cairn\n", "/usr/lib/cairn\n", "/usr/lib/systemd/user/cairn.service",
                 "applications/cairn.desktop", "cairn-purge-user-data"):
        assert path in files, path
    smoke = text("linux/smoke-packages.sh")
    assert "unshare -n" in smoke and "/usr/lib/systemd/user/cairn.service" in smoke


def purge(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}  # no cairn on PATH: nothing else is stopped
    return subprocess.run([str(PACKAGING / "linux" / "cairn-purge-user-data"), *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=30)


def make_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for folder in (".local/share/cairn", ".config/cairn", ".cache/cairn", ".local/state/cairn/log", ".config/other"):
        (home / folder).mkdir(parents=True)
    (home / ".local/share/cairn/memory.db").write_bytes(b"x")
    return home


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_purge_asks_and_erases_only_cairn(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    refused = purge(home, stdin="no\n")
    assert refused.returncode == 1 and (home / ".local/share/cairn/memory.db").exists()
    done = purge(home, "--yes")
    assert done.returncode == 0, done.stderr
    assert not any((home / f).exists() for f in (".local/share/cairn", ".config/cairn", ".cache/cairn", ".local/state/cairn"))
    assert (home / ".config/other").is_dir()
