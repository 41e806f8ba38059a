"""The memory bank: SQLite + sqlite-vec + FTS5, with provenance and history for every memory.

Public names (``__all__``), imported lazily; everything else is internal to ``cairn.core``."""

from typing import TYPE_CHECKING

from cairn.core._exports import lazy

_NAMES = {
    "transfer": "",
    "MAX_K": "bank", "MemoryBank": "bank",
    "HistoryEntry": "records", "Memory": "records", "MemoryId": "records", "Recalled": "records", "RecallFilters": "records",
    "SOURCE_TYPES": "records", "Source": "records",
    "Gate": "gate", "is_request": "gate", "Costs": "gate_fit",
    "make_embedder": "embed", "MANIFEST": "onnx_embed", "Manifest": "onnx_embed", "OnnxEmbedder": "onnx_embed",
    "load_session": "onnx_embed", "decode_utf8": "textcheck",
}
__all__ = sorted(_NAMES)
if not TYPE_CHECKING:  # hidden from type checkers, so a name outside __all__ stays an error there
    __getattr__ = lazy(__name__, _NAMES)

if TYPE_CHECKING:  # the same names, for type checkers (explicit re-exports)
    from cairn.core.memory import transfer as transfer
    from cairn.core.memory.bank import MAX_K as MAX_K
    from cairn.core.memory.bank import MemoryBank as MemoryBank
    from cairn.core.memory.embed import make_embedder as make_embedder
    from cairn.core.memory.gate import Gate as Gate
    from cairn.core.memory.gate import is_request as is_request
    from cairn.core.memory.gate_fit import Costs as Costs
    from cairn.core.memory.onnx_embed import MANIFEST as MANIFEST
    from cairn.core.memory.onnx_embed import Manifest as Manifest
    from cairn.core.memory.onnx_embed import OnnxEmbedder as OnnxEmbedder
    from cairn.core.memory.onnx_embed import load_session as load_session
    from cairn.core.memory.records import SOURCE_TYPES as SOURCE_TYPES
    from cairn.core.memory.records import HistoryEntry as HistoryEntry
    from cairn.core.memory.records import Memory as Memory
    from cairn.core.memory.records import MemoryId as MemoryId
    from cairn.core.memory.records import Recalled as Recalled
    from cairn.core.memory.records import RecallFilters as RecallFilters
    from cairn.core.memory.records import Source as Source
    from cairn.core.memory.textcheck import decode_utf8 as decode_utf8
