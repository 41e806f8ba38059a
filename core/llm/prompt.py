"""Chat prompts: the model's own chat template (Jinja, from its GGUF metadata), or ChatML.

A template that is missing, fails to parse or fails to render falls back to ChatML, the
documented default (``<|im_start|>role\\ncontent<|im_end|>``), with a warning in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@dataclass(frozen=True)
class Message:
    role: str  # system, user, assistant
    content: str


class Template:
    def __init__(self, source: str | None, bos: str = "", eos: str = "") -> None:
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self._env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self.bos, self.eos = bos, eos
        self.fallback = False
        try:
            self._template = self._env.from_string(source or "")
            if not source:
                raise TemplateError("the model has no chat template")
            self.render([Message("user", "hi")], True)
        except TemplateError as exc:
            log.warning("chat template unusable (%s): using ChatML, the documented default", exc)
            self._template = self._env.from_string(CHATML)
            self.fallback = True

    def render(self, messages: list[Message], add_generation_prompt: bool) -> str:
        def raise_exception(message: str) -> None:
            from jinja2 import TemplateError

            raise TemplateError(message)

        return self._template.render(messages=[{"role": m.role, "content": m.content} for m in messages],
                                     add_generation_prompt=add_generation_prompt, bos_token=self.bos,
                                     eos_token=self.eos, raise_exception=raise_exception)
