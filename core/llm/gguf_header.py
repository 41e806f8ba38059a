"""A GGUF file's header and tensor table, read without touching the weights.

``gguf.GGUFReader`` builds a NumPy view for every metadata item (49k vocabulary strings in a
small model): 3-8 s before a model can load. This reader walks the same structure with
``struct`` over one buffered read of the header region: milliseconds. It keeps scalar metadata and
the lengths of arrays (the vocabulary's strings are skipped, not decoded), and every tensor's
name, shape, type, offset and size in bytes: what the file checks, ``cairn models info`` and the
flash-aware loading plan need. Layout: magic ``GGUF``, version, tensor count, metadata count,
metadata key/values, tensor infos, padding to ``general.alignment``, then the tensor data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cairn.core.errors import ModelLoadError

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
MAX_COUNT = 1 << 32  # more items than this in a header means a damaged file
CHUNK = 1 << 20


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type: int  # ggml type id
    offset: int  # from the start of the data section
    n_bytes: int

    @property
    def layer(self) -> int | None:
        """The transformer block this tensor belongs to (``blk.N.``), or None (embeddings, output)."""
        parts = self.name.split(".")
        return int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else None


@dataclass
class Header:
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)  # arrays are kept as ("array", type, length)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0  # where tensor data starts in the file

    @property
    def data_end(self) -> int:
        """The smallest file size that holds every tensor."""
        return self.data_offset + max((t.offset + t.n_bytes for t in self.tensors), default=0)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str | None:
        value = self.get("general.architecture")
        return value if isinstance(value, str) else None

    def arch(self, key: str, default: Any = None) -> Any:
        """``<architecture>.<key>``, e.g. ``block_count``."""
        return self.get(f"{self.architecture}.{key}", default)


class _Reader:
    """Sequential reads over a file, refilling a buffer; a short read means a truncated file."""

    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f, self.path = f, path
        self.buf = b""
        self.pos = 0  # in buf
        self.base = 0  # file offset of buf[0]

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            more = self.f.read(max(CHUNK, n))
            self.buf = self.buf[self.pos:] + more
            self.base += self.pos
            self.pos = 0
            if n > len(self.buf):
                raise ModelLoadError(f"The model file {self.path} is truncated inside its header.",
                                     hint="Download or import it again.")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self, what: str) -> int:
        n = int(self.unpack("<Q"))
        if n > MAX_COUNT:
            raise ModelLoadError(f"The model file {self.path} is damaged: its header claims {n:,} {what}.",
                                 hint="Download or import it again.")
        return n

    def skip_strings(self, n: int) -> None:
        """Skip ``n`` length-prefixed strings (a vocabulary) without decoding them."""
        unpack_from = struct.unpack_from
        while n:
            buf, pos, end = self.buf, self.pos, len(self.buf)
            while n and pos + 8 <= end:
                length = unpack_from("<Q", buf, pos)[0]
                if length > MAX_COUNT:
                    raise ModelLoadError(f"The model file {self.path} is damaged: a string of {length:,} bytes.",
                                         hint="Download or import it again.")
                if pos + 8 + length > end:
                    break
                pos += 8 + length
                n -= 1
            self.pos = pos
            if n:
                self.take(self.count("bytes in a string"))  # refills across the buffer's end
                n -= 1

    def string(self) -> str:
        return self.take(self.count("bytes in a string")).decode("utf-8", "replace")

    @property
    def offset(self) -> int:
        return self.base + self.pos


def read_header(path: Path) -> Header:
    """Parse the header and tensor table of the GGUF file at ``path``; ModelLoadError if it is not
    a GGUF file, or its header is damaged or truncated."""
    try:
        with path.open("rb") as f:
            r = _Reader(f, path)
            if r.take(4) != MAGIC:
                raise ModelLoadError(f"{path} is not a GGUF model file (it does not start with b'GGUF').")
            header = Header(int(r.unpack("<I")))
            n_tensors, n_kv = r.count("tensors"), r.count("metadata items")
            for _ in range(n_kv):
                key = r.string()
                header.metadata[key] = _value(r, int(r.unpack("<I")))
            infos = [_tensor(r) for _ in range(n_tensors)]
            alignment = int(header.get("general.alignment", DEFAULT_ALIGNMENT) or DEFAULT_ALIGNMENT)
            header.data_offset = -(-r.offset // alignment) * alignment
            header.tensors = infos
            return header
    except OSError as exc:
        raise ModelLoadError(f"Cannot read the model file {path}: {exc.strerror or exc}.") from exc


def _value(r: _Reader, kind: int) -> Any:
    if kind in _SCALARS:
        return r.unpack(_SCALARS[kind])
    if kind == STRING:
        return r.string()
    if kind == ARRAY:
        item, n = int(r.unpack("<I")), r.count("array items")
        _skip_array(r, item, n)
        return ("array", item, n)
    raise ModelLoadError(f"The model file {r.path} is damaged: unknown metadata type {kind}.",
                         hint="Download or import it again.")


def _skip_array(r: _Reader, item: int, n: int) -> None:
    if item in _SCALARS:
        r.take(struct.calcsize(_SCALARS[item]) * n)
    elif item == STRING:
        r.skip_strings(n)
    else:
        for _ in range(n):
            _value(r, item)


def _tensor(r: _Reader) -> TensorInfo:
    name = r.string()
    dims = int(r.unpack("<I"))
    if dims > 8:
        raise ModelLoadError(f"The model file {r.path} is damaged: tensor {name!r} has {dims} dimensions.",
                             hint="Download or import it again.")
    shape = tuple(int(r.unpack("<Q")) for _ in range(dims))
    kind, offset = int(r.unpack("<I")), int(r.unpack("<Q"))
    return TensorInfo(name, shape, kind, offset, tensor_bytes(shape, kind, name, r.path))


def tensor_bytes(shape: tuple[int, ...], kind: int, name: str = "", path: Path | None = None) -> int:
    """Bytes a tensor of ``shape`` and ggml type ``kind`` takes (blocks of the quantisation)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(f"The model file {path} uses a tensor type ({kind}, in {name!r}) this Cairn does "
                             "not know.", hint="Upgrade Cairn, or use a model with common quantisations.") from exc
    elements = 1
    for d in shape:
        elements *= d
    return elements // block * size


def type_name(kind: int) -> str:
    from gguf.constants import GGMLQuantizationType

    try:
        return GGMLQuantizationType(kind).name
    except ValueError:
        return f"type{kind}"
