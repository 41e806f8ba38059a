"""Chat templates and their fallback, load options, and the memory check before loading."""

import logging
from pathlib import Path

import pytest

from cairn.core.config import LlmSettings
from cairn.core.errors import ModelLoadError
from cairn.core.llm.chat import Chat
from cairn.core.llm.modelfile import check_memory
from cairn.core.llm.options import LoadOptions, model_params
from cairn.core.llm.prompt import Message, Template
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session
from cairn.models import tiny_gguf


def test_template_renders_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    chatml = Template(tiny_gguf.CHATML)
    text = chatml.render([Message("system", "S"), Message("user", "hi")], True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    with caplog.at_level(logging.WARNING):
        for broken in (None, "{% for x in %}", "{{ raise_exception('no system role') }}"):
            t = Template(broken)
            assert t.fallback and t.render([Message("user", "hi")], False) == "<|im_start|>user\nhi<|im_end|>\n"
    assert "ChatML" in caplog.text


def test_a_model_without_a_template_still_chats(tmp_path: Path) -> None:
    path = tiny_gguf.write(tmp_path / "plain.gguf", chat_template=None)
    with Runtime(path, LoadOptions(n_ctx=256, n_batch=64)) as rt:
        chat = Chat(rt, Session(rt), system="Be brief.")
        assert chat.template.fallback
        assert chat.turn("hello", max_tokens=4, sampling=Sampling(temperature=0.0)).finish in ("length", "stop")


def test_options_from_settings_and_load_modes() -> None:
    o = LoadOptions.from_settings(LlmSettings(n_ctx=2048, kv_type="q8_0", use_mlock=True))
    assert (o.n_ctx, o.kv_type, o.use_mmap, o.use_mlock) == (2048, "q8_0", True, True)
    import llama_cpp  # only to read the library's constants in this assertion

    assert model_params(o).load_mode == llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK
    assert model_params(LoadOptions()).load_mode == llama_cpp.LLAMA_LOAD_MODE_MMAP
    assert not model_params(LoadOptions()).use_extra_bufts


def test_a_model_larger_than_memory_is_named_before_loading(caplog: pytest.LogCaptureFixture) -> None:
    huge = 1 << 50
    with pytest.raises(ModelLoadError, match=r"needs \d+\.\d GiB.*GiB of RAM is free"):
        check_memory(huge, LoadOptions(use_mlock=True))
    with pytest.raises(ModelLoadError, match="without paging"):
        check_memory(huge, LoadOptions(use_mmap=False))
    with caplog.at_level(logging.WARNING):
        check_memory(huge, LoadOptions())  # memory-mapped: it runs, paged from disk
    assert "paged in from disk" in caplog.text
