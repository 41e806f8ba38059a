"""The memory cgroup `cairn bench loading` runs its capped decodes in (skipped where none can be made)."""

import sys
from pathlib import Path

import pytest

from cairn.core.bench import cgroup
from cairn.core.errors import CairnError


@pytest.fixture
def group() -> cgroup.Cgroup:
    try:
        made = cgroup.create("cairn-test")
    except CairnError as exc:
        pytest.skip(exc.message)
    yield made
    made.remove()
    assert not made.folder.exists()


def test_a_child_runs_inside_the_capped_group(group: cgroup.Cgroup) -> None:
    group.set_limit(256 << 20)
    code = "import pathlib; print(pathlib.Path('/proc/self/cgroup').read_text())"
    done = group.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 0 and group.folder.name in done.stdout
    assert 0 < group.peak() <= 256 << 20 and group.oom_kills() == 0


def test_the_ram_probe_inside_sees_the_cap(group: cgroup.Cgroup) -> None:
    group.set_limit(300 << 20)
    code = "from cairn.core.llm import ram; r = ram.probe(); print(r.available, r.source)"
    done = group.run([sys.executable, "-c", code], timeout=60)
    available, source = done.stdout.split(maxsplit=1)
    assert int(available) <= 300 << 20 and "cgroup" in source


def test_a_child_over_its_cap_is_killed_and_counted(group: cgroup.Cgroup) -> None:
    group.set_limit(64 << 20)
    done = group.run([sys.executable, "-c", "x = bytearray(256 << 20); x[::4096] = b'1' * len(x[::4096])"], timeout=60)
    assert done.returncode != 0 and group.oom_kills() >= 1


def test_drop_cache_empties_the_page_cache_of_a_file(tmp_path: Path) -> None:
    from cairn.core.llm.streaming import residency

    f = tmp_path / "blob"
    f.write_bytes(b"\7" * (1 << 20))
    f.read_bytes()
    cgroup.drop_cache(f)
    assert residency(f) < 0.5
