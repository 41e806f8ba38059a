"""The retrieval gate: does this turn need the user's memories at all? (after Adapt-LLM's <RET>)

Owns the decision (``decision``: :class:`~cairn.core.memory.gate.decision.Gate`), its cheap
signals (``signals``), the lookups it may make in a bank (``probe``) and fitting its weights and
threshold from labelled examples (``fit``).
"""
