"""Fit a model to RAM: requantize the transformer layers that would not stay resident to a smaller
type, keep every other tensor byte for byte, and measure what that costs (perplexity).

llama.cpp's quantizer (:func:`cairn.core.llm.native.quantize`) decides the new tensors' types, as
it would for a whole model of that kind (K-quants fall back to another type for rows that are not
a multiple of 256). Its per-tensor override (``tensor_types``) is a C++ vector, out of reach of
ctypes, so the whole model is quantized into a temporary file, and the result is assembled with
``gguf``: the source's metadata, then each tensor's raw bytes from the requantized file (layers
asked for) or from the source (the other layers, embeddings, norms, output). Both files are read
through ``gguf.GGUFReader``'s memory maps, one tensor at a time, as ``gguf_new_metadata.py`` does.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.errors import InvalidInput, ModelLoadError
from cairn.core.llm import native
from cairn.core.llm.gguf_header import read_header
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import CONVERSATION, Runtime

log = logging.getLogger(__name__)

_WINDOW_PIECE = 128  # tokens decoded at a time when scoring (bounds the logits held in memory)


@dataclass(frozen=True)
class FitResult:
    """What :func:`requantize_layers` wrote."""

    src_bytes: int
    dst_bytes: int
    layers: tuple[int, ...]
    kind: str
    seconds: float


def layers_bytes(path: Path) -> dict[int, int]:
    """Bytes of each transformer layer's tensors (``blk.N.*``), from the header alone."""
    out: dict[int, int] = {}
    for t in read_header(path).tensors:
        if t.layer is not None:
            out[t.layer] = out.get(t.layer, 0) + t.n_bytes
    return dict(sorted(out.items()))


def requantize_layers(src: Path, dst: Path, layers: Iterable[int], kind: str, threads: int = 0) -> FitResult:
    """Write ``dst``: ``src`` with the tensors of ``layers`` requantized to ``kind`` (a key of
    :data:`cairn.core.llm.native.QUANTS`) and every other tensor and metadata item unchanged
    (``general.file_type`` keeps the source's value). Atomic: ``dst`` appears only complete. Needs
    room in ``dst``'s folder for a whole quantized copy of the model besides ``dst`` (removed after)."""
    started = time.perf_counter()
    chosen = _check_request(src, layers, kind)
    whole = dst.with_name(dst.name + f".{kind}.tmp")
    part = dst.with_name(dst.name + ".part")
    try:
        native.quantize(src, whole, kind, threads)
        _assemble(src, whole, part, chosen)
        os.replace(part, dst)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not write the requantized model {dst}: {exc}.") from exc
    finally:
        part.unlink(missing_ok=True)
        whole.unlink(missing_ok=True)
    result = FitResult(src.stat().st_size, dst.stat().st_size, tuple(sorted(chosen)), kind,
                       time.perf_counter() - started)
    log.info("requantized %d layers of %s to %s: %d -> %d bytes in %.1f s", len(chosen), src.name, kind,
             result.src_bytes, result.dst_bytes, result.seconds)
    return result


def _check_request(src: Path, layers: Iterable[int], kind: str) -> set[int]:
    """The layers asked for, checked against the model (ModelLoadError if any is not one of it)."""
    if kind not in native.QUANTS:
        raise ModelLoadError(f"Unknown quantisation {kind!r}: use one of {', '.join(native.QUANTS)}.")
    if not src.is_file():
        raise ModelLoadError(f"The model file {src} does not exist.", hint="Check the path, or download it again.")
    present = set(layers_bytes(src))
    chosen = set(layers)
    if not chosen:
        raise ModelLoadError("No layers to requantize were given.")
    unknown = sorted(chosen - present)
    if unknown:
        raise ModelLoadError(f"The model {src.name} has no layer {unknown[0]} (it has layers "
                             f"0..{max(present, default=-1)}).")
    return chosen


