"""`cairn bench daemon`: the daemon's reliability and speed, each part on a real daemon in a fresh
home.

1. **kill -9**: concurrent clients write memories; the daemon is killed with SIGKILL mid-stream;
   every write it acknowledged (a 2xx reply) must be in the database, which must pass
   ``PRAGMA integrity_check``, and the daemon must start again on it.
2. **concurrency**: many clients at once, mixed requests (see :mod:`.bench_load`): no errors.
3. **fuzz**: random and malformed requests on every route of the OpenAPI document: no 5xx.
4. **search**: p95 search latency through the socket vs in-process on the same data (<= 2x).
5. **decode**: chat tokens/s through the API (streamed) vs the in-process chat (>= 0.95x).
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from typing import Any

import numpy as np

from cairn.app.client import Client
from cairn.app.daemon.bench_home import Progress, fresh_home, latency_ms, no_progress, running
from cairn.core import Assistant, Paths, ServiceError, assistant, clock, config
from cairn.core.bench import scale
from cairn.core.memory import MemoryBank, make_embedder

SEARCH_RATIO_MAX = 2.0
DECODE_RATIO_MIN = 0.95
DECODE_PROMPT = "Write a short story about a cat who learns to sail."
FULL: dict[str, dict[str, Any]] = {
    "kill": {"n_runs": 5, "writers": 4, "writes": 250},
    "concurrency": {"clients": 32, "requests": 200},
    "fuzz": {"requests": 10_000},
    "search": {"n_memories": 2000, "queries": 200},
    "decode": {"runs": 5},
}
QUICK: dict[str, dict[str, Any]] = {
    "kill": {"n_runs": 2, "writers": 4, "writes": 100},
    "concurrency": {"clients": 8, "requests": 25},
    "fuzz": {"requests": 2000},
    "search": {"n_memories": 500, "queries": 50},
    "decode": {"runs": 3},
}


def open_bank(where: Paths) -> MemoryBank:
    """The home's bank, opened in this process with the home's own settings and embedder."""
    settings = config.load(where.config_file)
    return MemoryBank.open(where.database, settings, embedder=make_embedder(settings, where.models_dir),
                           models_dir=where.models_dir)


# ---- 1. kill -9 ----------------------------------------------------------------------------------

def kill_runs(n_runs: int = 5, writers: int = 4, writes: int = 250, seed: int = 0,
              progress: Progress = no_progress) -> dict[str, Any]:
    """``n_runs`` times: ``writers`` clients each send up to ``writes`` memories; the daemon is
    killed (SIGKILL) after a random number of acknowledged writes (10% to 50% of them all)."""
    rng = random.Random(seed)
    total = writers * writes
    runs = []
    for n in range(n_runs):
        runs.append(_kill_once(writers, writes, rng.randint(max(1, total // 10), max(1, total // 2))))
        progress("kill -9 runs", n + 1, n_runs)
    return {"runs": runs, "writers": writers, "writes_each": writes,
            "lost_acknowledged": sum(r["lost"] for r in runs),
            "integrity_ok": all(r["integrity"] == "ok" for r in runs),
            "restart_ok": all(r["restart_ok"] for r in runs)}


def _kill_once(writers: int, writes: int, kill_after: int) -> dict[str, Any]:
    with fresh_home() as where:
        acked: list[str] = []
        with running(where) as daemon:
            threads = [threading.Thread(target=_writer, args=(where, n, writes, acked)) for n in range(writers)]
            for t in threads:
                t.start()
            while len(acked) < kill_after and any(t.is_alive() for t in threads):
                time.sleep(0.005)
            daemon.kill()
            killed_at = len(acked)
            for t in threads:
                t.join()
        stored, integrity = _stored(where)
        restart_ok = _restarts(where, len(stored))
    return {"kill_after": kill_after, "acknowledged_at_kill": killed_at, "acknowledged": len(acked),
            "stored": len(stored), "lost": len(set(acked) - stored),
            "stored_not_acknowledged": len(stored - set(acked)), "integrity": integrity,
            "restart_ok": restart_ok}


def _writer(where: Paths, n: int, writes: int, acked: list[str]) -> None:
    """Writes until done or until the daemon is gone; ``acked`` gets each acknowledged uid."""
    with Client.for_paths(where) as client:
        for i in range(writes):
            try:
                reply = client.request("POST", "/v1/memories", {"text": f"writer {n} note {i}: the plum tree {i * 7}"})
            except ServiceError:
                return
            acked.append(reply["uid"])  # list.append is atomic: safe across threads


def _stored(where: Paths) -> tuple[set[str], str]:
    """Every memory uid in the database, and ``PRAGMA integrity_check``'s verdict."""
    with open_bank(where) as bank, bank.db.guard():
        verdict = "; ".join(str(r[0]) for r in bank.db.conn.execute("PRAGMA integrity_check"))
        uids = {str(r[0]) for r in bank.db.conn.execute("SELECT uid FROM memories")}
    return uids, verdict


