"""Cairn core: memory bank, LLM runtime, the assistant, configuration and paths. No UI, no web
server, no CLI.

Importing it turns off every dependency's telemetry (:mod:`cairn.core.privacy`) before any of them
can be imported: the one deliberate import-time action in Cairn.

The public surface is ``__all__`` here and in :mod:`cairn.core.memory`, :mod:`cairn.core.llm` and
:mod:`cairn.core.bench`; code outside ``core`` imports only those names (a layering test).
"""

from typing import TYPE_CHECKING

from cairn.core._exports import lazy
from cairn.core.privacy import lock_down

lock_down()

_NAMES = {
    "assistant": "", "bench": "", "clock": "", "config": "", "diagnostics": "", "download": "", "errors": "",
    "llm": "", "locks": "", "memory": "", "paths": "",
    "Answer": "answer", "Assistant": "assistant",
    "CairnError": "errors", "InvalidInput": "errors", "ModelLoadError": "errors", "NotFound": "errors",
    "StorageError": "errors", "ServiceError": "errors", "NotPermitted": "errors",
    "ManualClock": "clock", "SystemClock": "clock", "iso": "clock", "parse_when": "clock",
    "Settings": "config",
    "FILE_MODE": "paths", "Paths": "paths", "ensure_dir": "paths", "expand": "paths",
    "Progress": "download", "fetch": "download",
    "FileLock": "locks",
}
__all__ = sorted(_NAMES)
if not TYPE_CHECKING:  # hidden from type checkers, so a name outside __all__ stays an error there
    __getattr__ = lazy(__name__, _NAMES)

if TYPE_CHECKING:  # the same names, for type checkers (explicit re-exports)
    from cairn.core import assistant as assistant
    from cairn.core import bench as bench
    from cairn.core import clock as clock
    from cairn.core import config as config
    from cairn.core import diagnostics as diagnostics
    from cairn.core import download as download
    from cairn.core import errors as errors
    from cairn.core import llm as llm
    from cairn.core import locks as locks
    from cairn.core import memory as memory
    from cairn.core import paths as paths
    from cairn.core.answer import Answer as Answer
    from cairn.core.assistant import Assistant as Assistant
    from cairn.core.clock import ManualClock as ManualClock
    from cairn.core.clock import SystemClock as SystemClock
    from cairn.core.clock import iso as iso
    from cairn.core.clock import parse_when as parse_when
    from cairn.core.config import Settings as Settings
    from cairn.core.download import Progress as Progress
    from cairn.core.download import fetch as fetch
    from cairn.core.errors import CairnError as CairnError
    from cairn.core.errors import InvalidInput as InvalidInput
    from cairn.core.errors import ModelLoadError as ModelLoadError
    from cairn.core.errors import NotFound as NotFound
    from cairn.core.errors import NotPermitted as NotPermitted
    from cairn.core.errors import ServiceError as ServiceError
    from cairn.core.errors import StorageError as StorageError
    from cairn.core.locks import FileLock as FileLock
    from cairn.core.paths import FILE_MODE as FILE_MODE
    from cairn.core.paths import Paths as Paths
    from cairn.core.paths import ensure_dir as ensure_dir
    from cairn.core.paths import expand as expand
