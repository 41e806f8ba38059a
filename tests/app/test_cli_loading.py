"""`cairn models plan|fit` and `cairn bench loading`, through the real CLI."""

import json
from pathlib import Path

from cairn.core.llm import loading
from cairn.models import tiny_gguf
from tests.core.llm.test_streaming import SHAPE

MiB = 1 << 20


def ram_figures(model: Path) -> tuple[int, int]:
    """(MiB that make the plan stream, MiB too few even to stream) at a 512-token context."""
    m = loading.Model.from_header(loading.read_header(model))
    c = loading.costs(m, 512, "q8_0", loading.STREAM_BATCH)
    least = (c.total + loading.WINDOW * m.layer_bytes(0)) / loading.USABLE
    resident = (c.total + m.weights) / loading.USABLE
    stream = int((least + resident) / 2 / MiB)
    assert least / MiB < stream < resident / MiB
    return stream, int(least / MiB) - 2


def test_models_plan_says_resident_or_stream(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = tiny_gguf.write(tmp_path / "layered.gguf", SHAPE)
    r = cairn("models", "plan", str(model))
    assert r.code == 0 and "plan: resident" in r.out, r.err
    stream, too_few = ram_figures(model)
    r = cairn("models", "plan", str(model), "--ram", str(stream), "--ctx", "512", "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert plan["mode"] == "stream" and plan["ram_source"] == f"--ram = {stream}" and plan["streamed_mb_per_token"] > 0
    assert plan["fit"]["kind"] in ("q4_0", "q3_k_m", "q2_k")
    r = cairn("models", "plan", str(model), "--ram", str(too_few), "--ctx", "512")
    assert r.code != 0 and f"cannot run in {too_few} MiB" in r.err and "Traceback" not in r.err


def test_models_fit_installs_a_smaller_model(cairn, tmp_path: Path, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    model = tiny_gguf.write(tmp_path / "layered.gguf", SHAPE)
    stream, _ = ram_figures(model)
    r = cairn("models", "fit", str(model), "--ram", str(stream), "--ctx", "512", "--name", "small", "--json",
              timeout=120)
    assert r.code == 0, r.err
    out = Path(json.loads(r.out)["path"])
    assert out.name == "small.gguf" and out.stat().st_size < model.stat().st_size and model.exists()
    r = cairn("models", "fit", str(model))
    assert r.code == 2 and "already fits" in r.err


def test_bench_loading_uncapped_json(cairn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = tiny_gguf.write(tmp_path / "layered.gguf", SHAPE)
    r = cairn("bench", "loading", "--cap", "0", "--model", str(model), "--tokens", "4", "--ctx", "512", "--json",
              timeout=180)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["cap_fraction"] == 0 and report["uncapped"]["plan"] == "resident"
    assert report["uncapped_ratio"] > 0 and not report["uncapped"]["errors"]