def _restarts(where: Paths, stored: int) -> bool:
    """Whether a daemon starts again on the killed one's files (stale socket and PID file) and
    counts what is stored."""
    with running(where), Client.for_paths(where) as client:
        memories = client.request("GET", "/v1/status")["memories"]
    return isinstance(memories, dict) and sum(int(v) for v in memories.values()) == stored


# ---- 4. search latency ---------------------------------------------------------------------------

def search_latency(n_memories: int = 2000, queries: int = 200, embedder: str = "auto", k: int = 10, seed: int = 0,
                   progress: Progress = no_progress) -> dict[str, Any]:
    """p95 of a search through the socket vs ``bank.recall`` in this process, on the same bank
    (``touch=False`` both ways: searching changes nothing). The daemon is stopped before the
    in-process part: two processes never write at once."""
    rng = np.random.default_rng(seed)
    asked = [f"What did {_pick(scale.NAMES, rng)} do at {_pick(scale.PLACES, rng)}?" for _ in range(queries)]
    with fresh_home(embedder) as where:
        with open_bank(where) as bank:
            for i in range(n_memories):
                bank.remember(scale.sentence(rng))
                if (i + 1) % 100 == 0 or i + 1 == n_memories:
                    progress("search: memories", i + 1, n_memories)
            used = bank.embedder.id
        with running(where), Client.for_paths(where) as client:
            def remote(q: str) -> list[int]:
                body = {"query": q, "k": k, "touch": False}
                return [int(h["memory"]["id"]) for h in client.request("POST", "/v1/memories/search", body)["data"]]
            socket_s, socket_ids = _timed(remote, asked)
        with open_bank(where) as bank:
            local_s, local_ids = _timed(lambda q: [int(h.memory.id) for h in bank.recall(q, k, touch=False)], asked)
    socket_ms, local_ms = latency_ms(socket_s), latency_ms(local_s)
    return {"memories": n_memories, "queries": queries, "k": k, "embedder": used, "socket": socket_ms,
            "in_process": local_ms, "p95_ratio": round(socket_ms["p95_ms"] / max(local_ms["p95_ms"], 1e-6), 3),
            "same_results": round(sum(a == b for a, b in zip(socket_ids, local_ids, strict=True)) / max(1, queries), 4)}


def _pick(items: list[str], rng: np.random.Generator) -> str:
    return items[int(rng.integers(len(items)))]


def _timed(search: Any, asked: list[str], warmup: int = 10) -> tuple[list[float], list[list[int]]]:
    """Each query's wall time and result ids, after ``warmup`` untimed queries."""
    for q in asked[:warmup]:
        search(q)
    times, results = [], []
    for q in asked:
        start = time.perf_counter()
        results.append(search(q))
        times.append(time.perf_counter() - start)
    return times, results


# ---- 5. decode speed -----------------------------------------------------------------------------

def decode_speed(runs: int = 5, warmups: int = 2, prompt: str = DECODE_PROMPT,
                 progress: Progress = no_progress) -> dict[str, Any]:
    """Decode tokens/s of a streamed chat completion (memory off) vs the same turn on an
    in-process chat. Both sides are timed the same way: from the first streamed piece to the
    last, over the pieces between (one per token). Runs alternate (API, in-process, ...) with
    the same prompt, sampling and token limit, after ``warmups`` untimed rounds; each side has
    its own home, so the two processes share no database."""
    with fresh_home() as api_home, fresh_home() as local_home:
        local = assistant.open(config.load(local_home.config_file), local_home)
        try:
            max_tokens = local.choice.max_tokens
            api: list[dict[str, float]] = []
            inproc: list[dict[str, float]] = []
            with running(api_home), Client.for_paths(api_home) as client:
                for i in range(warmups + runs):
                    a, b = _api_decode(client, prompt, max_tokens), _local_decode(local, prompt, max_tokens)
                    if i >= warmups:
                        api.append(a)
                        inproc.append(b)
                    progress("decode rounds", i + 1, warmups + runs)
        finally:
            local.close()
    api_rate, local_rate = _median(api, "tok_s"), _median(inproc, "tok_s")
    return {"prompt": prompt, "max_tokens": max_tokens, "runs": runs, "api": _summary(api),
            "in_process": {**_summary(inproc), "reply_tok_s": _median(inproc, "reply_tok_s")},
            "ratio": round(api_rate / max(local_rate, 1e-9), 3),
            "ratio_vs_reply_timing": round(api_rate / max(_median(inproc, "reply_tok_s"), 1e-9), 3)}


