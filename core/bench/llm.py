"""`cairn bench llm`: the runtime's speed against raw llama-cpp-python, in the same process.

Without ``--model``, a random-weight model of a real shape is synthesized (speed does not depend
on weight values) and cached. Figures:

* decode tokens/s through Cairn's session vs raw llama-cpp-python (``Llama.eval`` one token at a
  time, the same greedy loop), alternating runs, medians;
* time to first token at turn 2 and turn 50 of a scripted chat (KV reuse keeps it flat);
* a chat of 10x the context: eviction events, their cost, tokens/s early and late, errors;
* a 2k-token conversation: snapshot save and restore vs evaluating it again.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.errors import InvalidInput
from cairn.core.llm import kv, snapshot
from cairn.core.llm.chat import Chat
from cairn.core.llm.native import library_version, raw_decode_speed
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime, Sampler
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session

Progress = Callable[[str, int, int], None]
GREEDY = Sampling(temperature=0.0)
WORDS = ("the sea my sister Lisbon remember cello Monday coffee garden train letter river morning story "
         "friend music window yellow bread mountain").split()


def user_text(i: int, words: int = 16) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(words)) + "?"


def decode_speed(model: Path, options: LoadOptions, tokens: int, rounds: int) -> dict[str, float]:
    """Median tokens/s of the same greedy one-token loop, through Cairn and through raw Llama."""
    cairn, raw = [], []
    with Runtime(model, options) as rt:
        prompt = rt.tokenize(user_text(0), special=False)
        for _ in range(rounds):
            raw.append(raw_decode_speed(model, options, prompt, tokens))
            cairn.append(_cairn_decode(rt, prompt, tokens))
    return {"cairn_tps": round(statistics.median(cairn), 2), "raw_tps": round(statistics.median(raw), 2),
            "decode_ratio_vs_raw": round(statistics.median(cairn) / statistics.median(raw), 4)}


def _cairn_decode(rt: Runtime, prompt: list[int], n: int) -> float:
    session = Session(rt)
    session.sync(prompt)
    with Sampler(rt, GREEDY) as sampler:
        start = time.perf_counter()
        for _ in range(n):
            session.extend([sampler.sample()])
        return n / (time.perf_counter() - start)


def ttft(model: Path, options: LoadOptions, turns: int, progress: Progress | None) -> dict[str, float]:
    """Time to first token at turn 2 and at the last turn of a scripted chat (no eviction)."""
    with Runtime(model, options) as rt:
        chat = Chat(rt, Session(rt), system="You are Cairn, a private assistant on this computer.")
        times = []
        for i in range(turns):
            times.append(chat.turn(user_text(i), max_tokens=8, sampling=GREEDY).first_token_s)
            if progress:
                progress("scripted chat", i + 1, turns)
        context = list(chat.session.tokens)
        start = time.perf_counter()  # the same last prompt without KV reuse: everything re-read
        Session(rt).sync(context)
        again = time.perf_counter() - start
    return {"ttft_turn2_ms": round(1000 * times[1], 2), f"ttft_turn{turns}_ms": round(1000 * times[-1], 2),
            f"ttft_turn{turns}_over_turn2": round(times[-1] / times[1], 4), "context_tokens_at_end": len(context),
            f"reread_turn{turns}_ms": round(1000 * again, 2)}


def long_chat(model: Path, options: LoadOptions, multiple: int, policy: str,
              progress: Progress | None) -> dict[str, Any]:
    """A chat until ``multiple`` x the context has gone through the cache."""
    errors, processed = 0, 0
    early: list[float] = []
    late: list[float] = []
    with Runtime(model, options) as rt:
        session = Session(rt, kv.Eviction(policy))
        chat = Chat(rt, session, system="You are Cairn.")
        i = 0
        while processed < multiple * rt.n_ctx and errors < 10:
            i += 1
            try:
                reply = chat.turn(user_text(i, 40), max_tokens=8, sampling=GREEDY)
            except Exception:  # noqa: BLE001 - a benchmark counts failures instead of stopping
                errors += 1
                continue
            processed += reply.prompt_tokens + reply.tokens
            if reply.decode_s > 0 and reply.tokens > 1:
                (early if processed < rt.n_ctx else late).append((reply.tokens - 1) / reply.decode_s)
            if progress:
                progress(f"10x chat ({policy})", min(processed, multiple * rt.n_ctx), multiple * rt.n_ctx)
        stats = session.stats
    return {"policy": policy, "turns": i, "tokens_processed": processed, "evictions": stats.events,
            "evicted_tokens": stats.tokens, "eviction_ms_per_event": round(1000 * stats.seconds / max(stats.events, 1), 3),
            "decode_tps_first_context": round(statistics.median(early), 2) if early else None,
            "decode_tps_after": round(statistics.median(late), 2) if late else None, "errors": errors}


def snapshots(model: Path, options: LoadOptions, n_tokens: int) -> dict[str, float]:
    """Save and restore a conversation of ``n_tokens`` vs evaluating it again."""
    with Runtime(model, options) as rt, tempfile.TemporaryDirectory(prefix="cairn-kv-") as tmp:
        tokens: list[int] = []
        i = 0
        while len(tokens) < n_tokens:
            tokens += rt.tokenize(user_text(i, 40) + " ", special=False)
            i += 1
        tokens = tokens[:n_tokens]
        session = Session(rt)
        start = time.perf_counter()
        session.sync(tokens)
        prefill = time.perf_counter() - start
        path = Path(tmp) / "chat.kv"
        start = time.perf_counter()
        size = snapshot.save(session, path)
        saved = time.perf_counter() - start
        fresh = Session(rt)
        start = time.perf_counter()
        ok = snapshot.restore(fresh, path).ok
        restored = time.perf_counter() - start
    return {"conversation_tokens": n_tokens, "reprefill_ms": round(1000 * prefill, 2),
            "save_ms": round(1000 * saved, 2), "restore_ms": round(1000 * restored, 2),
            "restore_ok": ok, "snapshot_mb": round(size / 1e6, 2)}


def synthetic_model(folder: Path, shape: str, progress: Progress | None = None) -> Path:
    """A cached random-weight Q8_0 model of a real shape (``0.5b`` or ``1b``)."""
    from cairn.models import tiny_gguf

    shapes = {"0.5b": tiny_gguf.QWEN_05B, "1b": tiny_gguf.LLAMA_1B, "tiny": tiny_gguf.TINY}
    if shape not in shapes:
        raise InvalidInput(f"Unknown model shape {shape!r}: use one of {', '.join(shapes)}.")
    dtype = "f32" if shape == "tiny" else "q8_0"
    path = folder / f"cairn-random-{shape}-{dtype}.gguf"
    if not path.exists():
        if progress:
            progress(f"synthesizing a random {shape} model", 0, 1)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = tiny_gguf.write(path.with_suffix(".tmp"), shapes[shape], dtype)
        tmp.replace(path)
    return path


def run(model: Path | None, *, cache: Path, shape: str = "0.5b", threads: int = 0,
        progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report."""
    path = model or synthetic_model(cache, shape, progress)
    small = shape == "tiny" and model is None
    options = LoadOptions(n_ctx=4096, n_threads=threads, n_batch=512)
    report: dict[str, Any] = {"model": str(path), "llama_cpp": library_version(), "threads": options.n_threads or "auto"}
    report.update(decode_speed(path, options, 32 if small else 128, 5))
    report.update(ttft(path, options, 50, progress))
    evict_options = LoadOptions(n_ctx=256 if small else 1024, n_threads=threads, n_batch=options.n_batch)
    chats = [long_chat(path, evict_options, 10, policy, progress) for policy in kv.POLICIES]
    report["long_chat"] = chats
    report["evictions"] = sum(c["evictions"] for c in chats)
    report["errors"] = sum(c["errors"] for c in chats)
    report.update(snapshots(path, options, 256 if small else 2048))
    return report
