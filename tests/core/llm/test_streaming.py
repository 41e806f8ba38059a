"""Streaming a model by its plan, on real llama.cpp: the same tokens as a plain load, the resident
set locked, the streamed layers dropped behind compute, with the C helper and the Python fallback."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.llm import loading, streaming
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.ram import Ram
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Sampling
from cairn.models import tiny_gguf

MiB = 1 << 20
SHAPE = tiny_gguf.Shape("stream", 512, 256, 4, 4, 2, 1024, 4096)  # 4 MB layers: many pages each
OPTIONS = LoadOptions(n_ctx=512, n_batch=64, n_threads=2)


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tiny_gguf.write(tmp_path_factory.mktemp("gguf") / "layered.gguf", SHAPE)
    with path.open("rb") as f:  # written pages are dirty until flushed, and the kernel pages out clean ones only
        os.fsync(f.fileno())
    return path


def stream_plan(path: Path) -> loading.LoadPlan:
    """A RAM figure that leaves room for about one and a half layers besides the window."""
    m = loading.Model.from_header(loading.read_header(path))
    c = loading.costs(m, OPTIONS.n_ctx, "q8_0", loading.STREAM_BATCH)
    room = c.total + loading.WINDOW * m.layer_bytes(0) + int(1.5 * m.layer_bytes(0))
    p = loading.plan(m, Ram(int(room / loading.USABLE), "test"), OPTIONS, lock_limit=None)
    assert p.streaming
    return p


def greedy(rt: Runtime) -> str:
    return rt.complete(rt.tokenize("My sister lives in Lisbon", special=False), Sampling(temperature=0.0), 12)


@pytest.fixture(params=["native", "python"])
def helper(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = streaming._stream
    if request.param == "native" and saved is None:
        pytest.skip("the C helper (native/stream.c) was not built here")
    if request.param == "python":
        streaming._stream = None  # the module's own switch between its two implementations
    try:
        yield request.param
    finally:
        streaming._stream = saved


def test_streaming_generates_what_a_plain_load_does(layered: Path, helper: str) -> None:
    p = stream_plan(layered)
    with Runtime(layered, p.options(OPTIONS)) as rt:
        expected = greedy(rt)
    with Runtime(layered, OPTIONS, p) as rt:
        assert rt.streamer is not None and rt.streamer.native == (helper == "native")
        assert greedy(rt) == expected
        assert rt.streamer.locked and not rt.streamer.lock_error
        time.sleep(0.2)  # the prefetch thread handles the last layers' events
        assert rt.streamer.residency()["resident"] == 1.0
        streamer = rt.streamer
    assert streamer.events > 0 and not streamer.locked  # unlocked when the model was freed


def test_streamed_layers_are_dropped_behind_compute(layered: Path, helper: str) -> None:
    p = stream_plan(layered)
    streamed = [i for i, u in enumerate(p.units) if u and i < len(p.units) - 1]
    with Runtime(layered, OPTIONS, p) as rt:
        greedy(rt)
        # the last token ended with the last layer: the middle streamed layers left the page cache
        middle = [r for i in streamed[:-1] for r in p.units[i]]
        deadline = time.monotonic() + 5  # the prefetch thread may lag on a loaded machine
        while streaming.residency(layered, middle) >= 0.1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert streaming.residency(layered, middle) < 0.1
        assert streaming.residency(layered, list(p.resident)) == 1.0


def test_addresses_round_streamed_ranges_inward() -> None:
    page = streaming.PAGE
    maps = [(10 * page, 20 * page, 0)]
    assert streaming.to_addresses(((100, page + 100),), maps) == [(10 * page, 2 * page)]
    assert streaming.to_addresses(((100, 3 * page + 100),), maps, inward=True) == [(11 * page, 2 * page)]
    assert streaming.to_addresses(((100, 200),), maps, inward=True) == []


def test_mappings_are_read_from_proc_maps(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"x")
    line = f"7f0000000000-7f0000001000 r--s 00002000 fe:00 1 {f.resolve()}\n"
    assert streaming.mappings(f, line + "7f0000001000-7f0000002000 r-xp 00000000 fe:00 2 /usr/lib/libc.so\n") == [
        (0x7F0000000000, 0x7F0000001000, 0x2000)]


def test_residency_of_a_file_just_read_is_complete(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"\1" * (4 * streaming.PAGE))
    f.read_bytes()
    assert streaming.residency(f) == 1.0
