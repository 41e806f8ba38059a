"""The streaming side of a flash-aware plan, on llama.cpp's own memory map of the model file.

After llama.cpp maps the file, :class:`Streamer` finds that mapping in ``/proc/self/maps``, locks
the plan's resident ranges (``mlock``: the page cache can no longer evict them), and installs an
eval callback that reports each finished layer to a prefetch thread, which drops that layer's
streamed pages (unmapped with ``madvise``, then dropped from the page cache with ``posix_fadvise``)
and reads the next ones ahead (``madvise``). The callback and the thread are C
(``native/stream.c``, the ``_stream`` extension) where it was built: a Python callback costs a
GIL round trip on every graph node. The pure-Python fallback does the same with ctypes.

:func:`residency` measures, with ``mincore``, how much of a file's ranges is in RAM.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.llm.loading import LoadPlan

log = logging.getLogger(__name__)
PAGE = mmap.PAGESIZE
MADV_WILLNEED, MADV_DONTNEED = 3, 4
AHEAD = 1  # layers read ahead of the one computing (the plan's window is this plus one)

try:  # the C helper from native/stream.c; optional
    from cairn.core.llm import _stream  # type: ignore[attr-defined]  # a C extension: no stub
except ImportError:  # pragma: no cover - depends on the build
    _stream = None


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library with the signatures used here, loaded once."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    for name in ("mlock", "munlock", "madvise"):
        getattr(libc, name).argtypes = [ctypes.c_void_p, ctypes.c_size_t] + ([ctypes.c_int] if name == "madvise" else [])
        getattr(libc, name).restype = ctypes.c_int
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    libc.mincore.restype = ctypes.c_int
    libc.mmap.restype, libc.mmap.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                                             ctypes.c_int, ctypes.c_int, ctypes.c_long]
    return libc


def mappings(path: Path, maps: str | None = None) -> list[tuple[int, int, int]]:
    """(start, end, file offset) of every mapping of ``path`` in this process."""
    target = str(path.resolve())
    if maps is None:
        try:
            maps = Path("/proc/self/maps").read_text()
        except OSError:  # not Linux: no map to find, nothing is streamed
            return []
    out = []
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5] == target:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, int(parts[2], 16)))
    return out


def to_addresses(ranges: tuple[tuple[int, int], ...], maps: list[tuple[int, int, int]],
                 inward: bool = False) -> list[tuple[int, int]]:
    """File byte ranges as page-aligned (address, length) pieces inside the mappings: rounded out
    to whole pages, or ``inward`` to the pages they alone cover (a streamed range must not touch a
    page it shares with a locked one: madvise refuses a range that reaches into locked memory)."""
    out = []
    for s, e in ranges:
        for start, end, offset in maps:
            lo, hi = max(s, offset), min(e, offset + end - start)
            if lo < hi:
                a = start + lo - offset
                a0, a1 = a // PAGE * PAGE, -(-(a + hi - lo) // PAGE) * PAGE
                if inward:
                    a0, a1 = -(-a // PAGE) * PAGE, (a + hi - lo) // PAGE * PAGE
                a0, a1 = max(a0, start), min(a1, end)
                if a1 > a0:
                    out.append((a0, a1 - a0))
    return out


def with_offsets(spans: list[tuple[int, int]], maps: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(address, length) spans inside the mappings as (address, length, file offset)."""
    out = []
    for a, n in spans:
        start, _end, offset = next(m for m in maps if m[0] <= a < m[1])
        out.append((a, n, offset + a - start))
    return out


