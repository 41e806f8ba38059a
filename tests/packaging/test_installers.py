"""The Windows and macOS scripts and the three-OS workflow. None of them can run here (no Windows or
macOS, no GitHub runner): the workflow is checked as YAML, the scripts for what they must contain."""

from __future__ import annotations

import plistlib

import pytest

from tests.conftest import ROOT
from tests.packaging.files import PACKAGING, text

yaml = pytest.importorskip("yaml")


def test_workflow_is_valid_yaml_with_the_three_os_matrix() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "installers.yml").read_text(encoding="utf-8"))
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    job = flow["jobs"]["bundle"]
    matrix = job["strategy"]["matrix"]["include"]
    assert {m["kind"] for m in matrix} == {"linux", "windows", "macos"}
    assert {m["os"].split("-")[0] for m in matrix} == {"ubuntu", "windows", "macos"}
    assert job["runs-on"] == "${{ matrix.os }}"
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    for command in ("make package", "packaging/windows/build.ps1", "packaging/macos/build.sh"):
        assert command in runs, command
    assert "make test" in (ROOT / ".ci" / "run").read_text() and "make package" not in (ROOT / ".ci" / "run").read_text()


def test_inno_setup_script_is_per_user_with_a_loopback_daemon_at_startup() -> None:
    iss = text("windows/cairn.iss")
    for needed in ("PrivilegesRequired=lowest", "{localappdata}\\Programs\\Cairn", "{userstartup}",
                   "-m cairn.app.daemon --tcp 0", "daemon stop", "MB_DEFBUTTON2", "UninstallSilent"):
        assert needed in iss, needed
    build = text("windows/build.ps1")
    assert "iscc" in build and "packaging\\smoke.py" in build and "vcomp140" in build


def test_macos_build_signs_notarizes_and_makes_a_dmg() -> None:
    script = text("macos/build.sh")
    for needed in ("codesign", "--options runtime", "notarytool submit", "stapler staple", "hdiutil create",
                   "CAIRN_SIGN_IDENTITY", "daemon install"):
        assert needed in script, needed
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.cs.allow-unsigned-executable-memory"] is True
