"""``cairn bench loading``: flash-aware loading under a RAM cap.

A Llama-3.2-1B-shaped model (random weights, Q4_K_M: speed does not depend on the values) is
decoded in child processes (:mod:`cairn.core.bench.loading_child`):

- uncapped: llama.cpp's C API alone vs Cairn's runtime loading by its plan (which, with RAM to
  spare, keeps everything resident): the plan must cost nothing when it is not needed;
- in a memory cgroup capped at ``cap`` of the file's size, the model file evicted from the page
  cache first: plain mmap vs Cairn's streaming plan, with the bytes each reads per token and
  the disk's sequential bandwidth, which together bound what any streaming can reach;
- the fit option: the layers the plan proposes requantized, decoded under the same cap; its
  quality cost is the perplexity ratio of the bundled SmolLM2 with the same share of its layers
  requantized the same way, on real conversation text (LoCoMo's).
"""

from __future__ import annotations

import json
import mmap
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.bench import cgroup
from cairn.core.errors import CairnError
from cairn.core.llm import loading
from cairn.core.llm.native import quantize
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.ram import Ram

Progress = Callable[[str, int, int], None]
CHILD = "cairn.core.bench.loading_child"
STARTUP_BYTES = 40 << 20  # a child's memory before it plans (Python and the imports): the cgroup counts it too


def model_1b(cache: Path, progress: Progress | None = None) -> Path:
    """The cached 1B-shaped Q4_K_M model (synthesized as Q8_0, then quantized by llama.cpp)."""
    from cairn.core.bench.llm import synthetic_model

    path = cache / "cairn-random-1b-tied-q4_k_m.gguf"
    if not path.exists():
        q8 = synthetic_model(cache, "1b", progress)
        if progress:
            progress("quantizing it to Q4_K_M", 0, 1)
        quantize(q8, path, "q4_k_m")
        q8.unlink()
    return path


def child(model: Path, mode: str, tokens: int, n_ctx: int, group: cgroup.Cgroup | None = None,
          timeout: float = 1800) -> dict[str, Any]:
    """One decode in a child process (inside ``group`` when given)."""
    argv = [sys.executable, "-m", CHILD, str(model), mode, str(tokens), str(n_ctx)]
    env = os.environ | {"ORT_DISABLE_TELEMETRY": "1"}
    done = group.run(argv, timeout, env) if group else subprocess.run(argv, capture_output=True, text=True,
                                                                      timeout=timeout, env=env)
    out: dict[str, Any] = {"mode": mode, "exit": done.returncode}
    if done.returncode == 0 and done.stdout.strip():
        out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    else:
        out["error"] = (done.stderr.strip().splitlines() or ["killed"])[-1][:300]
    return out


def capped(model: Path, mode: str, cap: float, tokens: int, n_ctx: int) -> dict[str, Any]:
    """``child`` in a fresh cgroup limited to ``cap`` of the model file, with the file not cached."""
    group = cgroup.create()
    try:
        group.set_limit(int(model.stat().st_size * cap))
        cgroup.drop_cache(model)
        out = child(model, mode, tokens, n_ctx, group)
        out["cgroup_peak_mb"] = round(group.peak() / 1e6, 1)
        out["oom_kills"] = group.oom_kills()
        return out
    finally:
        group.remove()


def disk_mb_s(path: Path, chunk: int = 8 << 20) -> float:
    """Sequential read bandwidth of the storage under ``path``: O_DIRECT reads of 8 MiB into an
    aligned buffer, as a deep readahead would (buffered reads where O_DIRECT is refused)."""
    cgroup.drop_cache(path)
    buffer = mmap.mmap(-1, chunk)  # page-aligned, as O_DIRECT needs
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECT", 0))
    except OSError:
        fd = os.open(path, os.O_RDONLY)
    start, total = time.perf_counter(), 0
    try:
        while True:
            try:
                n = os.preadv(fd, [buffer], total)
            except OSError:  # the last, unaligned piece
                break
            total += n
            if n < chunk:
                break
    finally:
        os.close(fd)
        buffer.close()
    return total / 1e6 / (time.perf_counter() - start)


