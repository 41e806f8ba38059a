"""The ONNX embedder's bad inputs: missing, truncated or corrupt files, a mismatched tokenizer."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cairn.core.config import from_mapping
from cairn.core.errors import ModelLoadError
from cairn.core.memory.retrieval.embed import HashingEmbedder, make_embedder
from cairn.core.memory.retrieval.onnx_embed import Manifest, OnnxEmbedder
from cairn.models.convert import convert_sentence_transformer
from cairn.models.tiny_bert import synthesize


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    out = tmp_path / "tiny-onnx"
    convert_sentence_transformer(synthesize(tmp_path / "tiny-src"), out)
    Manifest("test/tiny-bert", 32, 32).write(out)
    return out


def test_tiny_model_embeds(tiny: Path) -> None:
    e = OnnxEmbedder(tiny, threads=1, batch_size=2)
    v = e.embed(["the cat", "my sister went to the park at night", "a"])
    assert v.shape == (3, 32) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert np.allclose(v[1], e.embed(["my sister went to the park at night"])[0], atol=1e-6)  # batching is exact


def test_missing_files(tiny: Path) -> None:
    (tiny / "model.onnx").unlink()
    with pytest.raises(ModelLoadError, match="model.onnx is missing"):
        OnnxEmbedder(tiny)
    (tiny / "embedder.json").unlink()
    with pytest.raises(ModelLoadError, match="has no embedder.json"):
        OnnxEmbedder(tiny)


def test_truncated_or_corrupt_model(tiny: Path) -> None:
    data = (tiny / "model.onnx").read_bytes()
    (tiny / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="damaged or truncated"):
        OnnxEmbedder(tiny)
    (tiny / "model.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="damaged or truncated"):
        OnnxEmbedder(tiny)


def test_corrupt_tokenizer_and_manifest(tiny: Path) -> None:
    (tiny / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="tokenizer .* is damaged"):
        OnnxEmbedder(tiny)
    (tiny / "embedder.json").write_text(json.dumps({"dim": "x"}))
    with pytest.raises(ModelLoadError, match="manifest .* is damaged"):
        OnnxEmbedder(tiny)


def test_tokenizer_from_another_model(tiny: Path, tmp_path: Path) -> None:
    other = synthesize(tmp_path / "bigger-vocab", extra_vocab=500)
    shutil.copy(other / "tokenizer.json", tiny / "tokenizer.json")
    with pytest.raises(ModelLoadError, match="does not match its model"):
        OnnxEmbedder(tiny)


def test_manifest_dimension_must_match(tiny: Path) -> None:
    Manifest("test/tiny-bert", 64).write(tiny)
    with pytest.raises(ModelLoadError, match="vectors of size 32"):
        OnnxEmbedder(tiny)


def test_auto_falls_back_to_hashing_only_when_nothing_is_installed(tmp_path: Path, models_cache: Path) -> None:
    settings = from_mapping({"memory": {"embedder": "auto"}})
    assert make_embedder(settings, models_cache).id == "sentence-transformers/all-MiniLM-L6-v2"
    broken = tmp_path / "models"
    shutil.copytree(models_cache, broken)
    (broken / "embedders" / "all-minilm-l6-v2" / "model.onnx").write_bytes(b"truncated")
    with pytest.raises(ModelLoadError):
        make_embedder(settings, broken)  # a broken install is an error, never a silent fallback
    assert isinstance(make_embedder(from_mapping({"memory": {"embedder": "hashing"}}), models_cache), HashingEmbedder)


GUARD = """
import socket, sys
def refuse(*a, **k):
    raise RuntimeError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
from pathlib import Path
from cairn.core.memory.retrieval.onnx_embed import OnnxEmbedder
v = OnnxEmbedder(Path(sys.argv[1])).embed(["offline and private"])
assert v.shape == (1, 384)
assert "torch" not in sys.modules, "PyTorch was imported"
print("ok")
"""


def test_runs_with_no_network_and_no_pytorch(models_cache: Path) -> None:
    folder = models_cache / "embedders" / "all-minilm-l6-v2"
    out = subprocess.run([sys.executable, "-c", GUARD, str(folder)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
