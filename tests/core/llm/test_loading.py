"""The flash-aware loading plan: pure decisions from a header and a RAM figure."""

from pathlib import Path

import pytest

from cairn.core.errors import ModelLoadError
from cairn.core.llm import loading
from cairn.core.llm.gguf_header import TensorInfo, read_header
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.ram import Ram

MiB = 1 << 20
Q4_K = 12


def model(n_layer: int = 8, layer_mb: int = 40, head_mb: int = 200, tied: bool = True) -> loading.Model:
    """A Llama-like tensor table: per layer two big matrices and a norm; a token table; no output (tied)."""
    tensors, offset = [], 0

    def add(name: str, shape: tuple[int, ...], n_bytes: int) -> None:
        nonlocal offset
        tensors.append(TensorInfo(name, shape, Q4_K, offset, n_bytes))
        offset += n_bytes

    add("token_embd.weight", (2048, 128_000), head_mb * MiB)
    for i in range(n_layer):
        add(f"blk.{i}.attn_norm.weight", (2048,), 8192)
        add(f"blk.{i}.attn_q.weight", (2048, 2048), layer_mb * MiB // 4)
        add(f"blk.{i}.ffn_up.weight", (2048, 8192), layer_mb * MiB * 3 // 4)
    if not tied:
        add("output.weight", (2048, 128_000), head_mb * MiB)
    add("output_norm.weight", (2048,), 8192)
    return loading.Model(n_layer, 2048, 32, 8, 128_000, 8192, tuple(tensors), 4096, 2 * 8 * 64)


def plan(m: loading.Model, mb: int, **kw: object) -> loading.LoadPlan:
    return loading.plan(m, Ram(mb * MiB, "test"), LoadOptions(**kw), lock_limit=None)  # type: ignore[arg-type]


def test_a_model_that_fits_stays_resident_with_the_requested_settings() -> None:
    p = plan(model(), 4000)
    assert (p.mode, p.n_ctx, p.kv_type, p.n_batch, p.notes) == ("resident", 4096, "f16", 512, ())
    assert p.options(LoadOptions()).use_mmap and not p.resident and p.fit is None
    assert not p.options(LoadOptions(use_mmap=False)).use_mmap  # a resident model keeps the setting


def test_cheaper_settings_come_before_streaming_and_are_said() -> None:
    m = model()
    full = loading.costs(m, 4096, "f16", 512).total + m.weights
    p = plan(m, int(full / loading.USABLE / MiB) - 40)
    assert p.mode == "resident" and p.n_batch == loading.STREAM_BATCH and p.kv_type == "f16"
    assert any("batch" in n for n in p.notes)


def test_streaming_locks_a_resident_set_and_streams_the_rest_by_layer() -> None:
    m = model()
    p = plan(m, 500)
    assert p.streaming and p.lock and p.kv_type == "q8_0"
    assert p.options(LoadOptions(use_mmap=False, use_mlock=True)).use_mmap  # streaming needs the map
    assert not p.options(LoadOptions(use_mlock=True)).use_mlock
    per_token = sum(t.n_bytes for t in m.per_token())
    assert p.resident_bytes + p.streamed_bytes == pytest.approx(per_token, abs=8 * 4096)
    costs = loading.costs(m, p.n_ctx, p.kv_type, p.n_batch)
    window = loading.WINDOW * m.layer_bytes(0)
    assert p.resident_bytes + window + costs.total <= 500 * MiB * loading.USABLE
    streamed = [i for i, u in enumerate(p.units) if u]
    assert streamed == list(range(streamed[0], m.n_layer + 1))  # the first layers stay, the rest and the head stream
    assert len(p.units) == m.n_layer + 1
    assert all(n.endswith("weight") for n in p.resident_names) and "blk.0.ffn_up.weight" in p.resident_names


def test_an_untied_token_table_is_neither_resident_nor_streamed() -> None:
    m = model(tied=False)
    p = plan(m, 600)
    embd = next(t for t in m.tensors if t.name == "token_embd.weight")
    span = (m.data_offset + embd.offset, m.data_offset + embd.offset + embd.n_bytes)
    assert "token_embd.weight" not in p.resident_names
    assert all(span not in unit for unit in p.units)


def test_a_low_mlock_limit_turns_locking_off_and_says_so() -> None:
    p = loading.plan(model(), Ram(500 * MiB, "test"), LoadOptions(), lock_limit=64 * 1024)
    assert p.streaming and not p.lock and any("mlock" in n for n in p.notes)


def test_nothing_fits_is_refused_with_the_numbers() -> None:
    with pytest.raises(ModelLoadError) as err:
        plan(model(), 120)
    assert "120 MiB" in err.value.message and "KV cache" in err.value.message and "window of 2 layers" in err.value.message
    assert "cairn models fit" in (err.value.hint or "")


def test_fit_proposes_the_fewest_layers_at_the_best_smaller_type() -> None:
    m = model(layer_mb=60, head_mb=50)
    p = plan(m, 560)
    assert p.streaming and p.fit is not None and p.fit.fits
    assert p.fit.layers[0] == 0 and len(p.fit.layers) < m.n_layer and p.fit.size < m.weights
    assert p.fit.size + loading.costs(m, p.n_ctx, p.kv_type, p.n_batch).total <= 560 * MiB * loading.USABLE
    assert p.fit.kind in {k for k, _ in loading.FIT_KINDS}


def test_kv_and_compute_estimates_match_what_llama_cpp_reserves(tiny_model: Path) -> None:
    """The KV figure is exact; checked against llama.cpp's own log of the tiny model's buffers."""
    import logging

    from cairn.core.llm.runtime import Runtime

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("cairn.llm.llama_cpp")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with Runtime(tiny_model, LoadOptions(n_ctx=512, n_batch=64, n_threads=2)):
            pass
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    kv_line = next(r for r in records if "KV buffer size" in r)
    reported = float(kv_line.split("=")[1].split()[0])
    m = loading.Model.from_header(read_header(tiny_model))
    assert loading.costs(m, 512, "f16", 64).kv / MiB == pytest.approx(reported, abs=0.01)


def test_plan_file_describes_a_real_header(tiny_model: Path) -> None:
    p = loading.plan_file(tiny_model, LoadOptions(n_ctx=512))
    assert p.mode == "resident"
    text = "\n".join(loading.describe(p))
    assert "plan: resident" in text and "MiB available" in text
    tight = loading.plan_file(tiny_model, LoadOptions(n_ctx=512), Ram(int(3.5 * MiB) + 40 * MiB, "test"))
    assert tight.to_dict()["mode"] in ("resident", "stream")


def test_budget_caps_the_probe_with_the_setting() -> None:
    assert loading.budget(0) is None
    capped = loading.budget(100)
    assert capped is not None and capped.available == 100 * MiB and "ram_limit_mb" in capped.source
