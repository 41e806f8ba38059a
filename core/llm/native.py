"""llama.cpp outside a conversation: build facts, the raw-API decode baseline of ``cairn bench
llm``, and re-quantisation."""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path
from typing import Any

from cairn.core.errors import ModelLoadError
from cairn.core.llm.modelfile import check_model_file
from cairn.core.llm.options import LoadOptions, context_params, default_threads, model_params
from cairn.core.llm.runtime import llama_log


def system_info() -> str:
    """The CPU features llama.cpp was built with and detected (AVX2, AVX512, ...)."""
    import llama_cpp

    flags = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return " ".join(part.split("=")[0].split(":")[-1].strip() for part in flags.split("|") if part.strip().endswith("= 1"))


def library_version() -> str:
    import llama_cpp

    return str(llama_cpp.__version__)


def raw_decode_speed(path: Path, options: LoadOptions, prompt: list[int], n: int) -> float:
    """Tokens/s of raw llama-cpp-python: its C API alone (``llama_batch_get_one``, ``llama_decode``,
    a greedy sampler), with the same model and context parameters as :class:`Runtime`. The
    baseline ``cairn bench llm`` compares against, in the same process."""
    import llama_cpp as c

    model = c.llama_model_load_from_file(str(path).encode(), model_params(options))
    ctx = c.llama_init_from_model(model, context_params(c, options))
    sampler = c.llama_sampler_chain_init(c.llama_sampler_chain_default_params())
    c.llama_sampler_chain_add(sampler, c.llama_sampler_init_greedy())
    try:
        first = (c.llama_token * len(prompt))(*prompt)  # kept alive while the batch points at it
        if c.llama_decode(ctx, c.llama_batch_get_one(first, len(prompt))) != 0:
            raise ModelLoadError("llama.cpp failed to evaluate the baseline's prompt.")
        token = (c.llama_token * 1)()
        start = time.perf_counter()
        for _ in range(n):
            token[0] = c.llama_sampler_sample(sampler, ctx, -1)
            c.llama_decode(ctx, c.llama_batch_get_one(token, 1))
        return n / (time.perf_counter() - start)
    finally:
        c.llama_sampler_free(sampler)
        c.llama_free(ctx)
        c.llama_model_free(model)


QUANTS = {"q4_k_m": 15, "q4_k_s": 14, "q5_k_m": 17, "q8_0": 7, "q6_k": 18, "q5_0": 8, "q4_0": 2, "q4_1": 3,
          "q3_k_m": 12, "q3_k_s": 11, "q2_k": 10}  # llama_ftype values


def quantize(src: Path, dst: Path, kind: str = "q4_k_m", threads: int = 0) -> Path:
    """Re-quantize a GGUF with llama.cpp (``gguf`` cannot write K-quants). Atomic: a temporary
    file is renamed into place only when llama.cpp succeeded."""
    import llama_cpp

    if kind not in QUANTS:
        raise ModelLoadError(f"Unknown quantisation {kind!r}: use one of {', '.join(QUANTS)}.")
    check_model_file(src)
    llama_log()
    chatty = logging.getLogger("cairn.llm.llama_cpp")  # a line per tensor that falls back to another type
    level = chatty.level
    chatty.setLevel(max(level, logging.ERROR))
    try:
        return _quantize(llama_cpp, src, dst, kind, threads)
    finally:
        chatty.setLevel(level)


def _quantize(llama_cpp: Any, src: Path, dst: Path, kind: str, threads: int) -> Path:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[kind]
    params.allow_requantize = True
    params.nthread = threads or default_threads()
    tmp = dst.with_name(dst.name + ".part")
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if status != 0:
        tmp.unlink(missing_ok=True)
        raise ModelLoadError(f"llama.cpp could not quantize {src} to {kind}: {llama_log().last_error()}.")
    os.replace(tmp, dst)
    return dst
