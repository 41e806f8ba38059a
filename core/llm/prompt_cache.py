"""A fixed prompt beginning, evaluated once and kept on disk.

A one-shot prompt such as the phrasing prompt starts with the same instruction and worked
examples every time; evaluating them is most of the time to the answer on a small CPU. The first
time, :func:`warm` evaluates that beginning on the scratch sequence and saves its cache (a few
megabytes, private to the user, keyed by the model, the settings that shape the cache and the
tokens themselves); later processes load it in milliseconds and evaluate only the rest. Only when
the conversation's own cache is empty (a `cairn ask`), because the scratch sequence is placed
after the conversation's positions; otherwise nothing is cached and the prompt is evaluated whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from cairn.core.llm.runtime import CONVERSATION, SCRATCH, Runtime
from cairn.core.llm.snapshot import fingerprint
from cairn.core.paths import FILE_MODE, ensure_dir

log = logging.getLogger(__name__)


def key(runtime: Runtime, tokens: list[int]) -> str:
    blob = json.dumps([fingerprint(runtime), tokens], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def warm(runtime: Runtime, tokens: list[int], directory: Path | None) -> int:
    """Put ``tokens`` at the start of the scratch sequence, from ``directory`` when saved there
    before (else evaluated, then saved); returns how many prompt tokens are now cached (0: none)."""
    if directory is None or not tokens or runtime.kv_pos_max(CONVERSATION) >= 0:
        return 0
    path = directory / f"{key(runtime, tokens)}.kv"
    runtime.kv_clear(SCRATCH)
    if _load(runtime, path, len(tokens)):
        return len(tokens)
    runtime.decode(tokens, 0, SCRATCH, logits="none")
    try:
        _save(runtime, path)
    except OSError as exc:  # a read-only or full cache folder costs speed, never the answer
        log.info("prompt cache not saved to %s: %s", path, exc)
    return len(tokens)


def _load(runtime: Runtime, path: Path, n: int) -> bool:
    try:
        data = bytearray(path.read_bytes())
    except OSError:
        return False
    if runtime.state_set(data, SCRATCH) and runtime.kv_pos_max(SCRATCH) + 1 == n:
        return True
    log.info("ignoring prompt cache %s: llama.cpp did not accept it", path)
    runtime.kv_clear(SCRATCH)
    return False


def _save(runtime: Runtime, path: Path) -> None:
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, FILE_MODE), "wb") as f:
        f.write(runtime.state_get(SCRATCH))
    os.replace(tmp, path)
