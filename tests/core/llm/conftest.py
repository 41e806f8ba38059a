from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.models import tiny_gguf


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Llama GGUF with a real BPE tokenizer and a ChatML template."""
    return tiny_gguf.write(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture
def runtime(tiny_model: Path) -> Iterator[Runtime]:
    with Runtime(tiny_model, LoadOptions(n_ctx=256, n_batch=64, n_threads=2)) as rt:
        yield rt
