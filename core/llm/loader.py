"""The chat model, loaded on first use with its settings resolved.

``llm.model`` names the model (``auto``: the bundled SmolLM2 when its package is installed;
``none``: memory-only). Loading waits until a turn needs the model, so answers Cairn gives from
memory alone (dates, quotes) never pay for it. When no model can load, :attr:`ModelSlot.reason`
says why and the assistant runs memory-only instead of failing.

Sampling values of -1 in the settings take the model's measured defaults (``catalog.DEFAULTS``
and the catalog entry's ``defaults``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.core.config import MODEL_DEFAULT, LlmSettings
from cairn.core.errors import CairnError
from cairn.core.llm import catalog, kv, loading
from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    """What the settings and the model's defaults resolve to."""

    sampling: Sampling
    max_tokens: int
    answers: str  # phrased | extractive
    llm_vote: bool
    extract_facts: bool


def resolve_choice(llm: LlmSettings, assistant: Any, path: Path | None) -> ModelChoice:
    """Settings win; -1 and "auto" fall back to the model's measured defaults."""
    d = catalog.defaults_for(path)

    def pick(value: float, key: str) -> float:
        return float(d[key]) if value == MODEL_DEFAULT else value

    sampling = Sampling(temperature=pick(llm.temperature, "temperature"), top_p=pick(llm.top_p, "top_p"),
                        repeat_penalty=pick(llm.repeat_penalty, "repeat_penalty"))
    max_tokens = int(d["max_tokens"]) if assistant.max_tokens < 0 else assistant.max_tokens

    def flag(value: str, key: str) -> str:
        return str(d[key]) if value == "auto" else value

    return ModelChoice(sampling, max_tokens, flag(assistant.answers, "answers"),
                       flag(assistant.llm_vote, "llm_vote") == "on", flag(assistant.extract_facts, "extract_facts") == "on")


class ModelSlot:
    """Holds the chat model once loaded; :meth:`get` loads it (once) or returns None with a reason."""

    def __init__(self, llm: LlmSettings, models_dir: Path, system: str) -> None:
        self.llm, self.models_dir, self.system = llm, models_dir, system
        self.reason = ""
        self._chat: Chat | None = None
        self._runtime: Runtime | None = None
        self._tried = False
        self._thread: threading.Thread | None = None
        self.path: Path | None = None
        try:
            self.path = catalog.chat_model(models_dir, llm.model)
        except CairnError as exc:
            self.reason, self._tried = exc.message, True
        if self.path is None and not self.reason:
            self.reason = ("the settings say llm.model = none" if llm.model == catalog.NONE else
                           f"no model is installed ({catalog.bundled_spec().install_hint} installs the bundled one)")
            self._tried = True

    @property
    def configured(self) -> bool:
        return self.path is not None and not self.reason

    @property
    def loaded(self) -> Chat | None:
        return self._chat

    def prefetch(self) -> None:
        """Start loading in the background (while the turn recalls memories); :meth:`get` waits."""
        if not self._tried and self._thread is None:
            self._thread = threading.Thread(target=self._load, name="cairn-model-load", daemon=True)
            self._thread.start()

    def get(self) -> Chat | None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if not self._tried:
            self._load()
        return self._chat

    def _load(self) -> None:
        self._tried = True
        assert self.path is not None
        try:
            options = LoadOptions.from_settings(self.llm)
            plan = loading.plan_file(self.path, options, loading.budget(self.llm.ram_limit_mb)) \
                if self.llm.load_plan == "auto" else None
            if plan is not None:
                log.info("loading %s: %s", self.path.name, "; ".join(loading.describe(plan)))
            runtime = Runtime(self.path, options, plan)
        except CairnError as exc:
            self.reason = f"the model {self.path.name} did not load: {exc.message}"
            log.warning("memory-only mode: %s", self.reason)
            return
        session = Session(runtime, kv.Eviction(self.llm.eviction, sinks=self.llm.sink_tokens))
        self._runtime, self._chat = runtime, Chat(runtime, session, system=self.system)

    def unload(self) -> None:
        """Free the model; the next :meth:`get` loads it again (a daemon's idle ``keep_alive``)."""
        self.close()
        if self.configured:
            self._tried = False

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime, self._chat = None, None
