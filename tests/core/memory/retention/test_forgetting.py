"""Properties of the forgetting curve and of sweep planning (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.memory.retention import forgetting, sweep
from cairn.core.memory.retention.forgetting import DAY, Curve

strength = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)
seconds = st.floats(min_value=0, max_value=1e10, allow_nan=False)


@given(strength, seconds, seconds)
def test_retention_is_monotone_in_time(s: float, t1: float, t2: float) -> None:
    early, late = sorted((t1, t2))
    assert forgetting.retention(s, late) <= forgetting.retention(s, early)
    assert 0.0 <= forgetting.retention(s, late) <= 1.0


@given(strength, seconds)
def test_recall_never_lowers_strength(s: float, t: float) -> None:
    assert forgetting.reinforce(s, t) >= s


@given(strength, seconds, seconds)
def test_spacing_effect_longer_gap_gains_more(s: float, t1: float, t2: float) -> None:
    short, long = sorted((t1, t2))
    assert forgetting.reinforce(s, long) >= forgetting.reinforce(s, short)


@given(strength, seconds)
def test_pinned_never_decays(s: float, t: float) -> None:
    assert forgetting.retention(s, t, pinned=True) == 1.0
    assert forgetting.retention_many(np.array([s]), np.array([t]), np.array([True]))[0] == 1.0


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_more_important_is_stronger(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert forgetting.initial_strength(lo) <= forgetting.initial_strength(hi)
    assert Curve().min_days <= forgetting.initial_strength(lo) <= Curve().max_days


def test_curve_points_and_days_until() -> None:
    points = forgetting.curve_points(10.0, 0.0, days=30, step=10)
    assert [d for d, _ in points] == [0, 10, 20, 30] and points[0][1] == 1.0
    assert abs(points[1][1] - np.exp(-1)) < 1e-12
    assert abs(forgetting.retention(10.0, forgetting.days_until(10.0, 0.05) * DAY) - 0.05) < 1e-9


memories = st.lists(st.tuples(st.booleans(), st.floats(min_value=0.5, max_value=2000),
                              st.floats(min_value=0, max_value=400 * DAY), st.booleans()), min_size=0, max_size=60)


@settings(max_examples=200)
@given(memories, st.floats(min_value=0, max_value=0.5), st.one_of(st.none(), st.integers(min_value=1, max_value=40)))
def test_sweep_twice_equals_sweep_once(rows: list, threshold: float, budget: int | None) -> None:
    now = 500 * DAY
    ids = np.arange(1, len(rows) + 1)
    pinned = np.array([r[0] for r in rows], bool)
    strength_days = np.array([r[1] for r in rows], float)
    anchor = np.array([now - r[2] for r in rows], float)
    superseded = np.array([r[3] for r in rows], bool)
    first = sweep.plan(ids, pinned, strength_days, anchor, now, threshold, budget, superseded)
    gone = {a[0] for a in first.archive}
    assert not gone & set(ids[pinned].tolist())  # pins are never archived
    keep = np.array([i not in gone for i in ids], bool)
    second = sweep.plan(ids[keep], pinned[keep], strength_days[keep], anchor[keep], now, threshold, budget,
                        superseded[keep])
    assert second.archive == []
    if budget is not None:
        assert first.live_after <= max(budget, int(pinned.sum()))
