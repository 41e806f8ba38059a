"""The LLM runtime: llama.cpp through llama-cpp-python's C API. The only module importing llama_cpp.

One :class:`Runtime` owns one model and one context (and their native memory): call
:meth:`Runtime.close` or use ``with``; nothing relies on ``__del__``. The high-level ``Llama``
object is not used: it keeps its own token list and logits matrix that would have to be kept in
step with every cache edit, and it hides what Cairn needs (per-sequence state, the memory
operations, which weight buffers to use).

Sequence 0 holds the conversation; sequence 1 is scratch space for scoring texts (surprisal)
without touching the conversation's cache. llama.cpp's log lines go to the ``logging`` module.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.errors import ContextFullError, ModelLoadError
from cairn.core.llm.loading import LoadPlan
from cairn.core.llm.modelfile import check_memory, check_model_file, model_digest
from cairn.core.llm.options import KV_TYPES, LoadOptions, context_params, model_params
from cairn.core.llm.sampling import Completion, Sampling
from cairn.core.llm.streaming import Streamer

log = logging.getLogger("cairn.llm.llama_cpp")
CONVERSATION, SCRATCH = 0, 1
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}  # ggml_log_level


class _LogRouter:
    """Routes llama.cpp's process-wide log callback into ``logging`` and keeps the last error lines
    (a failed load explains itself there). One per process: llama.cpp has a single callback."""

    def __init__(self) -> None:
        import llama_cpp

        self.recent: list[str] = []
        self._level = logging.INFO

        def on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", "replace").rstrip("\n")
            self._level = _LEVELS.get(level, self._level)  # 5 = continuation of the previous line
            if line:
                log.log(self._level, "%s", line)
                self.recent = (self.recent + [line])[-20:]

        self._callback = llama_cpp.llama_log_callback(on_log)  # kept alive as long as the router
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def last_error(self) -> str:
        errors = [line for line in self.recent if "error" in line.lower() or "failed" in line.lower()]
        return (errors or self.recent or ["no detail"])[-1].strip()


_router: _LogRouter | None = None


def llama_log() -> _LogRouter:
    global _router  # the C library's callback is process-wide; so is its router
    if _router is None:
        _router = _LogRouter()
    return _router


def _ggml_library() -> Path:
    """ggml's base library as llama-cpp-python ships it (it names graph nodes: ``ggml_get_name``)."""
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(folder.glob("libggml-base.*")) or sorted(folder.glob("ggml-base.*"))
    if not found:
        raise ModelLoadError(f"llama-cpp-python's ggml library is not in {folder}: weights cannot be streamed.",
                             hint="Set llm.load_plan = plain, or reinstall llama-cpp-python.")
    return found[0]


