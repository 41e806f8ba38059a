"""The memory bank: SQLite + sqlite-vec + FTS5, with provenance and history for every memory.

Public names (``__all__``), imported lazily; everything else is internal to ``cairn.core``."""

from typing import TYPE_CHECKING

from cairn.core._exports import lazy

_NAMES = {
    "transfer": "storage",
    "MAX_K": "bank", "MemoryBank": "bank", "SweepReport": "retention.keeper", "TurnResult": "intake",
    "TurnsLogged": "intake", "ChatLog": "chatlog", "ChatMessage": "chatlog", "parse_chat": "chatlog",
    "chat_batches": "chatlog", "check_free": "chatlog",
    "HistoryEntry": "storage.records", "Memory": "storage.records", "MemoryId": "storage.records",
    "Recalled": "storage.records", "RecallFilters": "storage.records",
    "SOURCE_TYPES": "storage.records", "Source": "storage.records",
    "ConversationSummary": "storage.store_retention", "LoggedTurn": "storage.store_retention",
    "Gate": "gate.decision", "is_request": "gate.decision", "Costs": "gate.fit",
    "make_embedder": "retrieval.embed", "MANIFEST": "retrieval.onnx_embed", "Manifest": "retrieval.onnx_embed",
    "OnnxEmbedder": "retrieval.onnx_embed", "load_session": "retrieval.onnx_embed", "decode_utf8": "storage.textcheck",
}
__all__ = sorted(_NAMES)
if not TYPE_CHECKING:  # hidden from type checkers, so a name outside __all__ stays an error there
    __getattr__ = lazy(__name__, _NAMES)

if TYPE_CHECKING:  # the same names, for type checkers (explicit re-exports)
    from cairn.core.memory.bank import MAX_K as MAX_K
    from cairn.core.memory.bank import MemoryBank as MemoryBank
    from cairn.core.memory.chatlog import ChatLog as ChatLog
    from cairn.core.memory.chatlog import ChatMessage as ChatMessage
    from cairn.core.memory.chatlog import chat_batches as chat_batches
    from cairn.core.memory.chatlog import check_free as check_free
    from cairn.core.memory.chatlog import parse_chat as parse_chat
    from cairn.core.memory.gate.decision import Gate as Gate
    from cairn.core.memory.gate.decision import is_request as is_request
    from cairn.core.memory.gate.fit import Costs as Costs
    from cairn.core.memory.intake import TurnResult as TurnResult
    from cairn.core.memory.intake import TurnsLogged as TurnsLogged
    from cairn.core.memory.retention.keeper import SweepReport as SweepReport
    from cairn.core.memory.retrieval.embed import make_embedder as make_embedder
    from cairn.core.memory.retrieval.onnx_embed import MANIFEST as MANIFEST
    from cairn.core.memory.retrieval.onnx_embed import Manifest as Manifest
    from cairn.core.memory.retrieval.onnx_embed import OnnxEmbedder as OnnxEmbedder
    from cairn.core.memory.retrieval.onnx_embed import load_session as load_session
    from cairn.core.memory.storage import transfer as transfer
    from cairn.core.memory.storage.records import SOURCE_TYPES as SOURCE_TYPES
    from cairn.core.memory.storage.records import HistoryEntry as HistoryEntry
    from cairn.core.memory.storage.records import Memory as Memory
    from cairn.core.memory.storage.records import MemoryId as MemoryId
    from cairn.core.memory.storage.records import Recalled as Recalled
    from cairn.core.memory.storage.records import RecallFilters as RecallFilters
    from cairn.core.memory.storage.records import Source as Source
    from cairn.core.memory.storage.store_retention import ConversationSummary as ConversationSummary
    from cairn.core.memory.storage.store_retention import LoggedTurn as LoggedTurn
    from cairn.core.memory.storage.textcheck import decode_utf8 as decode_utf8
