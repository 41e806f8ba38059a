"""Fit to RAM: some layers requantized with llama.cpp's quantizer, the rest kept byte for byte;
perplexity as the measure of what that costs; LoCoMo conversations as the text."""

import math
from pathlib import Path

import pytest

from cairn.core.errors import ModelLoadError
from cairn.core.llm.fit import layers_bytes, locomo_text, perplexity, requantize_layers
from cairn.core.llm.gguf_header import Header, read_header, type_name
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Sampling

LOCOMO = Path("/work/shared/data/locomo/locomo_dev.json")
TEXT = ("My sister lives in Lisbon and works as a nurse. I adopted a greyhound called Pixel last May. "
        "We booked a trip to Kyoto for October with friends. I like coffee with oat milk. ") * 12


def raw(path: Path, header: Header, name: str) -> bytes:
    info = next(t for t in header.tensors if t.name == name)
    with path.open("rb") as f:
        f.seek(header.data_offset + info.offset)
        return f.read(info.n_bytes)


@pytest.mark.parametrize("kind", ["q8_0", "q4_0"])
def test_one_layer_requantized_the_rest_byte_identical(tiny_model: Path, tmp_path: Path, kind: str) -> None:
    (tmp_path / "out").mkdir()
    dst = tmp_path / "out" / "fit.gguf"
    result = requantize_layers(tiny_model, dst, [1], kind, threads=2)
    assert result.layers == (1,) and result.kind == kind and result.dst_bytes == dst.stat().st_size
    assert result.dst_bytes < result.src_bytes == tiny_model.stat().st_size
    assert sorted(p.name for p in dst.parent.iterdir()) == ["fit.gguf"]  # no temporary file left
    before, after = read_header(tiny_model), read_header(dst)
    assert [t.name for t in after.tensors] == [t.name for t in before.tensors]
    assert after.metadata == before.metadata
    for old, new in zip(before.tensors, after.tensors, strict=True):
        assert new.shape == old.shape
        if new.layer == 1 and len(new.shape) == 2:
            assert type_name(new.type) == kind.upper()
        else:
            assert new.type == old.type and raw(dst, after, new.name) == raw(tiny_model, before, old.name)
    assert layers_bytes(dst)[0] == layers_bytes(tiny_model)[0] > layers_bytes(dst)[1]
    with Runtime(dst, LoadOptions(n_ctx=128, n_batch=64, n_threads=2)) as rt:
        done = rt.generate(rt.tokenize("Hello! How are you?"), Sampling(temperature=0), 8)
    assert done.tokens > 0 or done.finish == "stop"


def test_perplexity_is_finite_above_one_and_deterministic(tiny_model: Path) -> None:
    first = perplexity(tiny_model, TEXT, n_ctx=64, max_tokens=300, threads=2)
    assert math.isfinite(first) and first > 1
    assert perplexity(tiny_model, TEXT, n_ctx=64, max_tokens=300, threads=2) == first


def test_bad_requests_raise_model_load_error(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelLoadError, match="does not exist"):
        requantize_layers(out / "missing.gguf", out / "out.gguf", [0], "q8_0")
    with pytest.raises(ModelLoadError, match="no layer 7"):
        requantize_layers(tiny_model, out / "out.gguf", [1, 7], "q8_0")
    with pytest.raises(ModelLoadError, match="Unknown quantisation"):
        requantize_layers(tiny_model, out / "out.gguf", [0], "q9_z")
    assert list(out.iterdir()) == []


@pytest.mark.skipif(not LOCOMO.is_file(), reason="the LoCoMo data set is not in /work/shared")
def test_locomo_text_is_speaker_lines_within_the_limit() -> None:
    text = locomo_text(LOCOMO, 2000)
    lines = text.splitlines()
    assert 0 < len(text) <= 2000 and len(lines) > 5
    assert all(": " in line and line.split(": ", 1)[0].strip() for line in lines)
    assert lines[0].startswith("Caroline: ")
    assert locomo_text(LOCOMO, 2000) == text and locomo_text(LOCOMO, 4000).startswith(text)