def _median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 2) if rows else 0.0


def _summary(rows: list[dict[str, float]]) -> dict[str, Any]:
    return {"tok_s": _median(rows, "tok_s"), "tok_s_runs": [round(r["tok_s"], 1) for r in rows],
            "pieces": [int(r["pieces"]) for r in rows], "first_piece_s": _median(rows, "first_s")}


def _rate(stamps: list[float], started: float) -> dict[str, float]:
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return {"pieces": len(stamps), "tok_s": (len(stamps) - 1) / span if span > 0 else 0.0,
            "first_s": (stamps[0] - started) if stamps else 0.0}


def _api_decode(client: Client, prompt: str, max_tokens: int) -> dict[str, float]:
    body = {"model": "cairn", "stream": True, "max_tokens": max_tokens, "cairn": {"memory": False},
            "messages": [{"role": "user", "content": prompt}]}
    stamps: list[float] = []
    started = time.perf_counter()
    for event in client.stream("/v1/chat/completions", body):
        if "error" in event:
            raise ServiceError(f"The daemon's stream failed: {event['error'].get('message')}", code="bench")
        choices = event.get("choices") or [{}]
        if choices[0].get("delta", {}).get("content"):
            stamps.append(time.perf_counter())
    return _rate(stamps, started)


def _local_decode(local: Assistant, prompt: str, max_tokens: int) -> dict[str, float]:
    chat = local.chat
    if chat is None:
        raise ServiceError(f"No chat model to measure: {local.no_model_reason}.", code="bench")
    chat.reset()  # as the daemon does for a request with one user message: a new conversation
    stamps: list[float] = []
    started = time.perf_counter()
    reply = chat.turn(prompt, sampling=local.choice.sampling, max_tokens=max_tokens,
                      on_text=lambda _piece: stamps.append(time.perf_counter()))
    return {**_rate(stamps, started), "reply_tok_s": reply.tokens / reply.decode_s if reply.decode_s > 0 else 0.0}


# ---- all of it -----------------------------------------------------------------------------------

def run(quick: bool = False, progress: Progress = no_progress) -> dict[str, Any]:
    """Every part (``quick``: smaller sizes), with each target and whether it was met."""
    from cairn.app.daemon import bench_fuzz, bench_load

    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    report: dict[str, Any] = {"date": clock.iso(time.time()), "quick": quick, "cpus": os.cpu_count(),
                              "load_before": [round(x, 2) for x in os.getloadavg()]}
    report["kill_9"] = kill_runs(**sizes["kill"], progress=progress)
    report["concurrency"] = bench_load.concurrency(**sizes["concurrency"], progress=progress)
    report["fuzz"] = bench_fuzz.fuzz(**sizes["fuzz"], progress=progress)
    report["search"] = search_latency(**sizes["search"], progress=progress)
    report["decode"] = decode_speed(**sizes["decode"], progress=progress)
    report["targets"] = targets(report)
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews the timings
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Each target, its measured value and whether it was met; ``all_met`` sums them up."""
    kill, search, decode = report["kill_9"], report["search"], report["decode"]
    checks = {
        "kill_9_lost_acknowledged": (kill["lost_acknowledged"], "== 0", kill["lost_acknowledged"] == 0),
        "kill_9_integrity": ("ok" if kill["integrity_ok"] else "damaged", "== ok", kill["integrity_ok"]),
        "kill_9_restart": (kill["restart_ok"], "== true", kill["restart_ok"]),
        "concurrency_errors": (report["concurrency"]["errors"], "== 0", report["concurrency"]["errors"] == 0),
        "fuzz_5xx": (report["fuzz"]["server_errors"], "== 0", report["fuzz"]["server_errors"] == 0),
        "fuzz_no_reply": (report["fuzz"]["no_reply"], "== 0", report["fuzz"]["no_reply"] == 0),
        "search_p95_ratio": (search["p95_ratio"], f"<= {SEARCH_RATIO_MAX}", search["p95_ratio"] <= SEARCH_RATIO_MAX),
        "decode_ratio": (decode["ratio"], f">= {DECODE_RATIO_MIN}", decode["ratio"] >= DECODE_RATIO_MIN),
    }
    out: dict[str, Any] = {name: {"value": v, "target": t, "met": bool(m)} for name, (v, t, m) in checks.items()}
    out["all_met"] = all(c["met"] for c in out.values())
    return out
