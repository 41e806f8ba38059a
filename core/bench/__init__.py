"""Benchmarks behind `cairn bench ...`: each reads public data by path and reports figures.

Each benchmark module is public (``__all__``), imported when first used."""

from typing import TYPE_CHECKING

from cairn.core._exports import lazy

_NAMES = {name: "" for name in ("answer", "facts", "gate", "llm", "loading", "locomo", "madial", "ranking", "rerank",
                                 "retention", "scale", "writers")}
__all__ = sorted(_NAMES)
if not TYPE_CHECKING:  # hidden from type checkers, so a name outside __all__ stays an error there
    __getattr__ = lazy(__name__, _NAMES)

if TYPE_CHECKING:  # the same names, for type checkers (explicit re-exports)
    from cairn.core.bench import answer as answer
    from cairn.core.bench import facts as facts
    from cairn.core.bench import gate as gate
    from cairn.core.bench import llm as llm
    from cairn.core.bench import loading as loading
    from cairn.core.bench import locomo as locomo
    from cairn.core.bench import madial as madial
    from cairn.core.bench import ranking as ranking
    from cairn.core.bench import rerank as rerank
    from cairn.core.bench import retention as retention
    from cairn.core.bench import scale as scale
    from cairn.core.bench import writers as writers
