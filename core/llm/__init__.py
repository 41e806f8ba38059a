"""The local LLM: llama.cpp runtime, conversation sessions with KV reuse, eviction, snapshots.

Public names (``__all__``), imported lazily (importing this package does not load llama.cpp)."""

from typing import TYPE_CHECKING

from cairn.core._exports import lazy

_NAMES = {
    "catalog": "", "kv": "", "snapshot": "", "loading": "", "fit": "",
    "LoadOptions": "options", "Runtime": "runtime", "Sampling": "sampling",
    "Chat": "chat", "Session": "session",
    "check_model_file": "modelfile", "describe": "modelfile",
}
__all__ = sorted(_NAMES)
if not TYPE_CHECKING:  # hidden from type checkers, so a name outside __all__ stays an error there
    __getattr__ = lazy(__name__, _NAMES)

if TYPE_CHECKING:  # the same names, for type checkers (explicit re-exports)
    from cairn.core.llm import catalog as catalog
    from cairn.core.llm import fit as fit
    from cairn.core.llm import kv as kv
    from cairn.core.llm import loading as loading
    from cairn.core.llm import snapshot as snapshot
    from cairn.core.llm.chat import Chat as Chat
    from cairn.core.llm.modelfile import check_model_file as check_model_file
    from cairn.core.llm.modelfile import describe as describe
    from cairn.core.llm.options import LoadOptions as LoadOptions
    from cairn.core.llm.runtime import Runtime as Runtime
    from cairn.core.llm.sampling import Sampling as Sampling
    from cairn.core.llm.session import Session as Session
