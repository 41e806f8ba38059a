"""The core objects the daemon serves, each owned by one thread.

SQLite connections belong to the thread that made them, and one model can run one generation at a
time, so the daemon keeps two workers: the **bank worker** (memory API, embeddings, export and
import) and the **model worker** (the assistant: gate, recall, generation, write-back). Each is a
single thread that builds its object on first use and runs calls in arrival order: generation is
serialised, and every write to the database comes from this one process. Both share one embedder.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from cairn.core import Assistant, Paths, Settings, assistant, paths
from cairn.core.llm import snapshot
from cairn.core.memory import MemoryBank, make_embedder

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Worker(Generic[T]):
    """One thread that owns one object (made on that thread on first use)."""

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._factory = factory
        self._obj: T | None = None

    async def call(self, fn: Callable[[T], R]) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, fn)

    def run(self, fn: Callable[[T], R]) -> R:
        """The same, from a thread that is not the event loop's (waits for the result)."""
        return self._pool.submit(self._run, fn).result()

    def _run(self, fn: Callable[[T], R]) -> R:
        if self._obj is None:
            self._obj = self._factory()
        return fn(self._obj)

    @property
    def started(self) -> bool:
        return self._obj is not None

    @property
    def current(self) -> T | None:
        """The owned object, if made (a read of one reference: safe from any thread; use it only
        for looking, never for calls, which belong on the worker)."""
        return self._obj

    def close(self, closer: Callable[[T], None]) -> None:
        """Run ``closer`` on the owning thread (if the object was ever made), then stop the thread."""
        def finish() -> None:
            if self._obj is not None:
                closer(self._obj)
                self._obj = None
        self._pool.submit(finish).result()
        self._pool.shutdown(wait=True)


class Engine:
    """What the daemon serves: the user's bank and the assistant, with the model's idle unload."""

    def __init__(self, settings: Settings, where: Paths, keep_alive_s: float = 300.0) -> None:
        self.settings, self.paths, self.keep_alive_s = settings, where, keep_alive_s
        paths.secure(where)
        self.embedder = make_embedder(settings, where.models_dir)
        self.bank: Worker[MemoryBank] = Worker("cairn-bank", self._open_bank)
        self.model: Worker[Assistant] = Worker("cairn-model", self._open_assistant)
        self.stopping = threading.Event()  # set at shutdown: a generation in progress stops
        self.started_at = time.time()
        self.last_model_use = 0.0
        self._busy = 0  # model calls queued or running: the model is not idle while any is

    def _open_bank(self) -> MemoryBank:
        return MemoryBank.open(self.paths.database, self.settings, embedder=self.embedder,
                               models_dir=self.paths.models_dir)

    def _open_assistant(self) -> Assistant:
        return assistant.open(self.settings, self.paths, embedder=self.embedder)

    async def ask(self, fn: Callable[[Assistant], R]) -> R:
        """Run ``fn`` on the model worker, noting the use for ``keep_alive``."""
        self.last_model_use = time.monotonic()
        self._busy += 1
        try:
            return await self.model.call(fn)
        finally:
            self._busy -= 1
            self.last_model_use = time.monotonic()

    @property
    def model_loaded(self) -> bool:
        obj = self.model.current
        return obj is not None and obj.model_loaded

    async def unload_if_idle(self) -> bool:
        """Free the model when it has been idle for ``keep_alive_s`` (0: keep it loaded)."""
        if self.keep_alive_s <= 0 or not self.model_loaded or not self._idle():
            return False
        unloaded = await self.model.call(self._save_and_unload)
        if unloaded:
            log.info("model unloaded after %.0f s idle", self.keep_alive_s)
        return unloaded

    def _idle(self) -> bool:
        return self._busy == 0 and time.monotonic() - self.last_model_use >= self.keep_alive_s

    def _save_and_unload(self, a: Assistant) -> bool:
        if not self._idle():  # a turn arrived while this waited for the model worker
            return False
        self.save(a)
        return a.unload_model()

    def save(self, a: Assistant) -> None:
        """Keep the current conversation's KV cache on disk (a snapshot), so it resumes after an
        unload or a restart; a failure to save is logged, never fatal."""
        try:
            path = a.save_conversation(self.paths.data_dir)
            if path is not None:
                log.info("saved conversation %s", a.conversation)
        except Exception:  # noqa: BLE001 - losing a cache costs time, not data
            log.exception("could not save the conversation's KV snapshot")

    def switch(self, a: Assistant, name: str | None) -> bool:
        """Before a turn: go to conversation ``name`` (None: a new one), saving the current one
        first and resuming ``name`` from its snapshot when there is one (True: it was)."""
        self.save(a)
        if name is None:
            a.new_conversation()
            return False
        return a.resume(name, self.paths.data_dir)

    def renamed(self, a: Assistant, old: str, new: str) -> None:
        """After a conversation was renamed: the assistant follows it; its KV snapshot (saved under
        the old name) is dropped, the cache is rebuilt from the turns when it is next needed."""
        snapshot.path_for(self.paths.data_dir, old).unlink(missing_ok=True)
        if a.conversation == old:
            a.conversation = new

    def close(self) -> None:
        """The ordered shutdown's core part: stop generation, save the conversation's KV
        snapshot, free the model, close the database (a WAL checkpoint first)."""
        self.stopping.set()
        self.model.close(self._save_and_close)
        self.bank.close(_close_bank)

    def _save_and_close(self, a: Assistant) -> None:
        self.save(a)
        a.close()


def _close_bank(bank: MemoryBank) -> None:
    try:
        bank.db.clear_wal()
    finally:
        bank.close()


def status_facts(engine: Engine, memories: dict[str, Any], version: str, api_version: int) -> dict[str, Any]:
    return {"version": version, "api_version": api_version, "model_loaded": engine.model_loaded,
            "memories": memories, "uptime_s": round(time.time() - engine.started_at, 1),
            "keep_alive_s": engine.keep_alive_s, "database": str(engine.paths.database)}


def engine_of(request: Any) -> Engine:
    """The engine a route serves (a Starlette request's app state)."""
    engine: Engine = request.app.state.engine
    return engine