def fit_model(model: Path, cap: float, n_ctx: int, cache: Path) -> tuple[Path, loading.Fit]:
    """The model with the layers the plan proposes (at this cap) requantized."""
    from cairn.core.llm import fit

    size = model.stat().st_size
    p = loading.plan_file(model, LoadOptions(n_ctx=n_ctx), Ram(int(size * cap) - STARTUP_BYTES, f"cap {cap}"))
    if p.fit is None:
        raise CairnError("The plan proposes no requantization at this cap: the model already fits.")
    out = cache / f"{model.stem}-fit-{p.fit.kind}-0-{p.fit.layers[-1]}.gguf"
    if not out.exists():
        fit.requantize_layers(model, out, p.fit.layers, p.fit.kind)
    return out, p.fit


def perplexity_ratio(bundled: Path, fraction: float, kind: str, text: str, cache: Path) -> dict[str, Any]:
    """SmolLM2's perplexity with the first ``fraction`` of its layers requantized to ``kind`` (as the
    plan's fit does), over its own."""
    from cairn.core.llm import fit
    from cairn.core.llm.gguf_header import read_header

    n_layer = int(read_header(bundled).arch("block_count") or 0)
    count = max(1, round(fraction * n_layer))
    out = cache / f"{bundled.stem}-fit-{kind}-0-{count - 1}.gguf"
    if not out.exists():
        fit.requantize_layers(bundled, out, range(count), kind)
    base, fitted = fit.perplexity(bundled, text), fit.perplexity(out, text)
    return {"model": bundled.name, "layers": f"0-{count - 1} of {n_layer}", "kind": kind,
            "perplexity": round(base, 3), "fit_perplexity": round(fitted, 3), "perplexity_ratio": round(fitted / base, 4),
            "size_mb": round(bundled.stat().st_size / 1e6, 1), "fit_size_mb": round(out.stat().st_size / 1e6, 1)}


def _tps(result: dict[str, Any]) -> float:
    return float(result.get("tps") or 0.0)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if a and b else None


def uncapped(model: Path, tokens: int, n_ctx: int) -> dict[str, Any]:
    """llama.cpp's C API alone vs Cairn's runtime with its plan, RAM to spare."""
    raw, ours = child(model, "raw", tokens, n_ctx), child(model, "cairn", tokens, n_ctx)
    return {"raw_tps": round(_tps(raw), 2), "cairn_tps": round(_tps(ours), 2),
            "plan": ours.get("plan", {}).get("mode"), "errors": [r["error"] for r in (raw, ours) if "error" in r]}


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def alternating(model: Path, modes: tuple[str, ...], cap: float, tokens: int, n_ctx: int,
                reps: int) -> dict[str, list[dict[str, Any]]]:
    """``reps`` capped runs of each mode, interleaved (plain, cairn, plain, ...): the disk's speed
    drifts by 10-20% between runs here, and interleaving spreads the drift over both."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(reps):
        for mode in modes:
            runs[mode].append(capped(model, mode, cap, tokens, n_ctx))
    return runs


def under_cap(model: Path, cap: float, tokens: int, n_ctx: int, reps: int = 3) -> dict[str, Any]:
    """Plain mmap vs Cairn's plan under the cap: median tokens/s, bytes read per token, and the
    disk's bandwidth, which bounds both."""
    runs = alternating(model, ("plain", "cairn"), cap, tokens, n_ctx, reps)
    plain = _median([_tps(r) for r in runs["plain"]])
    ours = _median([_tps(r) for r in runs["cairn"]])
    read = {m: _median([float(r.get("read_mb_per_token", 0.0)) for r in runs[m]]) for m in runs}
    disk = disk_mb_s(model)
    last = runs["cairn"][-1]
    plan = last.get("plan", {})
    return {
        "plain_mmap_tps": round(plain, 3), "cairn_tps": round(ours, 3), "speedup": _ratio(ours, plain),
        "runs": {m: [round(_tps(r), 3) for r in rs] for m, rs in runs.items()},
        "peak_rss_mb": round(max(float(r.get("cgroup_peak_mb", 0.0)) for r in runs["cairn"]), 1),
        "oom_kills": sum(int(r.get("oom_kills", 0)) for rs in runs.values() for r in rs),
        "plan": {k: plan.get(k) for k in ("mode", "n_ctx", "kv_type", "n_batch", "available_mb", "resident_mb",
                                          "streamed_mb_per_token", "lock")},
        "residency": last.get("residency"), "native_helper": last.get("native"),
        "physics": {"disk_mb_s": round(disk, 1), "plain_read_mb_per_token": round(read["plain"], 1),
                    "cairn_read_mb_per_token": round(read["cairn"], 1),
                    "plain_bound_tps": _ratio(disk, read["plain"]), "cairn_bound_tps": _ratio(disk, read["cairn"]),
                    "bytes_ratio": _ratio(read["plain"], read["cairn"])},
        "errors": [r["error"] for rs in runs.values() for r in rs if "error" in r]}


