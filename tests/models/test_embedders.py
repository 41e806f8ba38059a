"""Installing embedders: from a local folder, and pulled from a (local, fake) model hub."""

from pathlib import Path

import pytest

from cairn.core.errors import ModelLoadError
from cairn.core.memory.retrieval.onnx_embed import OnnxEmbedder
from cairn.models import embedders
from cairn.models.convert import convert_sentence_transformer
from cairn.models.tiny_bert import synthesize
from tests.conftest_http import Served, serve


def tiny_export(tmp_path: Path) -> Path:
    out = tmp_path / "export"
    convert_sentence_transformer(synthesize(tmp_path / "src"), out)
    return out


def test_import_dir_probes_dimension(tmp_path: Path) -> None:
    target = embedders.import_dir(tmp_path / "models", tiny_export(tmp_path), "tiny", "test/tiny")
    e = OnnxEmbedder(target)
    assert (e.id, e.dim) == ("test/tiny", 32)
    with pytest.raises(ModelLoadError, match="does not hold model.onnx"):
        embedders.import_dir(tmp_path / "models", tmp_path, "x")


def test_failed_install_leaves_nothing(tmp_path: Path) -> None:
    src = tiny_export(tmp_path)
    (src / "model.onnx").write_bytes(b"broken")
    with pytest.raises(ModelLoadError):
        embedders.import_dir(tmp_path / "models", src, "tiny", "test/tiny")
    assert list((tmp_path / "models" / "embedders").iterdir()) == []


def test_pull_from_a_hub(tmp_path: Path) -> None:
    src = tiny_export(tmp_path)
    s = embedders.spec("all-minilm-l6-v2")
    base_path = f"/{s.hub['repo']}/resolve/{s.hub['revision']}"
    files = {f"{base_path}/onnx/model.onnx": (src / "model.onnx").read_bytes(),
             f"{base_path}/tokenizer.json": (src / "tokenizer.json").read_bytes()}
    with serve(Served(files)) as hub:
        # The catalog's MiniLM entry says 384 dimensions; the tiny model gives 32, so the
        # install must refuse it: the manifest is checked against the real model.
        with pytest.raises(ModelLoadError, match="vectors of size 32"):
            embedders.pull(tmp_path / "models", "all-minilm-l6-v2", base_url=hub)
    assert not (tmp_path / "models" / "embedders" / "all-minilm-l6-v2").exists()


def test_pull_minilm_from_a_hub(tmp_path: Path, models_cache: Path) -> None:
    real = models_cache / "embedders" / "all-minilm-l6-v2"
    s = embedders.spec("all-minilm-l6-v2")
    base_path = f"/{s.hub['repo']}/resolve/{s.hub['revision']}"
    files = {f"{base_path}/onnx/model.onnx": (real / "model.onnx").read_bytes(),
             f"{base_path}/tokenizer.json": (real / "tokenizer.json").read_bytes()}
    with serve(Served(files)) as hub:
        target = embedders.pull(tmp_path / "models", base_url=hub)
    assert OnnxEmbedder(target).id == "sentence-transformers/all-MiniLM-L6-v2"
    assert not (tmp_path / "models" / "downloads" / "all-minilm-l6-v2").exists()


def test_unknown_embedder_name() -> None:
    from cairn.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Unknown embedder"):
        embedders.spec("nope")
