"""Model files before llama.cpp sees them: GGUF checks, metadata, and whether they fit in memory.

Reads GGUF headers with the ``gguf`` package; never imports llama_cpp.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.core.errors import ModelLoadError

if TYPE_CHECKING:
    from cairn.core.llm.runtime import LoadOptions

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
    """Refuse a missing, non-GGUF or truncated file before llama.cpp sees it; return its size."""
    if not path.is_file():
        raise ModelLoadError(f"The model file {path} does not exist.",
                             hint="`cairn models list` shows installed models; `cairn models pull` fetches one.")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF').")
    try:
        import gguf

        reader = gguf.GGUFReader(str(path))
        end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    except (ValueError, IndexError, OSError, KeyError) as exc:
        raise ModelLoadError(f"The model file {path} is damaged or truncated ({exc}).",
                             hint="Download or import it again.") from exc
    size = path.stat().st_size
    if end > size:
        raise ModelLoadError(f"The model file {path} is truncated: its tensors need {end:,} bytes, "
                             f"the file has {size:,}.", hint="Download or import it again.")
    return size


def describe(path: Path) -> dict[str, Any]:
    """What a GGUF file holds, from its metadata (no weights are loaded)."""
    import gguf

    size = check_model_file(path)
    reader = gguf.GGUFReader(str(path))

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        if f is None:
            return None
        value = f.contents()
        return value if not isinstance(value, list) or len(value) < 20 else f"[{len(value)} items]"

    arch = field("general.architecture")
    types = sorted({t.tensor_type.name for t in reader.tensors})
    return {"file": str(path), "size_mb": round(size / 1e6, 1), "architecture": arch, "name": field("general.name"),
            "context_length": field(f"{arch}.context_length"), "layers": field(f"{arch}.block_count"),
            "embedding": field(f"{arch}.embedding_length"), "tensor_types": ", ".join(types),
            "parameters": sum(int(t.n_elements) for t in reader.tensors),
            "chat_template": "yes" if field("tokenizer.chat_template") else "no (ChatML is used)",
            "vocabulary": len(reader.fields["tokenizer.ggml.tokens"].data) if "tokenizer.ggml.tokens" in reader.fields else None}


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
