"""The RAM probe: /proc/meminfo and cgroup v1/v2 limits, read from recorded files."""

from pathlib import Path

from cairn.core.llm import ram

MEMINFO = "MemTotal:       24000000 kB\nMemFree:        1000000 kB\nMemAvailable:   20000000 kB\n"


def test_meminfo_and_cgroup_lines_parse() -> None:
    assert ram.meminfo(MEMINFO) == (24000000 * 1024, 20000000 * 1024)
    text = "9:name=systemd:/\n4:memory:/process_api/abc\n0::/user.slice/app\n"
    assert ram.memory_cgroups(text) == ("/process_api/abc", "/user.slice/app")
    assert ram.stat_value("cache 5\ntotal_inactive_file 42\n", "total_inactive_file", "inactive_file") == 42
    assert ram.stat_value("x 1\n", "inactive_file") == 0


def _proc(tmp: Path, cgroup_line: str) -> Path:
    proc = tmp / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(MEMINFO)
    (proc / "self" / "cgroup").write_text(cgroup_line)
    return proc


def test_probe_takes_the_tightest_v1_ancestor(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "4:memory:/outer/inner\n")
    root = tmp_path / "cg"
    outer, inner = root / "memory" / "outer", root / "memory" / "outer" / "inner"
    inner.mkdir(parents=True)
    for folder, limit, usage in ((outer, 900 << 20, 500 << 20), (inner, 9223372036854771712, 10 << 20)):
        (folder / "memory.limit_in_bytes").write_text(f"{limit}\n")
        (folder / "memory.usage_in_bytes").write_text(f"{usage}\n")
        (folder / "memory.stat").write_text("total_inactive_file 104857600\n")
    found = ram.probe(proc, root)
    assert found.available == (900 - 500 + 100) << 20  # the reclaimable cache counts as room
    assert "cgroup v1 /outer" in found.source and found.total == 900 << 20


def test_probe_reads_cgroup_v2_and_falls_back_to_meminfo(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/app\n")
    root = tmp_path / "cg"
    (root / "app").mkdir(parents=True)
    (root / "app" / "memory.max").write_text("max\n")
    (root / "app" / "memory.current").write_text("1000\n")
    assert ram.probe(proc, root).source == "MemAvailable"  # no limit: the machine's figure
    (root / "app" / "memory.max").write_text(f"{300 << 20}\n")
    (root / "app" / "memory.stat").write_text("inactive_file 0\n")
    found = ram.probe(proc, root)
    assert found.available == (300 << 20) - 1000 and found.source.startswith("cgroup v2 /app")


def test_probe_of_this_process_is_positive() -> None:
    found = ram.probe()
    assert 0 < found.available <= max(found.total, found.available)
