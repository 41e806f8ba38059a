"""How much RAM a model may use here: the machine's available memory and the limits of the
control groups this process runs in (cgroup v1 and v2, each ancestor included), whichever is
smaller. Parsing is separate from reading so it can be tested on recorded files.

Page cache counts as free where the kernel can drop it (``inactive_file``): a cgroup that is
"full" of cache it has not touched for a while still has room for a model.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

UNLIMITED = 1 << 62  # cgroup v1 writes "no limit" as a page-rounded 2**63-1


@dataclass(frozen=True)
class Ram:
    """Bytes a new allocation can get, and what set that figure (for the plan's explanation)."""

    available: int
    source: str
    total: int = 0  # the tightest limit itself (the cgroup's, else the machine's RAM)


def meminfo(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo's text."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    total = values.get("MemTotal", 0)
    return total, values.get("MemAvailable", values.get("MemFree", total))


def memory_cgroups(text: str) -> tuple[str | None, str | None]:
    """(v1 memory path, v2 path) from /proc/self/cgroup's text."""
    v1 = v2 = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "memory" in parts[1].split(","):
            v1 = parts[2]
    return v1, v2


def stat_value(text: str, *keys: str) -> int:
    """The first of ``keys`` found in a memory.stat file (0 when none is)."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return next((values[k] for k in keys if k in values), 0)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return UNLIMITED
    return int(text) if text.isdigit() else None


def _group_room(folder: Path, version: int) -> tuple[int, int] | None:
    """(limit, room left) of one cgroup folder, or None when it has no limit or cannot be read."""
    names = ("memory.limit_in_bytes", "memory.usage_in_bytes") if version == 1 else ("memory.max", "memory.current")
    limit, usage = _number(_read(folder / names[0])), _number(_read(folder / names[1]))
    if limit is None or usage is None or limit >= UNLIMITED:
        return None
    stat = _read(folder / "memory.stat") or ""
    reclaimable = stat_value(stat, "total_inactive_file", "inactive_file")
    return limit, max(0, limit - usage + reclaimable)


def _cgroup_limit(root: Path, relative: str, version: int) -> tuple[int, int, str] | None:
    """The tightest (limit, room, folder) over the cgroup at ``relative`` and its ancestors."""
    best: tuple[int, int, str] | None = None
    parts = [p for p in relative.split("/") if p]
    for depth in range(len(parts), -1, -1):
        folder = root.joinpath(*parts[:depth])
        found = _group_room(folder, version)
        if found and (best is None or found[1] < best[1]):
            best = (found[0], found[1], "/" + "/".join(parts[:depth]))
    return best


def probe(proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> Ram:
    """The RAM this process can use now: min(MemAvailable, each memory cgroup's room)."""
    info = _read(proc / "meminfo")
    if info is None:
        return _sysconf()
    total, available = meminfo(info)
    ram = Ram(available, "MemAvailable", total)
    v1, v2 = memory_cgroups(_read(proc / "self" / "cgroup") or "")
    candidates = []
    if v1 is not None:
        candidates.append((_cgroup_limit(cgroup_root / "memory", v1, 1), "cgroup v1"))
    if v2 is not None:
        base = cgroup_root / "unified" if (cgroup_root / "unified" / "cgroup.controllers").exists() else cgroup_root
        candidates.append((_cgroup_limit(base, v2, 2), "cgroup v2"))
    for found, kind in candidates:
        if found is not None and found[1] < ram.available:
            ram = Ram(found[1], f"{kind} {found[2]} (limit {found[0] / 2**20:.0f} MiB)", found[0])
    return ram


def _sysconf() -> Ram:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return Ram(os.sysconf("SC_AVPHYS_PAGES") * page, "sysconf", os.sysconf("SC_PHYS_PAGES") * page)
    except (ValueError, OSError, AttributeError):
        return Ram(0, "unknown")


def lock_limit() -> int | None:
    """Bytes this process may lock in RAM (None: no limit, as for root or CAP_IPC_LOCK)."""
    if os.geteuid() == 0:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    best = hard if hard != resource.RLIM_INFINITY else soft
    return None if best == resource.RLIM_INFINITY else int(best)