def run(cache: Path, *, cap: float = 0.5, tokens: int = 16, n_ctx: int = 2048, reps: int = 3,
        model: Path | None = None, bundled: Path | None = None, text: str = "",
        progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report (``fit`` needs ``cap`` > 0)."""
    cache.mkdir(parents=True, exist_ok=True)
    model = model or model_1b(cache, progress)
    steps = ["uncapped"] + (["plain mmap and Cairn's plan under the cap", "the fit option"] if cap > 0 else [])

    def say(i: int) -> None:
        if progress:
            progress(steps[i], i, len(steps))

    say(0)
    free = uncapped(model, 4 * tokens, n_ctx)
    report: dict[str, Any] = {"model": model.name, "model_mb": round(model.stat().st_size / 1e6, 1), "n_ctx": n_ctx,
                              "tokens": tokens, "cap_fraction": cap, "uncapped": free,
                              "uncapped_ratio": _ratio(free["cairn_tps"], free["raw_tps"])}
    if cap <= 0:
        return report
    say(1)
    report.update(under_cap(model, cap, tokens, n_ctx, reps))
    say(2)
    report["fit"] = fit_option(model, cap, tokens, n_ctx, cache, bundled, text, report["plain_mmap_tps"], reps)
    return report


def fit_option(model: Path, cap: float, tokens: int, n_ctx: int, cache: Path, bundled: Path | None, text: str,
               plain_tps: float, reps: int = 1) -> dict[str, Any]:
    """The proposed requantization decoded by Cairn's plan under the same cap (the cap is a share of
    the original file), and its perplexity cost measured on SmolLM2."""
    fitted, proposal = fit_model(model, cap, n_ctx, cache)
    results = [capped(fitted, "cairn", cap * model.stat().st_size / fitted.stat().st_size, tokens, n_ctx)
               for _ in range(reps)]
    result = results[-1]
    tps = _median([_tps(r) for r in results])
    out: dict[str, Any] = {"tps": round(tps, 3), "size_mb": round(fitted.stat().st_size / 1e6, 1),
                           "kind": proposal.kind, "layers": f"{proposal.layers[0]}-{proposal.layers[-1]}",
                           "planned_to_fit": proposal.fits, "plan": result.get("plan", {}).get("mode"),
                           "speedup_vs_plain_mmap": _ratio(tps, plain_tps), "perplexity_ratio": None,
                           "read_mb_per_token": round(float(result.get("read_mb_per_token", 0.0)), 1)}
    if "error" in result:
        out["error"] = result["error"]
    if bundled is not None and text:
        from cairn.core.llm.gguf_header import read_header

        n_layer = int(read_header(model).arch("block_count") or 1)
        quality = perplexity_ratio(bundled, len(proposal.layers) / n_layer, proposal.kind, text, cache)
        out["perplexity_ratio"] = quality.pop("perplexity_ratio")
        out["quality"] = quality
    return out
