"""Retention: what the bank keeps, how strongly, and for how long.

Owns importance from a memory's information content (``importance``, after SirLLM), the
forgetting curve (``forgetting``, pure, after MemoryBank/Ebbinghaus), sweep planning (``sweep``,
pure), consolidation of near-duplicates and changed statements (``consolidate``), and
:class:`~cairn.core.memory.retention.keeper.Retention`, the object a bank owns as
``bank.retention`` that applies them through the store.
"""
