"""Features are causal; labels and eligibility match brute-force definitions (docs/model.md)."""
from __future__ import annotations

import numpy as np
import pytest

from gx1.dataset import build_dataset
from gx1.features import (
    CTX_CAT_FEATURES, CTX_CONT_FEATURES, SEQ_FEATURES, SNAP_FEATURES, LabelConfig, compute_features, compute_labels,
)

FEATURE_COLUMNS = SEQ_FEATURES + SNAP_FEATURES + CTX_CONT_FEATURES + tuple(n for n, _ in CTX_CAT_FEATURES)


def test_feature_set_sizes():
    assert len(SEQ_FEATURES) >= 12 and len(SNAP_FEATURES) >= 12
    assert len(CTX_CAT_FEATURES) == 5 and len(CTX_CONT_FEATURES) == 2
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)


@pytest.mark.parametrize("cut", [400, 1000, 1498])  # 1498: only the very last bar changes
def test_no_look_ahead(bars_factory, cut):
    """Changing every bar after t leaves every feature at <= t bit-identical."""
    bars = bars_factory(1500, seed=1, gap_every=250)
    other = bars_factory(1500, seed=99, gap_every=250)
    changed = {k: v.copy() for k, v in bars.items()}
    for key in ("open", "high", "low", "close", "volume", "spread"):
        changed[key][cut + 1:] = other[key][cut + 1:] * (1.3 if key in ("volume", "spread") else 0.9)
    before = compute_features(bars)
    after = compute_features(changed)
    for name in FEATURE_COLUMNS:
        np.testing.assert_array_equal(before[name][: cut + 1], after[name][: cut + 1], err_msg=name)
    assert not np.array_equal(before["ret_1"][cut + 1:], after["ret_1"][cut + 1:])  # the cut changed bars: the test can fail


def brute_force_labels(bars, atr, horizon, early, early_atr, clip):
    n = len(bars["close"])
    out = {k: np.full(n, np.nan) for k in ("y_dir", "y_early", "y_quality")}
    for t in range(n):
        if t + horizon >= n:
            continue
        c = bars["close"][t]
        y_dir = 1.0 if bars["close"][t + horizon] > c else 0.0
        out["y_dir"][t] = y_dir
        if np.isnan(atr[t]):
            continue
        moved = False
        for j in range(t + 1, t + early + 1):
            if y_dir == 1.0 and bars["high"][j] - c >= early_atr * atr[t]:
                moved = True
            if y_dir == 0.0 and c - bars["low"][j] >= early_atr * atr[t]:
                moved = True
        mfe = max(bars["high"][t + 1: t + horizon + 1]) - c
        mae = c - min(bars["low"][t + 1: t + horizon + 1])
        out["y_early"][t] = 1.0 if moved else 0.0
        out["y_quality"][t] = min(max((mfe - mae) / atr[t], -clip), clip)
    return out


def test_labels_equal_brute_force(bars_factory):
    bars = bars_factory(300, seed=3)
    cfg = LabelConfig(horizon_bars=6, early_bars=3, early_move_atr=0.5)
    atr = compute_features(bars)["atr"]
    labels = compute_labels(bars, atr, cfg)
    expected = brute_force_labels(bars, atr, 6, 3, 0.5, 5.0)
    for name in ("y_dir", "y_early", "y_quality"):
        np.testing.assert_allclose(labels[name], expected[name], rtol=0, atol=1e-12, err_msg=name)
    assert 0.2 < np.nanmean(labels["y_early"]) < 1.0  # both classes occur


def test_labels_hand_made_table():
    """A tiny table whose labels are worked out by hand."""
    close = np.array([100.0, 101, 99, 102, 103, 98, 104, 105])
    bars = {"high": close + 1, "low": close - 1, "close": close}
    atr = np.full(8, 2.0)
    labels = compute_labels(bars, atr, LabelConfig(horizon_bars=2, early_bars=1, early_move_atr=0.5))
    # t=0: close[2]=99 < 100 -> y_dir 0; early: 100 - low[1]=100 >= 1? 0 -> no; quality: mfe=max(102,100)-100=2, mae=100-min(100,98)=2 -> 0
    assert labels["y_dir"][0] == 0 and labels["y_early"][0] == 0 and labels["y_quality"][0] == 0
    # t=1: close[3]=102 > 101 -> 1; early: high[2]=100-101 < 1 -> 0; mfe=103-101=2, mae=101-98=3 -> -0.5
    assert labels["y_dir"][1] == 1 and labels["y_early"][1] == 0 and labels["y_quality"][1] == -0.5
    assert np.isnan(labels["y_dir"][6:]).all()


def test_eligibility_excludes_warm_up_gaps_and_end(bars_factory):
    cfg = LabelConfig(seq_len=30, horizon_bars=6, max_gap_minutes=70)
    bars = bars_factory(3000, seed=5, gap_every=1000)
    cols = build_dataset(bars, cfg)
    eligible = cols["eligible"]
    assert not eligible[:399].any() and eligible[399:450].any()  # ema_100 window (400 bars) is warm-up
    assert not eligible[-6:].any()            # no full label horizon
    for gap_at in (1000, 2000):               # the step into bar gap_at is 2 hours
        assert not eligible[gap_at - 6: gap_at].any()           # gap inside the horizon
        assert not eligible[gap_at: gap_at + 29].any()          # gap inside the sequence window
        assert eligible[gap_at + 29]                            # window starts at the gap bar: fine
        assert eligible[gap_at - 7]
    assert 0.5 < eligible.mean() < 0.99
    # eligible rows have finite features and labels
    for name in SEQ_FEATURES + SNAP_FEATURES + ("y_dir", "y_early", "y_quality"):
        assert np.isfinite(cols[name][eligible]).all(), name


def test_feature_columns_are_float32(bars_factory):
    cols = build_dataset(bars_factory(800), LabelConfig())
    for name in SEQ_FEATURES + SNAP_FEATURES + CTX_CONT_FEATURES:
        assert cols[name].dtype == np.float32
    for name, cardinality in CTX_CAT_FEATURES:
        values = cols[name][cols["eligible"]]
        assert values.min() >= 0 and values.max() < cardinality