def _assemble(src: Path, requantized: Path, out: Path, layers: set[int]) -> None:
    """Write ``out``: metadata and tensor order of ``src``; the tensors of ``layers`` from
    ``requantized``, the others from ``src``, copied raw from the memory maps."""
    import gguf

    source, quantized = gguf.GGUFReader(src, "r"), gguf.GGUFReader(requantized, "r")
    replaced = {t.name: t for t in quantized.tensors}
    tensors = []
    for t in source.tensors:
        layer = _layer(t.name)
        if layer is not None and layer in layers and t.name not in replaced:
            raise ModelLoadError(f"llama.cpp's quantized copy of {src.name} lacks the tensor {t.name!r}.")
        tensors.append(replaced[t.name] if layer is not None and layer in layers else t)
    arch = source.get_field(gguf.Keys.General.ARCHITECTURE)
    writer = gguf.GGUFWriter(out, arch=arch.contents() if arch else "llama", endianess=source.endianess)
    alignment = source.get_field(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = int(alignment.contents())
    _copy_metadata(source, writer)
    for t in tensors:
        writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in tensors:
        writer.write_tensor_data(t.data, tensor_endianess=source.endianess)
    writer.close()


def _copy_metadata(reader: Any, writer: Any) -> None:
    """Every key/value of ``reader`` but the ones the writer makes itself (as gguf_new_metadata.py)."""
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else None


def perplexity(path: Path, text: str, n_ctx: int = 512, max_tokens: int = 4096, threads: int = 0) -> float:
    """Perplexity of the model at ``path`` on ``text`` (its first ``max_tokens`` tokens), in
    non-overlapping windows of ``n_ctx`` tokens: each window starts from an empty cache, its first
    token is context only, every later token is scored. exp(mean negative log-likelihood)."""
    options = LoadOptions(n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads)
    with Runtime(path, options) as rt:
        tokens = rt.tokenize(text, special=False)[:max_tokens]
        if len(tokens) < 2:
            raise InvalidInput("The text is too short to measure perplexity (fewer than 2 tokens).")
        total, count = 0.0, 0
        for start in range(0, len(tokens), n_ctx):
            window = tokens[start:start + n_ctx]
            if len(window) >= 2:
                total += _window_nll(rt, window)
                count += len(window) - 1
    return math.exp(total / count)


def _window_nll(rt: Runtime, window: list[int]) -> float:
    """Sum of -ln p(token | the window's tokens before it), decoded from an empty cache."""
    rt.kv_clear(CONVERSATION)
    total = 0.0
    try:
        for offset in range(0, len(window), _WINDOW_PIECE):
            piece = window[offset:offset + _WINDOW_PIECE]
            rows = rt.decode(piece, offset, CONVERSATION, logits="all").astype(np.float64)
            targets = window[offset + 1:offset + 1 + len(piece)]
            rows = rows[:len(targets)]
            top = rows.max(axis=1)
            logz = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
            total += float((logz - rows[np.arange(len(targets)), targets]).sum())
    finally:
        rt.kv_clear(CONVERSATION)
    return total


def locomo_text(path: Path, limit_chars: int) -> str:
    """The conversations of a LoCoMo JSON file (a list of samples, each ``conversation`` holding
    ``session_N`` lists of turns) as ``Speaker: text`` lines, in order, at most ``limit_chars``."""
    try:
        samples = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"Cannot read the LoCoMo file {path}: {exc}.") from exc
    lines: list[str] = []
    size = 0
    for line in _locomo_lines(samples):
        if size + len(line) + 1 > limit_chars:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def _locomo_lines(samples: Any) -> Iterable[str]:
    for sample in samples if isinstance(samples, list) else []:
        conversation = sample.get("conversation", {}) if isinstance(sample, dict) else {}
        sessions = sorted((int(m.group(1)), key) for key in conversation
                          if (m := re.fullmatch(r"session_(\d+)", key)))
        for _, key in sessions:
            for turn in conversation[key]:
                if isinstance(turn, dict) and turn.get("speaker") and turn.get("text"):
                    yield f"{turn['speaker']}: {' '.join(str(turn['text']).split())}"