class Runtime:
    """A loaded model and its context. Positions, tokens and logits are those of llama.cpp."""

    def __init__(self, path: Path, options: LoadOptions = LoadOptions(), plan: LoadPlan | None = None) -> None:
        """Load ``path``; with a flash-aware ``plan`` (:mod:`cairn.core.llm.loading`) its settings win
        and, when it streams, a :class:`Streamer` locks the resident set and prefetches the rest."""
        import llama_cpp

        self._c = llama_cpp
        self.path, self.plan = path, plan
        self.options = options = plan.options(options) if plan else options
        size = check_model_file(path)
        if plan is None:
            check_memory(size, options)
        llama_log()
        llama_cpp.llama_backend_init()
        self._model = self._load_model(path, options)
        self.streamer: Streamer | None = None
        try:
            if plan and plan.streaming and sys.platform.startswith("linux"):  # it reads /proc/self/maps
                self.streamer = Streamer(path, plan, llama_cpp.ggml_backend_sched_eval_callback, _ggml_library())
                self.streamer.attach()
            self._ctx = self._new_context(options)
        except ModelLoadError:
            self._free_model()
            raise
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx))
        self.n_batch = int(llama_cpp.llama_n_batch(self._ctx))
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._closed = False

    def _load_model(self, path: Path, options: LoadOptions) -> Any:
        params = model_params(options)
        model = self._c.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise ModelLoadError(f"llama.cpp could not load {path}: {llama_log().last_error()}.",
                                 hint="Check the file is a complete GGUF model of a supported architecture.")
        return model

    def _new_context(self, options: LoadOptions) -> Any:
        if options.kv_type not in KV_TYPES:
            raise ModelLoadError(f"Unknown KV cache type {options.kv_type!r}: use one of {', '.join(KV_TYPES)}.")
        p = context_params(self._c, options)
        p.n_seq_max, p.kv_unified = 2, True  # conversation + scratch, sharing one cache
        if self.streamer is not None and self.streamer.callback is not None:
            p.cb_eval = self.streamer.callback  # reports finished layers to the prefetch thread
        ctx = self._c.llama_init_from_model(self._model, p)
        if not ctx:
            raise ModelLoadError(f"llama.cpp could not create a context of {options.n_ctx} tokens: "
                                 f"{llama_log().last_error()}.", hint="Try a smaller llm.n_ctx.")
        return ctx

    def close(self) -> None:
        """Free the batch, the context and the model, in that order. Safe to call twice."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._c.llama_batch_free(self._batch)
        self._c.llama_free(self._ctx)
        self._free_model()

    def _free_model(self) -> None:
        if self.streamer is not None:  # its thread reads llama.cpp's mapping: stop it first
            self.streamer.close()
        self._c.llama_model_free(self._model)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- vocabulary -------------------------------------------------------------------------

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Token ids of ``text``; ``special`` parses control tokens such as <|im_start|>."""
        data = text.encode("utf-8")
        n = len(data) + 8
        buf = (self._c.llama_token * n)()
        got = self._c.llama_tokenize(self._vocab, data, len(data), buf, n, False, special)
        if got < 0:
            buf = (self._c.llama_token * -got)()
            got = self._c.llama_tokenize(self._vocab, data, len(data), buf, -got, False, special)
        return list(buf[:got])

    def piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._c.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._c.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    @functools.cached_property
    def digest(self) -> str:
        """The model file's identity for snapshots (computed once)."""
        return model_digest(self.path)

    @property
    def model_id(self) -> str:
        """The model file's name (what :class:`cairn.core.memory.retention.importance.TokenSurprisal` reports)."""
        return self.path.name

    def special_text(self, which: str) -> str:
        """The text of the ``bos`` or ``eos`` token ("" when the model has none)."""
        token = int((self._c.llama_vocab_bos if which == "bos" else self._c.llama_vocab_eos)(self._vocab))
        return self.piece(token, special=True).decode("utf-8", "replace") if token >= 0 else ""

    def is_end(self, token: int) -> bool:
        return bool(self._c.llama_vocab_is_eog(self._vocab, token))

    def metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self._c.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    # ---- evaluation -------------------------------------------------------------------------

    def decode(self, tokens: list[int], start: int, seq: int = CONVERSATION, logits: str = "last") -> np.ndarray:
        """Evaluate ``tokens`` at positions ``start``.. of ``seq``; return the logits of the last
        token (``"last"``, shape (1, vocab)), of every token (``"all"``) or none (``"none"``)."""
        if start + len(tokens) > self.n_ctx:
            raise ContextFullError(f"{start + len(tokens)} tokens do not fit the context window of {self.n_ctx}.",
                                   hint="Evict older tokens first, or use a larger llm.n_ctx.")
        rows: list[np.ndarray] = []
        for offset in range(0, len(tokens), self.n_batch):
            chunk = tokens[offset:offset + self.n_batch]
            final = offset + len(chunk) == len(tokens)
            last = len(chunk) - 1 if logits == "last" and final else -1
            self._fill(chunk, start + offset, seq, logits == "all", last)
            status = self._c.llama_decode(self._ctx, self._batch)
            if status == 1:
                raise ContextFullError("llama.cpp found no room in the KV cache for the batch.",
                                       hint="Evict older tokens first, or use a larger llm.n_ctx.")
            if status != 0:
                raise ModelLoadError(f"llama.cpp failed to evaluate a batch (status {status}): {llama_log().last_error()}.")
            if logits == "all":
                rows += [self._logits(i) for i in range(len(chunk))]
            elif last >= 0:
                rows.append(self._logits(last))
        if len(rows) == 1:
            return rows[0][None, :]
        return np.stack(rows) if rows else np.zeros((0, self.n_vocab), np.float32)

    def _fill(self, tokens: list[int], start: int, seq: int, every: bool, last: int) -> None:
        """Put ``tokens`` in the batch; logits for every row (``every``) or only row ``last``."""
        b = self._batch
        b.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            b.token[i] = token
            b.pos[i] = start + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = every or i == last

    def _logits(self, i: int) -> np.ndarray:
        ptr = self._c.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def token_surprisal(self, text: str) -> list[tuple[str, float]]:
        """(piece, bits) for each token of ``text`` under the model, on the scratch sequence."""
        tokens = self.tokenize(text, special=False)
        if not tokens:
            return []
        bos = int(self._c.llama_vocab_bos(self._vocab))
        context = [bos] if bos >= 0 else []
        self.kv_clear(SCRATCH)
        try:
            rows = self.decode(context + tokens, self.kv_pos_max(CONVERSATION) + 1, SCRATCH, logits="all")
        finally:
            self.kv_clear(SCRATCH)
        predicted = rows[: len(tokens)] if context else rows[:-1]
        targets = tokens if context else tokens[1:]
        logz = _logsumexp(predicted)
        bits = (logz - predicted[np.arange(len(targets)), targets]) / np.log(2.0)
        pieces = [self.piece(t).decode("utf-8", "replace") for t in targets]
        return list(zip(pieces, bits.astype(float).tolist(), strict=False))

    def choice(self, prompt: list[int], options: list[str]) -> list[float]:
        """Probabilities of each option's first token after ``prompt`` (renormalised over the
        options), evaluated on the scratch sequence: the conversation's cache is untouched."""
        firsts = [self.tokenize(o, special=True)[:1] for o in options]
        if any(not f for f in firsts):
            raise ValueError("every option needs at least one token")
        self.kv_clear(SCRATCH)
        try:
            row = self.decode(prompt, self.kv_pos_max(CONVERSATION) + 1, SCRATCH, logits="last")[-1]
        finally:
            self.kv_clear(SCRATCH)
        picked = np.array([row[f[0]] for f in firsts], dtype=np.float64)
        weights = np.exp(picked - picked.max())
        shares: list[float] = (weights / weights.sum()).tolist()
        return shares

    def likelihoods(self, head: list[int], bodies: list[list[int]], tail: list[int]) -> list[float]:
        """log p(``tail`` | ``head`` + body) for each of ``bodies``, in nats, on the scratch sequence:
        ``head`` is evaluated once and kept, each body and the tail after it; logits are taken only
        where they predict the tail. The conversation's cache is untouched."""
        if not tail or not all(bodies):
            raise ValueError("the tail and every body need at least one token")
        start = self.kv_pos_max(CONVERSATION) + 1
        self.kv_clear(SCRATCH)
        try:
            self.decode(head, start, SCRATCH, logits="none")
            at = start + len(head)
            out = []
            for body in bodies:
                self.kv_remove(SCRATCH, at, -1)
                first = self.decode(body, at, SCRATCH, logits="last")
                rest = self.decode(tail[:-1], at + len(body), SCRATCH, logits="all")
                rows = np.concatenate([first, rest]).astype(np.float64)
                out.append(float((rows[np.arange(len(tail)), tail] - _logsumexp(rows)).sum()))
            return out
        finally:
            self.kv_clear(SCRATCH)

    def complete(self, prompt: list[int], sampling: Sampling, max_tokens: int) -> str:
        """Generate after ``prompt`` on the scratch sequence (side tasks such as extracting facts);
        the conversation's cache is untouched."""
        return self.generate(prompt, sampling, max_tokens).text

    def generate(self, prompt: list[int], sampling: Sampling, max_tokens: int,
                 stop: tuple[str, ...] = (), cached: int = 0) -> Completion:
        """:meth:`complete` that also stops at any of ``stop`` (cut there) and says why it ended.
        ``cached``: the scratch sequence already holds that many of the prompt's first tokens
        (:func:`cairn.core.llm.prompt_cache.warm`)."""
        start = self.kv_pos_max(CONVERSATION) + 1
        cached = min(cached, len(prompt) - 1)
        if cached <= 0:
            self.kv_clear(SCRATCH)
        try:
            self.decode(prompt[max(cached, 0):], start + max(cached, 0), SCRATCH, logits="last")
            out, finish = self.sample_on(SCRATCH, start + len(prompt), sampling, max_tokens, stop)
        finally:
            self.kv_clear(SCRATCH)
        text = self.detokenize(out)
        for s in stop:
            text = text.split(s, 1)[0]
        return Completion(text, len(out), finish, len(prompt))

    def sample_on(self, seq: int, position: int, sampling: Sampling, max_tokens: int,
                  stop: tuple[str, ...] = ()) -> tuple[list[int], str]:
        """Tokens sampled after what ``seq`` holds up to ``position`` (the prompt is evaluated), each
        evaluated in turn, and why sampling ended: stop (end of turn), stop_sequence, length, context."""
        out: list[int] = []
        with Sampler(self, sampling) as sampler:
            for i in range(max_tokens):
                token = sampler.sample()
                if self.is_end(token) or position + i + 1 >= self.n_ctx:
                    return out, "stop" if self.is_end(token) else "context"
                out.append(token)
                if stop and any(s in self.detokenize(out[-8:]) for s in stop):
                    return out, "stop_sequence"
                self.decode([token], position + i, seq, logits="last")
        return out, "length"

    # ---- the KV cache -----------------------------------------------------------------------

    def _memory(self) -> Any:
        return self._c.llama_get_memory(self._ctx)

    def kv_pos_max(self, seq: int = CONVERSATION) -> int:
        """The last cached position of ``seq`` (-1 when empty)."""
        return int(self._c.llama_memory_seq_pos_max(self._memory(), seq))

    def kv_remove(self, seq: int, p0: int, p1: int) -> None:
        """Drop positions [p0, p1) of ``seq`` (p1 = -1: to the end)."""
        if not self._c.llama_memory_seq_rm(self._memory(), seq, p0, p1):
            raise ModelLoadError(f"llama.cpp could not remove positions {p0}..{p1} from its cache.")

    def kv_shift(self, seq: int, p0: int, p1: int, delta: int) -> None:
        """Move positions [p0, p1) of ``seq`` by ``delta`` (RoPE is re-rotated at the next decode)."""
        self._c.llama_memory_seq_add(self._memory(), seq, p0, p1, delta)

    def kv_clear(self, seq: int) -> None:
        self._c.llama_memory_seq_rm(self._memory(), seq, -1, -1)

    def can_shift(self) -> bool:
        return bool(self._c.llama_memory_can_shift(self._memory()))

    def state_get(self, seq: int = CONVERSATION) -> memoryview:
        """The cache of one sequence (restorable with :meth:`state_set`), without a copy."""
        size = int(self._c.llama_state_seq_get_size(self._ctx, seq))
        buf = (ctypes.c_uint8 * size)()
        written = int(self._c.llama_state_seq_get_data(self._ctx, buf, size, seq))
        return memoryview(buf).cast("B")[:written]

    def state_set(self, data: bytes | bytearray, seq: int = CONVERSATION) -> bool:
        """Load a sequence's cache saved by :meth:`state_get`; False if llama.cpp refused it.
        A ``bytearray`` is handed over without a copy."""
        self.kv_clear(seq)
        kind = ctypes.c_uint8 * len(data)
        buf = kind.from_buffer(data) if isinstance(data, bytearray) else kind.from_buffer_copy(data)
        return int(self._c.llama_state_seq_set_data(self._ctx, buf, len(data), seq)) > 0


