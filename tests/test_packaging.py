"""The project as shipped: the wheel holds every subpackage; README and CI agree."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

MAPPED = {"core": "cairn/core", "app": "cairn/app", "models": "cairn/models"}


def source_packages() -> set[str]:
    found = set()
    for folder, target in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(str(Path(target) / rel) if str(rel) != "." else target)
    return found


def test_wheel_contains_every_subpackage(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", *MAPPED):
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(item, src / name)
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True)
    [wheel] = out.glob("cairn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    inside = {str(Path(n).parent) for n in names if n.endswith("/__init__.py")}
    expected = source_packages()
    assert expected and expected <= inside, f"missing from the wheel: {sorted(expected - inside)}"
    assert not any(n.startswith("cairn/__init__") for n in names), "cairn must stay a namespace"
    assert any(n.endswith("entry_points.txt") for n in names)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_tests() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*$", quick, flags=re.M)
    assert commands == ["make demo", "make test"], commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert (ROOT / "constraints.txt").read_text().strip(), "the lock file is empty"


def test_every_cli_command_is_documented() -> None:
    from cairn.app.cli.main import cli

    doc = (ROOT / "docs" / "api.md").read_text()
    names = [f"cairn {n}" for n in cli.commands if n != "memories"]
    names += [f"cairn memories {n}" for n in cli.commands["memories"].commands]  # type: ignore[attr-defined]
    assert [n for n in names if f"`{n}" not in doc] == []
