"""The flash-aware loading plan (after "LLM in a flash"): from a GGUF header and the RAM this
process may use, decide how llama.cpp loads the model. Pure: no weights are read, nothing is
allocated, so every decision is testable from a header and a number.

Three outcomes:

- **resident**: weights, KV cache, compute buffers and the runtime fit. Memory-mapped weights
  (shared with the page cache, fast to start); llama.cpp's repacked copies only when asked for
  and they fit too (they are anonymous, unpageable memory).
- **stream**: they do not fit. The weights every token reads are split into a resident set,
  locked in RAM so the page cache can never evict it, and a streamed part read from disk each
  token through a window of two layers, prefetched ahead of compute and dropped behind it
  (:mod:`cairn.core.llm.streaming`). The page cache's LRU, left alone, evicts in a cyclic layer
  scan exactly the pages needed next, so plain mmap reads the whole file every token; the plan
  reads only the streamed part. Cheaper settings come first: a smaller batch (compute buffer),
  then a q8_0 KV cache, then a shorter context, each said in the plan's notes.
- **refused**: not even the KV cache, the runtime and a two-layer window fit; the error gives
  the numbers and the ways out (``cairn models fit``, a shorter context, a smaller model).

When the model streams, the plan also proposes a *fit*: requantize its first layers to a
smaller type so everything stays resident (``cairn models fit``), with the size it would reach.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.core.errors import ModelLoadError
from cairn.core.llm.gguf_header import Header, TensorInfo, read_header
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.ram import Ram

MiB = 1 << 20
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}  # bytes per cached element
RUNTIME_BYTES = 16 * MiB  # llama.cpp's state outside the model (what already runs is out of the RAM figure)
VOCAB_BYTES = 320  # llama.cpp's tokenizer tables per vocabulary entry (measured: 38 MB for 128k)
USABLE = 0.95  # of the available RAM; the rest is left to the allocator and the kernel
STREAM_BATCH = 64  # batch (ubatch) size under memory pressure: a small compute buffer
MIN_CTX = 2048  # the shortest context the plan shrinks to on its own
WINDOW = 2  # streamed layers in RAM at once: the one computing and the one being read
FIT_KINDS = (("q4_0", 4.5), ("q3_k_m", 3.9), ("q2_k", 3.0))  # llama.cpp ftypes, bits per weight with their mixes


@dataclass(frozen=True)
class Model:
    """What the plan needs from a GGUF header."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_vocab: int
    n_ff: int
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    kv_width: int  # n_embd_k_gqa + n_embd_v_gqa

    @classmethod
    def from_header(cls, h: Header) -> Model:
        n_embd, n_head = int(h.arch("embedding_length") or 0), int(h.arch("attention.head_count") or 1)
        n_head_kv = int(h.arch("attention.head_count_kv") or n_head)
        head_k = int(h.arch("attention.key_length") or n_embd // max(n_head, 1))
        head_v = int(h.arch("attention.value_length") or head_k)
        vocab = h.get("tokenizer.ggml.tokens")
        n_vocab = vocab[2] if isinstance(vocab, tuple) else int(h.arch("vocab_size") or 0)
        ff = h.arch("feed_forward_length") or 0
        return cls(int(h.arch("block_count") or 0), n_embd, n_head, n_head_kv, n_vocab,
                   int(ff if not isinstance(ff, tuple) else 0), tuple(h.tensors), h.data_offset,
                   n_head_kv * (head_k + head_v))

    @property
    def weights(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    def output_head(self) -> str:
        """The tensor the last matmul reads in full every token (token_embd when tied)."""
        names = {t.name for t in self.tensors}
        return "output.weight" if "output.weight" in names else "token_embd.weight"

    def per_token(self) -> list[TensorInfo]:
        """Tensors read in full for every token: all but an untied token_embd (rows only)."""
        head = self.output_head()
        return [t for t in self.tensors if t.name != "token_embd.weight" or head == "token_embd.weight"]

    def layer_bytes(self, layer: int) -> int:
        return sum(t.n_bytes for t in self.tensors if t.layer == layer)


@dataclass(frozen=True)
class Costs:
    """Bytes the plan counts besides the weights."""

    kv: int
    compute: int
    runtime: int

    @property
    def total(self) -> int:
        return self.kv + self.compute + self.runtime


@dataclass(frozen=True)
class Fit:
    """A proposed requantization: ``layers`` to ``kind``, and the model size it leads to."""

    kind: str
    layers: tuple[int, ...]
    size: int
    fits: bool


@dataclass(frozen=True)
class LoadPlan:
    mode: str  # resident | stream
    n_ctx: int
    kv_type: str
    n_batch: int
    repack: bool
    weights: int
    costs: Costs
    ram: Ram
    resident: tuple[tuple[int, int], ...] = ()  # file byte ranges kept in RAM (stream mode)
    units: tuple[tuple[tuple[int, int], ...], ...] = ()  # per layer (and the output head last): streamed ranges
    lock: bool = False
    fit: Fit | None = None
    notes: tuple[str, ...] = ()
    resident_names: tuple[str, ...] = field(default=(), repr=False)

    @property
    def streaming(self) -> bool:
        return self.mode == "stream"

    @property
    def resident_bytes(self) -> int:
        return sum(e - s for s, e in self.resident)

    @property
    def streamed_bytes(self) -> int:
        return sum(e - s for unit in self.units for s, e in unit)

    def options(self, base: LoadOptions) -> LoadOptions:
        """``base`` with what the plan chose. Streaming needs the memory map (the page cache is what
        streams) and no whole-model lock; a resident model keeps the settings' choice of both."""
        return dataclasses.replace(base, n_ctx=self.n_ctx, kv_type=self.kv_type, n_batch=self.n_batch,
                                   repack=self.repack, use_mmap=base.use_mmap or self.streaming,
                                   use_mlock=base.use_mlock and not self.streaming)

    def to_dict(self) -> dict[str, Any]:
        mb = _mib
        return {"mode": self.mode, "n_ctx": self.n_ctx, "kv_type": self.kv_type, "n_batch": self.n_batch,
                "repack": self.repack, "weights_mb": mb(self.weights), "kv_mb": mb(self.costs.kv),
                "compute_mb": mb(self.costs.compute), "runtime_mb": mb(self.costs.runtime),
                "available_mb": mb(self.ram.available), "ram_source": self.ram.source,
                "resident_mb": mb(self.resident_bytes) if self.streaming else mb(self.weights),
                "streamed_mb_per_token": mb(self.streamed_bytes), "lock": self.lock,
                "streamed_layers": [i for i, u in enumerate(self.units) if u],
                "fit": dataclasses.asdict(self.fit) | {"size_mb": mb(self.fit.size)} if self.fit else None,
                "notes": list(self.notes)}


def _mib(n: int) -> float:
    return round(n / MiB, 1)


def costs(m: Model, n_ctx: int, kv_type: str, n_batch: int, flash: bool | None = None) -> Costs:
    """KV cache, compute buffer and runtime. The compute buffer holds, at worst, a batch's logits or
    (without flash attention) its attention scores, whichever is larger: within 1 MiB of what
    llama.cpp reserved for Llama-1B and SmolLM2 shapes at 4 settings each."""
    kv = int(n_ctx * m.n_layer * m.kv_width * KV_BYTES[kv_type])
    flash = kv_type != "f16" if flash is None else flash
    scores = 0 if flash else n_ctx * m.n_head
    compute = 4 * n_batch * (max(m.n_vocab, scores) + 4 * m.n_embd + 2 * m.n_ff) + 4 * MiB
    return Costs(kv, compute, RUNTIME_BYTES + VOCAB_BYTES * m.n_vocab)


def _settings_steps(want: LoadOptions) -> list[tuple[int, str, int, str]]:
    """(n_ctx, kv_type, n_batch, note) from the requested settings to the cheapest the plan accepts."""
    steps = [(want.n_ctx, want.kv_type, want.n_batch, "")]
    batch = min(want.n_batch, STREAM_BATCH)
    if batch < want.n_batch:
        steps.append((want.n_ctx, want.kv_type, batch, f"batch {want.n_batch} -> {batch} (a smaller compute buffer)"))
    kv = "q8_0" if want.kv_type == "f16" else want.kv_type
    if kv != want.kv_type:
        steps.append((want.n_ctx, kv, batch, f"KV cache {want.kv_type} -> {kv} (half the memory, near-lossless)"))
    n_ctx = want.n_ctx
    while n_ctx // 2 >= MIN_CTX:
        n_ctx //= 2
        steps.append((n_ctx, kv, batch, f"context {want.n_ctx} -> {n_ctx} tokens"))
    return steps


def plan(m: Model, ram: Ram, want: LoadOptions, lock_limit: int | None = None) -> LoadPlan:
    """Choose how to load ``m`` with ``ram`` available; ModelLoadError with the numbers when nothing fits.
    ``lock_limit``: bytes this process may mlock (None: unlimited)."""
    usable = int(ram.available * USABLE)
    steps = _settings_steps(want)
    for i, (n_ctx, kv, batch, _) in enumerate(steps):
        c = costs(m, n_ctx, kv, batch)
        if m.weights + c.total <= usable:
            repack = want.repack and 2 * m.weights + c.total <= usable
            return LoadPlan("resident", n_ctx, kv, batch, repack, m.weights, c, ram, notes=_notes(steps, i))
    window = WINDOW * max((m.layer_bytes(i) for i in range(m.n_layer)), default=0)
    small = sum(t.n_bytes for t in m.tensors if _vector(t))
    first = max(i for i, s in enumerate(steps) if s[0] == want.n_ctx)  # streaming keeps the context if it can
    for i in range(first, len(steps)):
        c = costs(m, *steps[i][:3])
        room = usable - c.total - window
        if room >= small:
            return _stream_plan(m, ram, steps[i][:3], c, room, lock_limit, _notes(steps, i))
    c = costs(m, *steps[-1][:3])
    raise ModelLoadError(
        f"This model cannot run in {ram.available / MiB:.0f} MiB of RAM ({ram.source}): even streaming its weights "
        f"needs {(c.total + window) / MiB:.0f} MiB (KV cache {c.kv / MiB:.0f}, compute {c.compute / MiB:.0f}, "
        f"runtime {c.runtime / MiB:.0f}, a window of {WINDOW} layers {window / MiB:.0f}).",
        hint="Close other programs, use a smaller model or a shorter context (llm.n_ctx), or requantize it "
             "smaller with `cairn models fit`.")


def _notes(steps: list[tuple[int, str, int, str]], upto: int) -> tuple[str, ...]:
    return tuple(s[3] for s in steps[1:upto + 1] if s[3])


def _stream_plan(m: Model, ram: Ram, chosen: tuple[int, str, int], c: Costs, room: int,
                 lock_limit: int | None, notes: tuple[str, ...]) -> LoadPlan:
    """Fill the resident set (norms and biases, then layers from the first, then the output head) up to
    ``room`` bytes; everything else read per token is streamed, grouped by layer."""
    resident: list[TensorInfo] = [t for t in m.tensors if _vector(t)]
    used = sum(t.n_bytes for t in resident)
    head = m.output_head()
    order = sorted((t for t in m.per_token() if not _vector(t)),
                   key=lambda t: (t.layer if t.layer is not None else m.n_layer, t.offset))
    streamed: list[TensorInfo] = []
    for t in order:
        if not streamed and used + t.n_bytes <= room:
            resident.append(t)
            used += t.n_bytes
        else:
            streamed.append(t)
    units: list[list[tuple[int, int]]] = [[] for _ in range(m.n_layer + 1)]
    for t in streamed:
        index = t.layer if t.layer is not None and t.name != head else m.n_layer
        units[index].append((m.data_offset + t.offset, m.data_offset + t.offset + t.n_bytes))
    lock = lock_limit is None or lock_limit >= used
    if not lock:
        notes += (f"the resident set ({used / MiB:.0f} MiB) is over the mlock limit ({(lock_limit or 0) / MiB:.0f} MiB): "
                  "it is kept by prefetching instead, which the kernel may still evict",)
    n_ctx, kv, batch = chosen
    return LoadPlan("stream", n_ctx, kv, batch, False, m.weights, c, ram,
                    resident=tuple(_merge([(m.data_offset + t.offset, m.data_offset + t.offset + t.n_bytes)
                                           for t in resident])),
                    units=tuple(tuple(_merge(u)) for u in units), lock=lock,
                    fit=propose_fit(m, ram, c), notes=notes,
                    resident_names=tuple(t.name for t in resident))


def _vector(t: TensorInfo) -> bool:
    """Norms and biases: one dimension, tiny, always resident."""
    return sum(1 for d in t.shape if d > 1) <= 1


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def propose_fit(m: Model, ram: Ram, c: Costs) -> Fit | None:
    """The fewest layers (from the first) to requantize, at the best-quality smaller type, for the
    whole model to stay resident; else every layer at the smallest type (which streams less). Early
    layers first: on SmolLM2, q4_0 on layers 0-14 raised LoCoMo perplexity 14.27 -> 14.89, on
    layers 15-29 -> 16.35 (docs/benchmarks.md, 2026-12-04)."""
    usable = int(ram.available * USABLE)
    best: Fit | None = None
    for kind, bits in FIT_KINDS:
        size = m.weights
        for layer in range(m.n_layer):
            tensors = [t for t in m.tensors if t.layer == layer]
            size += int(sum(_elements(t.shape) for t in tensors) * bits / 8) - sum(t.n_bytes for t in tensors)
            if size + c.total <= usable:
                return Fit(kind, tuple(range(layer + 1)), size, True)
        if best is None or size < best.size:
            best = Fit(kind, tuple(range(m.n_layer)), size, False)
    return best if best is not None and best.size < m.weights else None


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def describe(p: LoadPlan) -> list[str]:
    """The plan in words, for ``cairn models plan``."""
    d = p.to_dict()
    lines = [f"RAM: {d['available_mb']:.0f} MiB available ({p.ram.source})",
             f"weights {d['weights_mb']:.0f} MiB, KV cache {d['kv_mb']:.0f} MiB ({p.kv_type}, {p.n_ctx} tokens), "
             f"compute {d['compute_mb']:.0f} MiB (batch {p.n_batch}), runtime {d['runtime_mb']:.0f} MiB"]
    if p.streaming:
        lines.append(f"plan: stream. {d['resident_mb']:.0f} MiB of weights stay resident"
                     f" ({'locked' if p.lock else 'not locked'}), {d['streamed_mb_per_token']:.0f} MiB are read"
                     f" per token ({_units(d['streamed_layers'], len(p.units) - 1)}) through a {WINDOW}-layer window")
    else:
        lines.append(f"plan: resident (memory-mapped{', repacked' if p.repack else ''}): everything fits")
    lines += [f"changed: {n}" for n in p.notes]
    if p.fit:
        verb = "would fit entirely" if p.fit.fits else "would still stream, less"
        lines.append(f"fit option: requantize layers {_ranges(list(p.fit.layers))} to {p.fit.kind}: "
                     f"{p.fit.size / MiB:.0f} MiB, {verb} (`cairn models fit`)")
    return lines


def _units(values: list[int], head: int) -> str:
    layers = [v for v in values if v != head]
    parts = ([f"layers {_ranges(layers)}"] if layers else []) + (["the output head"] if head in values else [])
    return " and ".join(parts) or "nothing"


def _ranges(values: list[int]) -> str:
    if not values:
        return "none"
    return f"{values[0]}-{values[-1]}" if values == list(range(values[0], values[-1] + 1)) else ", ".join(map(str, values))


def plan_file(path: Path, want: LoadOptions, ram: Ram | None = None) -> LoadPlan:
    """The plan for the GGUF at ``path`` with this process's RAM (or ``ram``) and mlock limit."""
    from cairn.core.llm import ram as ram_probe

    return plan(Model.from_header(read_header(path)), ram or ram_probe.probe(), want, ram_probe.lock_limit())


def budget(limit_mb: int = 0, source: str = "llm.ram_limit_mb") -> Ram | None:
    """The RAM to plan for: this process's (None: probe it), capped by a ``limit_mb`` setting."""
    if limit_mb <= 0:
        return None
    from cairn.core.llm import ram as ram_probe

    found = ram_probe.probe()
    if limit_mb * MiB < found.available:
        return Ram(limit_mb * MiB, f"{source} = {limit_mb}", limit_mb * MiB)
    return found
