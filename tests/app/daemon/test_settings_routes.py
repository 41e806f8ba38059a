"""The daemon's settings routes against a real daemon: what it lists, a change written to the
settings file (and the restart it waits for), bad changes refused with each one named and the file
left alone, and client programs refused."""

from __future__ import annotations

import pytest

from cairn.app.client import Client
from cairn.core import Paths, ServiceError, config

SECTIONS = {"llm": {"n_ctx", "kv_type", "eviction"}, "retention": {"max_memories", "archive_below"},
            "gate": {"threshold"}, "daemon": {"keep_alive_s"}, "mcp": {"default_scope"}}


def test_get_lists_the_sections_with_values(daemon: Client, daemon_paths: Paths) -> None:
    reply = daemon.request("GET", "/v1/settings")
    settings = reply["settings"]
    assert {s: set(keys) for s, keys in settings.items()} == SECTIONS
    assert reply["file"] == str(daemon_paths.config_file)
    budget = settings["retention"]["max_memories"]
    assert budget["value"] == budget["saved"] == budget["default"] == 0 and budget["type"] == "int"
    assert budget["min"] == 0 and budget["max"] >= 1_000_000 and "budget" in budget["doc"] and budget["restart"]
    assert settings["llm"]["kv_type"]["choices"] == ["f16", "q8_0", "q4_0"] and "min" not in settings["llm"]["kv_type"]
    assert settings["mcp"]["default_scope"]["value"] == "read-write"
    assert settings["daemon"]["keep_alive_s"]["value"] == pytest.approx(300.0)
    assert all(isinstance(e["doc"], str) and e["doc"] for table in settings.values() for e in table.values())


def test_put_writes_the_file_and_reports_the_restart(daemon: Client, daemon_paths: Paths) -> None:
    reply = daemon.request("PUT", "/v1/settings", {"changes": {
        "retention.max_memories": 5000, "gate.threshold": 0.4, "llm.kv_type": "q8_0", "daemon.keep_alive_s": 60,
        "mcp.default_scope": "read"}})
    saved = config.load(daemon_paths.config_file)
    assert saved.retention.max_memories == 5000 and saved.gate.threshold == 0.4 and saved.llm.kv_type == "q8_0"
    assert saved.daemon.keep_alive_s == 60.0 and isinstance(saved.daemon.keep_alive_s, float)
    assert saved.mcp.default_scope == "read" and saved.memory.embedder == "hashing"  # the file's other settings kept
    assert sorted(reply["restart_needed"]) == ["daemon.keep_alive_s", "gate.threshold", "llm.kv_type",
                                               "mcp.default_scope", "retention.max_memories"]
    budget = reply["settings"]["retention"]["max_memories"]
    assert budget["saved"] == 5000 and budget["value"] == 0  # the running daemon keeps its value until a restart
    assert daemon.request("GET", "/v1/settings")["settings"]["retention"]["max_memories"]["saved"] == 5000
    again = daemon.request("PUT", "/v1/settings", {"changes": {"retention.archive_below": 0.05}})
    assert again["restart_needed"] == []  # the value the daemon runs with already


@pytest.mark.parametrize(("changes", "named"), [
    ({"retention.max_memories": -5, "llm.kv_type": "q2"}, ["retention.max_memories", "llm.kv_type"]),
    ({"gate.threshold": "high"}, ["gate.threshold"]),
    ({"retention.colour": 1, "nope": 2, "llm.model": "x"}, ["retention.colour", "nope", "llm.model"]),
    ({"retention.colour": 1, "gate.threshold": 5}, ["retention.colour", "gate.threshold"]),
    ({"retention.max_memories": 10, "llm.n_ctx": 10**9}, ["llm.n_ctx"]),
])
def test_bad_changes_are_refused_and_the_file_is_unchanged(daemon: Client, daemon_paths: Paths,
                                                           changes: dict[str, object], named: list[str]) -> None:
    before = daemon_paths.config_file.read_bytes()
    with pytest.raises(ServiceError) as refused:
        daemon.request("PUT", "/v1/settings", {"changes": changes})
    assert refused.value.status == 400 and refused.value.code == "invalid_request"
    assert all(name in refused.value.message for name in named), refused.value.message
    assert daemon_paths.config_file.read_bytes() == before


def test_a_malformed_body_is_refused(daemon: Client) -> None:
    for body in ({"changes": {}}, {"changes": {"gate.threshold": [1]}}, {"change": {"gate.threshold": 0.1}}):
        with pytest.raises(ServiceError) as refused:
            daemon.request("PUT", "/v1/settings", body)
        assert refused.value.status == 400, body


def test_client_programs_may_not_see_or_change_settings(daemon: Client, daemon_paths: Paths) -> None:
    before = daemon_paths.config_file.read_bytes()
    with Client.for_paths(daemon_paths, client_name="editor-x") as program:
        for method, body in (("GET", None), ("PUT", {"changes": {"mcp.default_scope": "read-write"}})):
            with pytest.raises(ServiceError) as refused:
                program.request(method, "/v1/settings", body)
            assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert daemon_paths.config_file.read_bytes() == before
