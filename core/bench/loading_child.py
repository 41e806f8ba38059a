"""One measured decode for ``cairn bench loading``, in its own process (so a cgroup can cap it):
``python -m cairn.core.bench.loading_child MODEL MODE TOKENS``. Prints one JSON line.

Modes: ``plain`` loads with llama.cpp's memory map as it comes (the plan's context settings, so
only the loading differs); ``cairn`` loads by the flash-aware plan made here, where the cgroup's
limit is visible; ``raw`` is llama-cpp-python's C API alone (``cairn bench llm``'s baseline).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.llm import loading
from cairn.core.llm.native import raw_decode_speed
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime, llama_log

WARMUP = 2


def read_bytes() -> int:
    """Bytes this process made the kernel read from storage so far."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def decode(rt: Runtime, n: int) -> dict[str, float]:
    """Greedy decode of ``n`` tokens after a short prompt; the first WARMUP tokens are not timed."""
    tokens = rt.tokenize("The quick brown fox jumps over the lazy dog.", special=False)
    logits = rt.decode(tokens, 0)
    pos = len(tokens)
    times: list[float] = []
    before = 0
    for i in range(n + WARMUP):
        if i == WARMUP:
            before = read_bytes()
        start = time.perf_counter()
        logits = rt.decode([int(np.argmax(logits))], pos)
        pos += 1
        if i >= WARMUP:
            times.append(time.perf_counter() - start)
    return {"tps": n / sum(times), "read_mb_per_token": (read_bytes() - before) / n / 1e6}


def run(path: Path, mode: str, n: int, n_ctx: int) -> dict[str, Any]:
    llama_log()  # llama.cpp's lines go to logging (warnings and errors reach stderr), not raw to stderr
    base = LoadOptions(n_ctx=n_ctx)
    plan = loading.plan_file(path, base)
    out: dict[str, Any] = {"mode": mode, "plan": plan.to_dict()}
    if mode == "raw":
        tokens = list(range(1, 9))
        out["tps"] = raw_decode_speed(path, plan.options(base), tokens, n)
    else:
        with Runtime(path, plan.options(base), plan if mode == "cairn" else None) as rt:
            out.update(decode(rt, n))
            if rt.streamer is not None:
                out["residency"] = rt.streamer.residency()
                out["lock_error"] = rt.streamer.lock_error
                out["native"] = rt.streamer.native
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str]) -> int:
    path, mode, n = Path(argv[0]), argv[1], int(argv[2])
    n_ctx = int(argv[3]) if len(argv) > 3 else 2048
    sys.stdout.write(json.dumps(run(path, mode, n, n_ctx)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
