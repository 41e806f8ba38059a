"""A memory-capped child cgroup for ``cairn bench loading``: created under this process's own
memory cgroup (v1, or v2 where the memory controller is delegated), given a limit, and removed
afterwards. A child process joins it before it starts (its shell writes its own PID into the
group, then execs), so nothing it maps is charged elsewhere.

Page cache is charged to the group that first reads a page: before each capped run the model
file is dropped from the cache (:func:`drop_cache`), or the run would read it for free.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cairn.core.errors import CairnError
from cairn.core.llm import ram

ROOT = Path("/sys/fs/cgroup")


@dataclass
class Cgroup:
    folder: Path
    version: int

    @property
    def limit_file(self) -> Path:
        return self.folder / ("memory.limit_in_bytes" if self.version == 1 else "memory.max")

    def set_limit(self, n_bytes: int) -> None:
        self.limit_file.write_text(str(n_bytes))
        if self.version == 1:  # no swap either, where the kernel accounts it
            swap = self.folder / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    swap.write_text(str(n_bytes))
                except OSError:
                    pass
        else:
            swap = self.folder / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")

    def peak(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.folder / name).read_text().strip())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        if self.version == 1:
            text = (self.folder / "memory.oom_control").read_text()
        else:
            text = (self.folder / "memory.events").read_text()
        return ram.stat_value(text, "oom_kill")

    def run(self, argv: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the group: a shell joins it, then execs the command."""
        procs = self.folder / "cgroup.procs"
        script = f"echo $$ > {shlex.quote(str(procs))} && exec {shlex.join(argv)}"
        return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=timeout, env=env)

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # the last process is still leaving


def create(prefix: str = "cairn-bench") -> Cgroup:
    """A new memory cgroup under this process's own; CairnError when none can be made."""
    v1, v2 = ram.memory_cgroups(Path("/proc/self/cgroup").read_text())
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    tries = []
    if v1 is not None:
        tries.append((ROOT / "memory" / v1.lstrip("/") / name, 1))
    if v2 is not None:
        base = ROOT / "unified" if (ROOT / "unified" / "cgroup.controllers").exists() else ROOT
        tries.append((base / v2.lstrip("/") / name, 2))
    errors = []
    for folder, version in tries:
        try:
            folder.mkdir()
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
            continue
        group = Cgroup(folder, version)
        if group.limit_file.exists():
            return group
        group.remove()
        errors.append(f"{folder}: no memory controller")
    raise CairnError("Cannot create a memory-capped cgroup here: " + ("; ".join(errors) or "no memory cgroup found") + ".",
                     hint="Run as root (or with a delegated cgroup v2 subtree), or pass --cap 0 for uncapped runs only.")


def drop_cache(path: Path) -> None:
    """Evict ``path``'s pages from the page cache (flushed first: only clean pages can go)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
