"""`cairn bench daemon`, each part at its smallest useful size, on real daemons."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.app.daemon import bench, bench_fuzz, bench_load


def _our_daemons() -> list[int]:
    """PIDs of daemon processes that are this process's children (zombies included)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"cairn.app.daemon" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def leaves_nothing_behind() -> Iterator[None]:
    """Every part stops (or kills and reaps) its daemon and gives CAIRN_HOME back as it was."""
    home = os.environ.get("CAIRN_HOME")
    yield
    assert os.environ.get("CAIRN_HOME") == home
    if Path("/proc/self/stat").exists():
        assert _our_daemons() == []


def test_acknowledged_writes_survive_kill_9() -> None:
    report = bench.kill_runs(n_runs=1, writers=2, writes=40)
    (run,) = report["runs"]
    assert report["lost_acknowledged"] == 0 and report["integrity_ok"] and report["restart_ok"]
    assert run["integrity"] == "ok" and run["lost"] == 0 and run["stored"] >= run["acknowledged"] >= run["kill_after"]


def test_concurrent_clients_meet_no_error() -> None:
    report = bench_load.concurrency(clients=4, requests=5, chat_every=0)
    assert report["errors"] == 0 and report["error_examples"] == []
    assert report["requests"] == 20 == sum(r["n"] for r in report["routes"].values())
    assert "POST /v1/memories/search" in report["routes"]
    assert all(0 < r["p50_ms"] <= r["p95_ms"] for r in report["routes"].values())


def test_fuzzed_requests_get_no_5xx() -> None:
    report = bench_fuzz.fuzz(requests=200, threads=2, model_calls=1)
    assert report["requests"] == 200 and report["routes"] >= 30
    assert report["server_errors"] == 0, report["examples"]["server_errors"]
    assert report["no_reply"] == 0 and report["fuzzer_errors"] == 0 and report["alive_after"]
    assert report["statuses"].get("4xx", 0) > 0 and report["statuses"].get("2xx", 0) > 0


def test_the_fuzzer_builds_a_request_for_every_route_without_failing() -> None:
    from cairn.app.daemon.engine import Engine
    from cairn.app.daemon.server import build_app
    from cairn.core import Settings, paths

    doc = build_app(Engine(Settings(), paths.resolve())).app.openapi()
    routes, schemas = bench_fuzz.routes_of(doc), bench_fuzz.Schemas(doc, ["chat-1"])
    assert ("POST", "/v1/memories/search") in {(r.method, r.path) for r in routes}
    built = [bench_fuzz.build(routes[i % len(routes)], schemas, random.Random(i)) for i in range(3000)]
    assert all(r.target.startswith("/") for r in built)
    assert sum(r.content is not None and b"\xff" in r.content for r in built) > 0  # invalid UTF-8 is sent
    again = bench_fuzz.build(routes[7 % len(routes)], schemas, random.Random(7))
    assert again == built[7]  # a seed replays its request


def test_search_through_the_socket_finds_what_the_bank_finds() -> None:
    report = bench.search_latency(n_memories=100, queries=20, embedder="hashing")
    assert report["memories"] == 100 and report["queries"] == 20 and report["same_results"] == 1.0
    assert report["socket"]["n"] == report["in_process"]["n"] == 20
    assert report["p95_ratio"] > 0


def test_decode_speed_through_the_api_and_in_process() -> None:
    report = bench.decode_speed(runs=1, warmups=1)
    assert report["api"]["tok_s"] > 0 and report["in_process"]["tok_s"] > 0 and report["ratio"] > 0
    assert report["api"]["pieces"][0] > 1 and report["in_process"]["pieces"][0] > 1


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "kill_9": {"lost_acknowledged": 0, "integrity_ok": True, "restart_ok": True},
        "concurrency": {"errors": 0}, "fuzz": {"server_errors": 0, "no_reply": 0},
        "search": {"p95_ratio": 1.4}, "decode": {"ratio": 0.97}}
    for part, values in changes.items():
        report[part] = {**report[part], **values}
    return report


@pytest.mark.parametrize(("change", "failed"), [
    ({}, None),
    ({"kill_9": {"lost_acknowledged": 1}}, "kill_9_lost_acknowledged"),
    ({"fuzz": {"server_errors": 2}}, "fuzz_5xx"),
    ({"search": {"p95_ratio": 2.5}}, "search_p95_ratio"),
    ({"decode": {"ratio": 0.9}}, "decode_ratio"),
])
def test_targets_say_which_was_missed(change: dict[str, Any], failed: str | None) -> None:
    targets = bench.targets(_report(**change))
    assert targets["all_met"] is (failed is None)
    assert [name for name, t in targets.items() if name != "all_met" and not t["met"]] == ([failed] if failed else [])


def test_the_command_is_registered(cairn: Callable[..., Any]) -> None:
    result = cairn("bench", "daemon", "--help")
    assert result.code == 0 and "--quick" in result.out and "--json" in result.out
