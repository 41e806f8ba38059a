"""Model downloads against a local HTTP server: resume, checksums, errors. No internet."""

import hashlib
import os
from pathlib import Path

import pytest

from cairn.core.download import fetch
from cairn.core.errors import DownloadError
from tests.conftest_http import Served, serve

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


def test_download_with_pinned_checksum_and_progress(tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    with serve(Served({"/m.bin": BODY})) as base:
        out = fetch(f"{base}/m.bin", tmp_path / "m.bin", SHA, lambda d, t: seen.append((d, t)))
    assert out.read_bytes() == BODY and not (tmp_path / "m.bin.part").exists()
    assert seen[-1] == (len(BODY), len(BODY))


def test_dropped_download_resumes_where_it_stopped(tmp_path: Path) -> None:
    state = Served({"/m.bin": BODY}, cut_first_at=100_000)
    with serve(state) as base:
        with pytest.raises(DownloadError, match="stopped at 100,000 of 300,000 bytes"):
            fetch(f"{base}/m.bin", tmp_path / "m.bin", SHA)
        assert (tmp_path / "m.bin.part").stat().st_size == 100_000
        assert not (tmp_path / "m.bin").exists()
        fetch(f"{base}/m.bin", tmp_path / "m.bin", SHA)
    assert (tmp_path / "m.bin").read_bytes() == BODY
    assert state.requests[-1] == "/m.bin bytes=100000-"


def test_hub_etag_checksum_is_used_when_none_is_pinned(tmp_path: Path) -> None:
    with serve(Served({"/m.bin": BODY})) as base:
        fetch(f"{base}/m.bin", tmp_path / "m.bin")
    assert (tmp_path / "m.bin").read_bytes() == BODY


def test_checksum_mismatch_installs_nothing(tmp_path: Path) -> None:
    with serve(Served({"/m.bin": BODY})) as base:
        with pytest.raises(DownloadError, match="failed its checksum"):
            fetch(f"{base}/m.bin", tmp_path / "m.bin", "0" * 64)
    assert not (tmp_path / "m.bin").exists() and not (tmp_path / "m.bin.part").exists()


def test_missing_file_and_dead_server(tmp_path: Path) -> None:
    with serve(Served({})) as base:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(f"{base}/nope.bin", tmp_path / "x")
    with pytest.raises(DownloadError, match="Could not download"):
        fetch(f"{base}/m.bin", tmp_path / "x", timeout=2)  # the server is gone now