def _logsumexp(rows: np.ndarray) -> np.ndarray:
    top = rows.max(axis=1)
    out: np.ndarray = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
    return out


class Sampler:
    """A llama.cpp sampler chain (grammar, top-k, top-p, temperature, then a draw). Owns native
    memory: call :meth:`close`."""

    def __init__(self, runtime: Runtime, s: Sampling = Sampling()) -> None:
        c = runtime._c
        self._c = c
        self._ctx = runtime._ctx
        self._chain = c.llama_sampler_chain_init(c.llama_sampler_chain_default_params())
        if s.grammar:
            grammar = c.llama_sampler_init_grammar(runtime._vocab, s.grammar.encode(), b"root")
            if not grammar:
                c.llama_sampler_free(self._chain)
                raise ModelLoadError("The output grammar does not parse (GBNF with a `root` rule expected).")
            c.llama_sampler_chain_add(self._chain, grammar)
        if s.repeat_penalty != 1.0:
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_penalties(
                runtime.n_vocab, s.repeat_last_n, s.repeat_penalty, 0.0, 0.0))
        if s.temperature <= 0:
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_greedy())
        else:
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_top_k(s.top_k))
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_top_p(s.top_p, 1))
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_temp(s.temperature))
            c.llama_sampler_chain_add(self._chain, c.llama_sampler_init_dist(s.seed))

    def sample(self) -> int:
        """A token from the logits of the last evaluated token (the chain accepts it)."""
        return int(self._c.llama_sampler_sample(self._chain, self._ctx, -1))

    def close(self) -> None:
        if self._chain:
            self._c.llama_sampler_free(self._chain)
            self._chain = None

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
