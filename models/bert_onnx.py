"""Build an ONNX graph of a BERT encoder straight from its weights, with the `onnx` package only.

No PyTorch: each layer is written out as ONNX operators (opset 17). Inputs and output follow the
Hugging Face ONNX exports (`input_ids`, `attention_mask`, `token_type_ids` ->
`last_hidden_state`), so the same runtime embedder serves converted and downloaded models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cairn.models.bert import MASK_VALUE, BertConfig, strip_prefix

OPSET = 17


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def dense(self, x: str, w: dict[str, np.ndarray], name: str) -> str:
        weight = self.const(f"{name}.weight_t", np.ascontiguousarray(w[f"{name}.weight"].T.astype(np.float32)))
        bias = self.const(f"{name}.bias", w[f"{name}.bias"].astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, w: dict[str, np.ndarray], name: str, eps: float) -> str:
        scale = self.const(f"{name}.weight", w[f"{name}.weight"].astype(np.float32))
        bias = self.const(f"{name}.bias", w[f"{name}.bias"].astype(np.float32))
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)


def build(weights: dict[str, np.ndarray], cfg: BertConfig, name: str = "bert-encoder") -> onnx.ModelProto:
    """The whole encoder as an ONNX model (float32)."""
    w = strip_prefix(weights)
    g = _Graph()
    x = _embeddings(g, w, cfg)
    bias = _mask_bias(g)
    for i in range(cfg.num_layers):
        x = _layer(g, w, f"encoder.layer.{i}", cfg, x, bias)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, cfg.hidden_size])
    graph = helper.make_graph(g.nodes, name, inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cairn")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _embeddings(g: _Graph, w: dict[str, np.ndarray], cfg: BertConfig) -> str:
    word = g.op("Gather", [g.const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"])
    types = g.op("Gather", [g.const("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]),
                            "token_type_ids"])
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("one_i64", np.array(1, dtype=np.int64))], axis=0)
    positions = g.op("Range", [g.const("zero_i64", np.array(0, dtype=np.int64)), seq_len, "one_i64"])
    pos = g.op("Gather", [g.const("position_embeddings", w["embeddings.position_embeddings.weight"]), positions])
    summed = g.op("Add", [g.op("Add", [word, types]), pos])
    return g.layer_norm(summed, w, "embeddings.LayerNorm", cfg.layer_norm_eps)


def _mask_bias(g: _Graph) -> str:
    """(1 - mask) * MASK_VALUE, shaped (batch, 1, 1, seq) to broadcast over heads and queries."""
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Unsqueeze", [mask, g.const("axes_1_2", np.array([1, 2], dtype=np.int64))])
    inverted = g.op("Sub", [g.const("one_f", np.array(1.0, dtype=np.float32)), mask])
    return g.op("Mul", [inverted, g.const("mask_value", np.array(MASK_VALUE, dtype=np.float32))])


def _layer(g: _Graph, w: dict[str, np.ndarray], p: str, cfg: BertConfig, x: str, bias: str) -> str:
    hd = cfg.hidden_size // cfg.num_heads
    split = g.const(f"{p}.split_shape", np.array([0, 0, cfg.num_heads, hd], dtype=np.int64))
    merge = g.const(f"{p}.merge_shape", np.array([0, 0, cfg.hidden_size], dtype=np.int64))

    def heads(t: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [t, split])], perm=perm)

    q = heads(g.dense(x, w, f"{p}.attention.self.query"), [0, 2, 1, 3])
    k = heads(g.dense(x, w, f"{p}.attention.self.key"), [0, 2, 3, 1])
    v = heads(g.dense(x, w, f"{p}.attention.self.value"), [0, 2, 1, 3])
    scale = g.const(f"{p}.scale", np.array(1.0 / math.sqrt(hd), dtype=np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
    ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
    attn = g.op("Add", [g.dense(ctx, w, f"{p}.attention.output.dense"), x])
    x = g.layer_norm(attn, w, f"{p}.attention.output.LayerNorm", cfg.layer_norm_eps)
    inner = g.dense(x, w, f"{p}.intermediate.dense")
    ff = g.dense(_gelu(g, inner), w, f"{p}.output.dense")
    return g.layer_norm(g.op("Add", [ff, x]), w, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def _gelu(g: _Graph, x: str) -> str:
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    if "gelu_sqrt2" not in {i.name for i in g.inits}:
        g.const("gelu_sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
        g.const("gelu_half", np.array(0.5, dtype=np.float32))
        g.const("gelu_one", np.array(1.0, dtype=np.float32))
    erf = g.op("Erf", [g.op("Div", [x, "gelu_sqrt2"])])
    return g.op("Mul", [g.op("Mul", [x, "gelu_half"]), g.op("Add", [erf, "gelu_one"])])
