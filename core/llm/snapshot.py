"""KV snapshots: a conversation's cached state saved to a file, restored in milliseconds.

File layout: ``CAIRNKV1``, a 4-byte little-endian header length, a JSON header (fingerprint,
the cached tokens and their entropy scores), then llama.cpp's sequence state. The fingerprint
(model digest, context size, KV type, llama.cpp version) must match the running model exactly:
a mismatched, corrupt or truncated snapshot is refused with a warning and the caller re-evaluates
the conversation instead. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.core.llm.native import library_version
from cairn.core.llm.runtime import CONVERSATION, Runtime
from cairn.core.llm.session import Session
from cairn.core.paths import FILE_MODE, ensure_dir

log = logging.getLogger(__name__)
MAGIC = b"CAIRNKV1"


def fingerprint(runtime: Runtime) -> dict[str, object]:
    return {"model": runtime.digest, "n_ctx": runtime.n_ctx, "kv_type": runtime.options.kv_type,
            "llama_cpp": library_version()}


def path_for(data_dir: Path, conversation: str) -> Path:
    """Where a conversation's snapshot lives: ``<data dir>/kv/<hash of its name>.kv``."""
    return data_dir / "kv" / (hashlib.sha256(conversation.encode()).hexdigest()[:32] + ".kv")


@dataclass(frozen=True)
class Restored:
    ok: bool
    reason: str  # why not, when not ok
    extra: dict[str, Any] | None = None  # what the caller saved beside the cache


def save(session: Session, path: Path, extra: dict[str, Any] | None = None) -> int:
    """Write the session's cache (and ``extra``, any JSON the caller keeps with it) to ``path``;
    returns the file size."""
    header = json.dumps({"fingerprint": fingerprint(session.rt), "tokens": session.tokens,
                         "scores": [round(s, 4) for s in session.scores], "extra": extra}).encode()
    state = session.rt.state_get(CONVERSATION)
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, FILE_MODE), "wb") as f:
        f.write(MAGIC + struct.pack("<I", len(header)) + header)
        f.write(state)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path.stat().st_size


def restore(session: Session, path: Path) -> Restored:
    """Load a snapshot into the session; on any mismatch or damage, leave an empty cache."""
    try:
        header, state = _read(path)
    except (OSError, ValueError) as exc:
        return _refuse(session, path, f"unreadable snapshot ({exc})")
    expected = fingerprint(session.rt)
    if header.get("fingerprint") != expected:
        diff = sorted(k for k in expected if header.get("fingerprint", {}).get(k) != expected[k])
        return _refuse(session, path, f"made with a different {', '.join(diff)}")
    tokens = header.get("tokens")
    if not isinstance(tokens, list) or not session.rt.state_set(state, CONVERSATION):
        return _refuse(session, path, "llama.cpp rejected the saved state")
    if session.rt.kv_pos_max(CONVERSATION) + 1 != len(tokens):
        return _refuse(session, path, "the saved state does not match its token list")
    session.tokens = [int(t) for t in tokens]
    scores = header.get("scores") or []
    session.scores = [float(x) for x in scores] if len(scores) == len(tokens) else [0.0] * len(tokens)
    session.last_logits = None
    extra = header.get("extra")
    return Restored(True, "", extra if isinstance(extra, dict) else None)


def _read(path: Path) -> tuple[dict[str, Any], bytearray]:
    """The header and the state, read straight into one buffer that llama.cpp loads from (a
    snapshot is tens of megabytes: every extra copy is milliseconds of restore)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if head[:8] != MAGIC or len(head) < 12:
            raise ValueError("not a Cairn KV snapshot")
        (length,) = struct.unpack("<I", head[8:12])
        if 12 + length > size:
            raise ValueError("truncated header")
        header = json.loads(f.read(length))
        state = bytearray(size - 12 - length)
        if f.readinto(state) != len(state):
            raise ValueError("truncated state")
    if not isinstance(header, dict):
        raise ValueError("malformed header")
    return header, state


def _refuse(session: Session, path: Path, reason: str) -> Restored:
    log.warning("ignoring KV snapshot %s: %s; the conversation will be re-evaluated", path, reason)
    session.truncate(0)
    session.rt.kv_clear(CONVERSATION)
    return Restored(False, reason)
