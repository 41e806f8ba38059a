"""Smoke test of an installed Cairn bundle, as a new user's first minutes with it.

    python3 packaging/smoke.py PATH/TO/cairn [--report FILE] [--offline]

Runs the installed `cairn` executable (nothing of the source tree) in a throwaway CAIRN_HOME and
HOME: version (cold start, timed), daemon start (ready time, model not yet loaded), remember and
recall, one chat turn with the bundled model, MCP `initialize` + `tools/list` over stdio, a GUI
screenshot offscreen, and a clean stop. ``--offline`` first checks that the process has no network
but loopback (run it under ``unshare -n``). Standard library only; exit status 0 when every step
passed. Writes the measurements as JSON with ``--report``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MEMORY, QUESTION = "My sister Ana lives in Lisbon", "where does my sister live?"
CHAT = "Write one short sentence about the sea."
MCP_TOOLS = {"remember", "recall", "forget", "why"}


class Smoke:
    def __init__(self, exe: Path, scratch: Path) -> None:
        self.exe, self.scratch, self.report = exe, scratch, {"executable": str(exe), "steps": {}}
        home = scratch / "user"
        self.env = {**os.environ, "CAIRN_HOME": str(scratch / "cairn"), "HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
                    "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
                    "XDG_CACHE_HOME": str(home / ".cache"), "XDG_RUNTIME_DIR": str(scratch / "xdg-run")}

    def cairn(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.exe), *args], input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=timeout, stdin=None if stdin is not None else subprocess.DEVNULL)
        if proc.returncode:
            raise AssertionError(f"cairn {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.cairn(*args, "--json").stdout)

    def step(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        start = time.perf_counter()
        facts = fn()
        self.report["steps"][name] = {"seconds": round(time.perf_counter() - start, 3), **facts}
        print(f"ok  {name:<10} {time.perf_counter() - start:6.2f} s  {json.dumps(facts)[:160]}", flush=True)


def offline() -> dict[str, Any]:
    """No network interface but loopback (the smoke test runs under `unshare -n`)."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]  # this network namespace's interfaces
    interfaces = sorted(line.split(":", 1)[0].strip() for line in lines)
    assert interfaces in ([], ["lo"]), f"network interfaces present: {interfaces}"
    return {"interfaces": interfaces}


def version(s: Smoke, runs: int = 10) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = s.cairn("--version").stdout.strip()
        times.append(time.perf_counter() - start)
    assert out.startswith("cairn, version "), out
    return {"output": out, "first_s": round(times[0], 3), "median_s": round(statistics.median(times), 3)}


def daemon_start(s: Smoke) -> dict[str, Any]:
    start = time.perf_counter()
    s.cairn("daemon", "start")
    ready = time.perf_counter() - start
    status = s.json("daemon", "status")
    assert status["running"] and not status["model_loaded"], status  # the model loads on first use
    return {"ready_s": round(ready, 3), "pid": status["pid"], "version": status["version"]}


def remember_recall(s: Smoke) -> dict[str, Any]:
    memory = s.json("remember", MEMORY, "--kind", "fact")
    hits = s.json("recall", QUESTION)
    assert hits and hits[0]["memory"]["id"] == memory["id"], hits
    embedder = s.cairn("doctor").stdout
    assert "all-MiniLM-L6-v2" in embedder, embedder  # the bundled embedder, not the hashing fallback
    return {"memory_id": memory["id"], "hits": len(hits)}


def chat(s: Smoke) -> dict[str, Any]:
    answer = s.json("ask", QUESTION)
    assert "Lisbon" in answer["text"] and answer["used"], answer
    general = s.json("ask", CHAT)
    assert general["mode"] == "llm" and general["text"].strip(), general  # the bundled model spoke
    assert s.json("daemon", "status")["model_loaded"]
    return {"memory_answer": answer["text"][:80], "model_answer": general["text"][:80]}


def _rpc(proc: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any] | None:
    """Send one JSON-RPC message on the bridge's stdin; the reply when it is a request."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    if "id" not in message:
        return None
    while True:  # skip notifications (log messages) until the reply
        line = proc.stdout.readline()
        assert line, "the MCP bridge closed its output"
        reply: dict[str, Any] = json.loads(line)
        if reply.get("id") == message["id"]:
            return reply


def mcp(s: Smoke) -> dict[str, Any]:
    proc = subprocess.Popen([str(s.exe), "mcp", "--client", "smoke"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=s.env)
    try:
        init = _rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "1"}}})
        assert init and "result" in init, init
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = _rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert listed and "result" in listed, listed
        names = {t["name"] for t in listed["result"]["tools"]}
        assert MCP_TOOLS <= names, names
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)
    return {"server": init["result"]["serverInfo"]["name"], "tools": sorted(names)}


def gui(s: Smoke) -> dict[str, Any]:
    shot = s.scratch / "chat.png"
    s.cairn("app", "--screenshot", str(shot), "--view", "chat")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 2000, len(data)
    return {"screenshot_bytes": len(data)}


def stop(s: Smoke) -> dict[str, Any]:
    pid = s.json("daemon", "status")["pid"]
    s.cairn("daemon", "stop")
    assert not s.json("daemon", "status")["running"]
    proc = Path(f"/proc/{pid}")  # Linux: the process is gone (or a zombie its parent has not reaped)
    assert not proc.exists() or "zombie" in (proc / "status").read_text().lower(), f"PID {pid} still runs"
    return {"stopped_pid": pid}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe", type=Path, help="the installed cairn executable")
    parser.add_argument("--report", type=Path, help="write the measurements here (JSON)")
    parser.add_argument("--offline", action="store_true", help="fail unless only loopback networking exists")
    parser.add_argument("--no-gui", action="store_true", help="skip the screenshot (no Qt platform plugin usable)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="cs-", dir="/tmp" if os.name == "posix" else None))  # short socket paths
    s = Smoke(args.exe.resolve(), scratch)
    try:
        if args.offline:
            s.step("offline", offline)
        s.step("version", lambda: version(s))
        s.step("daemon", lambda: daemon_start(s))
        s.step("memory", lambda: remember_recall(s))
        s.step("chat", lambda: chat(s))
        s.step("mcp", lambda: mcp(s))
        if not args.no_gui:
            s.step("gui", lambda: gui(s))
        s.step("stop", lambda: stop(s))
    except (AssertionError, subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
        print(f"FAIL {type(exc).__name__}: {exc}", file=sys.stderr)
        subprocess.run([str(s.exe), "daemon", "stop"], env=s.env, capture_output=True, timeout=60)
        return 1
    finally:
        if args.report:
            args.report.write_text(json.dumps(s.report, indent=2) + "\n")
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"smoke test passed: {len(s.report['steps'])} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
