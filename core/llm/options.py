"""How llama.cpp loads a model and sizes its context: options from the settings, and the
parameter structs built from them (shared by :class:`cairn.core.llm.runtime.Runtime` and the raw
baseline of ``cairn bench llm``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cairn.core.config import LlmSettings

KV_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}  # ggml type ids


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model (from :class:`cairn.core.config.LlmSettings`)."""

    n_ctx: int = 4096
    n_threads: int = 0  # 0: the machine's cores, at most 8
    n_batch: int = 512
    kv_type: str = "f16"
    use_mmap: bool = True
    use_mlock: bool = False
    gpu_layers: int = 0
    flash_attn: str = "auto"  # auto, on, off
    seed: int = 0
    repack: bool = False  # llama.cpp's extra weight buffers (repacked/AMX copies: unpageable RAM)

    @classmethod
    def from_settings(cls, s: LlmSettings) -> LoadOptions:
        return cls(s.n_ctx, s.n_threads, s.n_batch, s.kv_type, s.use_mmap, s.use_mlock, s.gpu_layers, s.flash_attn)


def model_params(options: LoadOptions) -> Any:
    """llama.cpp model parameters for ``options``: memory-mapped (pageable) weights by default,
    without the extra repacked copies (they cost unpageable RAM, and on this project's CI CPU the
    AMX copy crashes llama.cpp 0.3.36 with a segmentation fault)."""
    import llama_cpp as c

    params = c.llama_model_default_params()
    modes = {(True, False): c.LLAMA_LOAD_MODE_MMAP, (True, True): c.LLAMA_LOAD_MODE_MMAP_MLOCK,
             (False, True): c.LLAMA_LOAD_MODE_MLOCK, (False, False): c.LLAMA_LOAD_MODE_NONE}
    params.load_mode = modes[(options.use_mmap, options.use_mlock)]
    params.use_extra_bufts = options.repack
    params.n_gpu_layers = options.gpu_layers
    return params


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def context_params(c: Any, options: LoadOptions) -> Any:
    """llama.cpp context parameters for ``options``. Flash attention ``auto``: on for a quantised
    cache (its V cache needs it) and on a GPU; off on the CPU with an f16 cache, where it tripled
    the time to first token at 1.9k tokens of context on 2 cores (docs/benchmarks.md)."""
    p = c.llama_context_default_params()
    p.n_ctx, p.n_batch, p.n_ubatch = options.n_ctx, options.n_batch, options.n_batch
    p.n_threads = p.n_threads_batch = options.n_threads or default_threads()
    p.type_k = p.type_v = KV_TYPES[options.kv_type]
    auto = options.kv_type != "f16" or options.gpu_layers != 0
    p.flash_attn_type = {"auto": int(auto), "off": 0, "on": 1}[options.flash_attn]
    return p
