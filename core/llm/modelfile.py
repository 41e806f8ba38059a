"""Model files before llama.cpp sees them: GGUF checks, metadata, and whether they fit in memory.

Reads GGUF headers with :mod:`cairn.core.llm.gguf_header` (the header and tensor table only);
never imports llama_cpp.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.core.errors import ModelLoadError
from cairn.core.llm.gguf_header import MAGIC, Header, read_header, type_name

if TYPE_CHECKING:
    from cairn.core.llm.options import LoadOptions

log = logging.getLogger("cairn.llm")
SAMPLE = 1 << 20  # bytes read from each end of a model file for its digest


def model_digest(path: Path) -> str:
    """A cheap identity of a model file: sha256 of its size, first and last MiB (a full hash of a
    multi-GB file would cost seconds on every snapshot save and restore)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(SAMPLE))
        f.seek(max(0, size - SAMPLE))
        h.update(f.read(SAMPLE))
    return h.hexdigest()


def check_model_file(path: Path) -> int:
    """Refuse a missing, non-GGUF or truncated file before llama.cpp sees it; return its size.
    Reads the header and tensor table only (milliseconds, not the seconds a full parse takes)."""
    header, size = _checked_header(path)
    if header.data_end > size:
        raise ModelLoadError(f"The model file {path} is truncated: its tensors need {header.data_end:,} bytes, "
                             f"the file has {size:,}.", hint="Download or import it again.")
    return size


def _checked_header(path: Path) -> tuple[Header, int]:
    try:
        if not path.is_file():
            raise ModelLoadError(f"The model file {path} does not exist.",
                                 hint="`cairn models list` shows installed models; `cairn models pull` fetches one.")
        size = path.stat().st_size
        with path.open("rb") as f:
            magic = f.read(4)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot read the model file {str(path)[:200]}: {getattr(exc, 'strerror', None) or exc}.") from exc
    if magic != MAGIC:
        raise ModelLoadError(f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF').")
    return read_header(path), size


def describe(path: Path) -> dict[str, Any]:
    """What a GGUF file holds, from its header (no weights are loaded)."""
    header, size = _checked_header(path)
    check_model_file(path)
    vocabulary = header.get("tokenizer.ggml.tokens")
    return {"file": str(path), "size_mb": round(size / 1e6, 1), "architecture": header.architecture,
            "name": header.get("general.name"), "context_length": header.arch("context_length"),
            "layers": header.arch("block_count"), "embedding": header.arch("embedding_length"),
            "tensor_types": ", ".join(sorted({type_name(t.type) for t in header.tensors})),
            "parameters": sum(_elements(t.shape) for t in header.tensors),
            "chat_template": "yes" if header.get("tokenizer.chat_template") else "no (ChatML is used)",
            "vocabulary": vocabulary[2] if isinstance(vocabulary, tuple) else None}


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def check_memory(size: int, options: LoadOptions) -> None:
    """Say before loading when the weights cannot fit: with mmap they are paged in on demand
    (a model larger than free RAM still runs, slower); without mmap, or locked, they must fit."""
    available = _available_ram()
    if available is None or size <= available:
        return
    numbers = f"the model needs {size / 2**30:.1f} GiB, {available / 2**30:.1f} GiB of RAM is free"
    if options.use_mlock or not options.use_mmap:
        raise ModelLoadError(f"Not enough memory to load this model without paging: {numbers}.",
                             hint="Keep llm.use_mmap on and llm.use_mlock off, or choose a smaller model.")
    log.warning("%s: weights will be paged in from disk as needed (slower)", numbers)


def _available_ram() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