class Streamer:
    """Locks the resident set and streams the rest of a model llama.cpp has mapped; :meth:`close` undoes it."""

    def __init__(self, path: Path, plan: LoadPlan, callback_type: Any, ggml_lib: Path) -> None:
        """``callback_type``: llama.cpp's ``ggml_backend_sched_eval_callback`` ctypes type; ``ggml_lib``:
        the libggml-base library whose ``ggml_get_name`` names graph nodes (both from the runtime,
        the one importer of llama_cpp)."""
        self.path, self.plan = path, plan
        self._callback_type, self._ggml_lib = callback_type, ggml_lib
        self.libc = _libc()
        self.maps = mappings(path)
        self.locked: list[tuple[int, int]] = []
        self.lock_error = ""
        self.native = _stream is not None
        self._resident = to_addresses(plan.resident, self.maps)
        self._units = [with_offsets(to_addresses(u, self.maps, inward=True), self.maps) for u in plan.units]
        self._fd = -1
        self._thread: threading.Thread | None = None
        self._event = threading.Event()
        self._pending = self._last = -1
        self._running = False
        self._callback: Any = None
        self.events = 0

    def attach(self) -> Streamer:
        """Lock the resident ranges, start the prefetch thread; after this, install :meth:`callback`."""
        if not self.maps:
            self.lock_error = f"llama.cpp did not memory-map {self.path.name}"
            return self
        self._fd = os.open(self.path, os.O_RDONLY)  # for posix_fadvise: drops pages from the page cache
        if self.plan.lock:
            self._lock(self._resident)
        else:
            for a, n in self._resident:
                self.libc.madvise(a, n, MADV_WILLNEED)
        self._start()
        return self

    def _lock(self, spans: list[tuple[int, int]]) -> None:
        for a, n in spans:
            if self.libc.mlock(a, n) != 0:
                err = ctypes.get_errno()
                self.lock_error = f"mlock failed ({os.strerror(err)}): the resident set may be evicted"
                log.warning("%s", self.lock_error)
                return
            self.locked.append((a, n))

    def _start(self) -> None:
        if self.native:
            lib = ctypes.CDLL(str(self._ggml_lib))
            address = ctypes.cast(lib.ggml_get_name, ctypes.c_void_p).value or 0
            _stream.start(address, [list(u) for u in self._units], AHEAD, self._fd)
            self._callback = self._callback_type(_stream.callback_address())
        else:
            self._running = True
            self._callback = self._python_callback()
            self._thread = threading.Thread(target=self._work, name="cairn-stream", daemon=True)
            self._thread.start()

    @property
    def callback(self) -> Any:
        """The ``cb_eval`` for llama.cpp's context parameters (None before :meth:`attach`)."""
        return self._callback

    def _python_callback(self) -> Any:
        lib = ctypes.CDLL(str(self._ggml_lib))
        get_name: Callable[[int], bytes] = lib.ggml_get_name
        lib.ggml_get_name.restype, lib.ggml_get_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]

        def on_node(tensor: int, ask: bool, _user: int) -> bool:
            name = get_name(tensor)
            if not name.startswith(b"l_out-"):
                return False
            if not ask:
                self._pending = int(name[6:])
                self._event.set()
            return True

        return self._callback_type(on_node)

    def _work(self) -> None:
        while self._running:
            self._event.wait()
            self._event.clear()
            layer, self._pending = self._pending, -1
            if layer >= 0:
                self._on_layer_done(layer)
                self.events += 1

    def _on_layer_done(self, layer: int) -> None:
        """Drop every layer since the last one handled (events coalesce), then read ahead."""
        n = len(self._units)
        n_layers = n - 1
        if not 0 <= layer < n_layers:
            return
        current = layer if self._last in (-1, layer) else (self._last + 1) % n_layers
        while True:
            self._drop(current)
            if current == 0:
                self._drop(n - 1)  # the output head ran just before layer 0 of this token
            if current == layer:
                break
            current = (current + 1) % n_layers
        self._last = layer
        for k in range(2, 2 + AHEAD):
            for a, length, _ in self._spans((layer + k) % n):
                self.libc.madvise(a, length, MADV_WILLNEED)

    def _spans(self, unit: int) -> list[tuple[int, int, int]]:
        return self._units[unit] if 0 <= unit < len(self._units) else []

    def _drop(self, unit: int) -> None:
        """Unmap a unit's pages from this process, then drop them from the page cache: reclaim
        (``MADV_PAGEOUT``) is best effort and skips pages it cannot isolate at once."""
        for a, length, offset in self._spans(unit):
            self.libc.madvise(a, length, MADV_DONTNEED)
            if hasattr(os, "posix_fadvise"):  # not on macOS: unmapped pages are then reclaimed first
                os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        """Stop the thread and unlock; call before llama.cpp frees the model (its mapping goes with it)."""
        if self.native and self._callback is not None:
            self.events = int(_stream.stop())
        elif self._thread is not None:
            self._running = False
            self._event.set()
            self._thread.join()
            self._thread = None
        for a, n in self.locked:
            self.libc.munlock(a, n)
        self.locked = []
        self._callback = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def residency(self) -> dict[str, float]:
        """Fractions of the resident and streamed ranges now in RAM (mincore)."""
        streamed = [(a, n) for u in self._units for a, n, _ in u]
        return {"resident": _resident_fraction(self.libc, self._resident),
                "streamed": _resident_fraction(self.libc, streamed)}


def _resident_fraction(libc: ctypes.CDLL, spans: list[tuple[int, int]]) -> float:
    total = present = 0
    for a, n in spans:
        pages = n // PAGE
        vec = (ctypes.c_ubyte * max(pages, 1))()
        if pages and libc.mincore(a, n, vec) == 0:
            present += sum(b & 1 for b in vec)
            total += pages
    return present / total if total else 1.0


def residency(path: Path, ranges: list[tuple[int, int]] | None = None) -> float:
    """Fraction of ``path`` (or of its byte ``ranges``) in the page cache now, through a mapping of
    our own (mapping reads nothing; mincore only looks)."""
    libc = _libc()
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"cannot map {path}")
        try:
            spans = to_addresses(tuple(ranges or [(0, size)]), [(address, address + -(-size // PAGE) * PAGE, 0)])
            return _resident_fraction(libc, spans)
        finally:
            libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
    finally:
        os.close(fd)
