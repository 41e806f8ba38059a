"""`cairn bench writers`: several processes writing through the command line at once.

Each of ``processes`` workers runs ``writes`` separate ``cairn remember`` commands (a new process
per write, as scripts and shell users do), all on one fresh home. Reported: failed writes, the
error lines seen, memories found afterwards, and per-write latency. A "database is locked" failure
here is what a user meets when a cron job and a terminal write at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.bench.metrics import latency

Progress = Callable[[str, int, int], None]
WORKER = r"""
import json, subprocess, sys, time
command, worker, writes = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(writes):
    text = f"writer {worker} entry {i}: " + " ".join(f"w{worker}x{i}y{k}" for k in range(6))
    start = time.perf_counter()
    r = subprocess.run(command + ["remember", text], capture_output=True, text=True)
    print(json.dumps({"code": r.returncode, "s": time.perf_counter() - start, "err": r.stderr.strip()[-300:]}),
          flush=True)
"""


def run(command: list[str], processes: int = 8, writes: int = 100, embedder: str = "hashing",
        progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark on a throwaway home; ``command`` starts the CLI (e.g. [python, -m, cairn.app.cli])."""
    with tempfile.TemporaryDirectory(prefix="cairn-writers-") as tmp:
        home = Path(tmp)
        (home / "config.toml").write_text(f'[memory]\nembedder = "{embedder}"\n')
        env = {**os.environ, "CAIRN_HOME": str(home)}
        subprocess.run(command + ["remember", "the bank exists"], env=env, capture_output=True, check=True)
        started = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(command), str(w), str(writes)],
                                    env=env, stdout=subprocess.PIPE, text=True) for w in range(processes)]
        rows = []
        for n, proc in enumerate(workers, start=1):
            rows += [json.loads(line) for line in proc.communicate()[0].splitlines() if line.strip()]
            if progress:
                progress("writers finished", n, processes)
        wall = time.perf_counter() - started
        listed = subprocess.run(command + ["memories", "list", "--limit", str(10 * processes * writes + 10),
                                           "--json"], env=env, capture_output=True, text=True, check=True)
        stored = len(json.loads(listed.stdout)) - 1
    failed = [r for r in rows if r["code"] != 0]
    return {"processes": processes, "writes_each": writes, "writes": len(rows), "errors": len(failed),
            "error_lines": sorted({r["err"].splitlines()[0] for r in failed if r["err"]})[:5],
            "stored": stored, "lost": len(rows) - len(failed) - stored, "wall_s": round(wall, 1),
            "write_s": {k: round(v / 1000, 3) for k, v in latency([r["s"] for r in rows]).items()},
            "embedder": embedder}
