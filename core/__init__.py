"""Cairn core: memory bank, LLM runtime, the assistant, configuration and paths. No UI, no web
server, no CLI.

Importing it turns off every dependency's telemetry (:mod:`cairn.core.privacy`) before any of them
can be imported: the one deliberate import-time action in Cairn.
"""

from cairn.core.privacy import lock_down

lock_down()
