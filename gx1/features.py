"""Feature, context, label and eligibility computation for the entry_v9 feature set.

Pure functions over a bars table (see ``gx1.bars``); used by the dataset stage and,
identically, by replay. Every feature at bar t uses bars <= t only (tested); labels and
the eligibility flag look ahead by design (they describe bars t+1..t+H).

Whole-column numpy: rolling sums via cumulative sums, rolling extremes via
sliding windows, EMAs as finite exponentially weighted windows (a causal convolution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gx1.bars import infer_interval_seconds

FEATURE_SET = "entry_v9"

SEQ_FEATURES = (
    "ret_1", "ret_3", "ret_12", "range_atr", "body_atr", "upper_wick_atr", "lower_wick_atr",
    "close_pos_in_bar", "ema_dist_12_atr", "ema_dist_48_atr", "ema_slope_12_atr", "rsi_14",
    "volume_ratio_48", "spread_atr", "bar_gap_log",
)
SNAP_FEATURES = (
    "ret_24", "ret_48", "ret_96", "ret_288", "realized_vol_12", "realized_vol_48", "realized_vol_288",
    "atr_ratio_14_96", "ema_dist_100_atr", "ema_slope_48_atr", "range_pos_48", "range_pos_288",
    "range_width_48_atr", "volume_ratio_288", "hour_sin", "hour_cos",
)
# Categorical context features and their cardinalities (values are 0..cardinality-1).
CTX_CAT_FEATURES = (("session", 4), ("vol_regime", 3), ("trend_regime", 3), ("day_of_week", 7), ("spread_regime", 3))
CTX_CONT_FEATURES = ("atr_bps", "spread_bps")
LABEL_COLUMNS = ("y_dir", "y_early", "y_quality")


@dataclass(frozen=True)
class LabelConfig:
    """Label and eligibility settings (params.yaml section ``dataset`` plus ``seq_len``)."""

    horizon_bars: int = 6          # H: direction/quality horizon
    early_bars: int = 3            # E: early-move window
    early_move_atr: float = 0.5    # early move threshold in ATR units
    quality_clip: float = 5.0      # y_quality clipped to +-this
    seq_len: int = 30              # sequence window that must be complete for eligibility
    max_gap_minutes: float = 0.0   # a longer time step inside the window or horizon makes a row ineligible; 0 = 14 bars
    weekend_gaps: bool = False     # true: a weekend closure (a step across a Saturday, under 4 days) is no gap


AUTO_GAP_BARS = 14  # max_gap_minutes 0: a step longer than 14 bars of the data's interval is a gap (70 minutes at M5)
WEEKEND_MAX_DAYS = 4  # a step across a Saturday longer than this is missing data, not a weekend


def gap_limit_minutes(cfg: LabelConfig, interval_seconds: int) -> float:
    """The longest step that is no gap: max_gap_minutes, or AUTO_GAP_BARS bars of the interval when it is 0."""
    return float(cfg.max_gap_minutes) if cfg.max_gap_minutes else AUTO_GAP_BARS * interval_seconds / 60


def gap_flags(time: np.ndarray, cfg: LabelConfig, interval_seconds: int) -> np.ndarray:
    """flags[i]: the step from bar i-1 to bar i is a gap (longer than the limit, and not a tolerated weekend)."""
    time_ns = np.asarray(time).astype("datetime64[ns]").astype(np.int64)
    flags = np.zeros(len(time_ns), dtype=bool)
    steps = np.diff(time_ns)
    flags[1:] = steps > gap_limit_minutes(cfg, interval_seconds) * 60e9
    if cfg.weekend_gaps and len(steps):
        day_ns = 86_400 * 10**9
        first_day, last_day = time_ns[:-1] // day_ns, time_ns[1:] // day_ns
        next_saturday = first_day + (5 - (first_day + 3) % 7) % 7  # 1970-01-01 was a Thursday; Monday = 0
        weekend = (next_saturday <= last_day) & (steps <= WEEKEND_MAX_DAYS * day_ns)
        flags[1:] &= ~weekend
    return flags


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """x[t-k] at position t (NaN where undefined); k > 0 looks back, k < 0 looks ahead."""
    out = np.full_like(x, np.nan)
    if k > 0:
        out[k:] = x[:-k]
    elif k < 0:
        out[:k] = x[-k:]
    else:
        out[:] = x
    return out


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values ending at t (NaN until full or if any NaN inside)."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    bad = ~np.isfinite(x)
    csum = np.concatenate(([0.0], np.cumsum(np.where(bad, 0.0, x))))
    cbad = np.concatenate(([0], np.cumsum(bad)))
    sums = csum[window:] - csum[:-window]
    nbad = cbad[window:] - cbad[:-window]
    out[window - 1:] = np.where(nbad == 0, sums / window, np.nan)
    return out


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    mean = rolling_mean(x, window)
    mean_sq = rolling_mean(x * x, window)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        out[window - 1:] = sliding_window_view(x, window).max(axis=1)
    return out


def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        out[window - 1:] = sliding_window_view(x, window).min(axis=1)
    return out


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Exponentially weighted mean over a finite trailing window of 4*span bars (weights renormalised).

    A causal convolution: exactly prefix-dependent, NaN until the window is full.
    """
    alpha = 2.0 / (span + 1.0)
    length = 4 * span
    weights = (1.0 - alpha) ** np.arange(length)
    weights /= weights.sum()
    out = np.full(len(x), np.nan)
    if len(x) >= length:
        out[length - 1:] = np.convolve(x, weights, mode="valid")
    return out


def future_window(x: np.ndarray, start: int, stop: int, reduce: str) -> np.ndarray:
    """max/min of x[t+start .. t+stop] (inclusive) at each t; NaN where the window runs past the end."""
    width = stop - start + 1
    out = np.full(len(x), np.nan)
    n_valid = len(x) - stop
    if n_valid > 0:
        windows = sliding_window_view(x[start:], width)[:n_valid]
        out[:n_valid] = windows.max(axis=1) if reduce == "max" else windows.min(axis=1)
    return out


def average_true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    prev_close = _shift(close, 1)
    true_range = np.fmax(high - low, np.fmax(np.abs(high - prev_close), np.abs(low - prev_close)))
    return rolling_mean(true_range, window)


def compute_features(bars: dict) -> dict[str, np.ndarray]:
    """All sequence, snapshot and context features (float64 / int64), causal; ``atr`` (ATR14) included."""
    open_, high, low, close = (np.asarray(bars[k], dtype=np.float64) for k in ("open", "high", "low", "close"))
    volume = np.asarray(bars["volume"], dtype=np.float64)
    spread = np.asarray(bars["spread"], dtype=np.float64)
    time_ns = np.asarray(bars["time"]).astype("datetime64[ns]").astype(np.int64)
    atr = average_true_range(high, low, close, 14)
    emas = {span: ema(close, span) for span in (12, 48, 100)}
    minute_of_day = (time_ns // 60_000_000_000) % 1440
    with np.errstate(divide="ignore", invalid="ignore"):
        feats = {**_bar_features(open_, high, low, close, volume, spread, time_ns, atr, emas),
                 **_window_features(high, low, close, volume, minute_of_day, atr, emas),
                 "atr_bps": atr / close * 1e4, "spread_bps": spread / close * 1e4}
        # Windows that need history stay NaN until that history exists.
        for name, lookback in (("range_pos_48", 48), ("range_pos_288", 288), ("close_pos_in_bar", 1)):
            feats[name][: lookback - 1] = np.nan
        feats = {k: np.where(np.isfinite(v), v, np.nan) for k, v in feats.items()}
        feats.update(_context_categories(spread, time_ns, minute_of_day, atr, emas, feats["atr_ratio_14_96"]))
    feats["atr"] = atr
    return feats


def _bar_features(open_, high, low, close, volume, spread, time_ns, atr, emas) -> dict[str, np.ndarray]:
    """The sequence features: each bar's returns, shape, trend distance, RSI, volume, spread and time gap."""
    log_close = np.log(close)
    previous = _shift(close, 1)
    avg_gain, avg_loss = rolling_mean(np.fmax(close - previous, 0.0), 14), rolling_mean(np.fmax(previous - close, 0.0), 14)
    rsi = np.where(avg_gain + avg_loss > 0, (avg_gain - avg_loss) / (avg_gain + avg_loss), 0.0)
    return {
        "ret_1": log_close - _shift(log_close, 1),
        "ret_3": log_close - _shift(log_close, 3),
        "ret_12": log_close - _shift(log_close, 12),
        "range_atr": (high - low) / atr,
        "body_atr": (close - open_) / atr,
        "upper_wick_atr": (high - np.maximum(open_, close)) / atr,
        "lower_wick_atr": (np.minimum(open_, close) - low) / atr,
        "close_pos_in_bar": np.where(high > low, (close - low) / (high - low), 0.5),
        "ema_dist_12_atr": (close - emas[12]) / atr,
        "ema_dist_48_atr": (close - emas[48]) / atr,
        "ema_slope_12_atr": (emas[12] - _shift(emas[12], 1)) / atr,
        "rsi_14": np.where(np.isnan(avg_gain + avg_loss), np.nan, rsi),
        "volume_ratio_48": volume / np.fmax(rolling_mean(volume, 48), 1e-9),
        "spread_atr": spread / atr,
        "bar_gap_log": np.log(np.fmax((time_ns - _shift(time_ns.astype(np.float64), 1)) / 60e9, 1e-3)),
    }


def _window_features(high, low, close, volume, minute_of_day, atr, emas) -> dict[str, np.ndarray]:
    """The snapshot features: longer returns, realised volatility, ranges, volume and the time of day."""
    log_close = np.log(close)
    ret_1 = log_close - _shift(log_close, 1)
    low_48, high_48 = rolling_min(low, 48), rolling_max(high, 48)
    low_288, high_288 = rolling_min(low, 288), rolling_max(high, 288)
    angle = 2.0 * np.pi * minute_of_day / 1440.0
    return {
        "ret_24": log_close - _shift(log_close, 24),
        "ret_48": log_close - _shift(log_close, 48),
        "ret_96": log_close - _shift(log_close, 96),
        "ret_288": log_close - _shift(log_close, 288),
        "realized_vol_12": rolling_std(ret_1, 12) * 1e4,
        "realized_vol_48": rolling_std(ret_1, 48) * 1e4,
        "realized_vol_288": rolling_std(ret_1, 288) * 1e4,
        "atr_ratio_14_96": atr / average_true_range(high, low, close, 96),
        "ema_dist_100_atr": (close - emas[100]) / atr,
        "ema_slope_48_atr": (emas[48] - _shift(emas[48], 1)) / atr,
        "range_pos_48": np.where(high_48 > low_48, (close - low_48) / (high_48 - low_48), 0.5),
        "range_pos_288": np.where(high_288 > low_288, (close - low_288) / (high_288 - low_288), 0.5),
        "range_width_48_atr": (high_48 - low_48) / atr,
        "volume_ratio_288": volume / np.fmax(rolling_mean(volume, 288), 1e-9),
        "hour_sin": np.sin(angle),
        "hour_cos": np.cos(angle),
    }


def _context_categories(spread, time_ns, minute_of_day, atr, emas, vol_ratio) -> dict[str, np.ndarray]:
    """Context categories, from causal quantities and fixed thresholds (no dataset-wide statistics)."""
    hour = minute_of_day // 60
    session = np.select([(hour >= 7) & (hour < 12), (hour >= 12) & (hour < 16), (hour >= 16) & (hour < 21)], [1, 2, 3], 0)
    trend = (emas[48] - emas[100]) / atr
    spread_ratio = spread / np.fmax(rolling_mean(spread, 288), 1e-12)
    return {
        "session": session.astype(np.int64),
        "vol_regime": np.where(vol_ratio < 0.8, 0, np.where(vol_ratio > 1.25, 2, 1)).astype(np.int64),
        "trend_regime": np.where(trend < -0.5, 0, np.where(trend > 0.5, 2, 1)).astype(np.int64),
        "day_of_week": (((time_ns // 86_400_000_000_000) + 3) % 7).astype(np.int64),  # 1970-01-01 was a Thursday; Monday = 0
        "spread_regime": np.where(spread_ratio < 0.8, 0, np.where(spread_ratio > 1.5, 2, 1)).astype(np.int64),
    }


def compute_labels(bars: dict, atr: np.ndarray, cfg: LabelConfig) -> dict[str, np.ndarray]:
    """y_dir, y_early, y_quality as docs/model.md defines them (NaN where the horizon runs past the end)."""
    h, l, c = (np.asarray(bars[k], dtype=np.float64) for k in ("high", "low", "close"))
    horizon, early = cfg.horizon_bars, cfg.early_bars
    future_close = _shift(c, -horizon)
    y_dir = np.where(np.isnan(future_close), np.nan, (future_close > c).astype(np.float64))
    early_high = future_window(h, 1, early, "max")
    early_low = future_window(l, 1, early, "min")
    threshold = cfg.early_move_atr * atr
    up_move = (early_high - c) >= threshold
    down_move = (c - early_low) >= threshold
    y_early = np.where(y_dir == 1.0, up_move, down_move).astype(np.float64)
    y_early = np.where(np.isnan(y_dir) | np.isnan(early_high) | np.isnan(atr), np.nan, y_early)
    mfe_long = future_window(h, 1, horizon, "max") - c
    mae_long = c - future_window(l, 1, horizon, "min")
    with np.errstate(divide="ignore", invalid="ignore"):
        y_quality = np.clip((mfe_long - mae_long) / atr, -cfg.quality_clip, cfg.quality_clip)
    return {"y_dir": y_dir, "y_early": y_early, "y_quality": y_quality}


def _window_count(flags: np.ndarray, back: int, ahead: int) -> np.ndarray:
    """Number of True flags in [t-back, t+ahead] at each t (windows clipped at the edges)."""
    n = len(flags)
    csum = np.concatenate(([0], np.cumsum(flags.astype(np.int64))))
    idx = np.arange(n)
    lo = np.clip(idx - back, 0, n)
    hi = np.clip(idx + ahead + 1, 0, n)
    return csum[hi] - csum[lo]


def compute_eligibility(bars: dict, feats: dict, labels: dict, cfg: LabelConfig) -> np.ndarray:
    """Rows with full feature/sequence history, all label bars, no long gap in window or horizon, ATR > 0."""
    n = len(bars["close"])
    time_ns = np.asarray(bars["time"]).astype("datetime64[ns]").astype(np.int64)
    # finite as stored (float32): a float64 value beyond float32's range would become inf in the dataset
    seq_ok = np.all(np.isfinite(np.column_stack([feats[k] for k in SEQ_FEATURES]).astype(np.float32)), axis=1)
    snap_ok = np.all(np.isfinite(np.column_stack([feats[k] for k in SNAP_FEATURES + CTX_CONT_FEATURES]).astype(np.float32)),
                     axis=1)
    labels_ok = np.all(np.isfinite(np.column_stack([labels[k] for k in LABEL_COLUMNS])), axis=1)
    back = cfg.seq_len - 1
    history_ok = (np.arange(n) >= back) & (_window_count(~seq_ok, back, 0) == 0)
    # gap_flag[i]: the step from bar i-1 to bar i is longer than allowed.
    gap_flag = gap_flags(time_ns, cfg, infer_interval_seconds(time_ns)) if n > 1 else np.zeros(n, dtype=bool)
    # Steps inside the sequence window are at i in (t-back, t]; inside the horizon at i in [t+1, t+H].
    gaps_in_window = _window_count(gap_flag, back - 1, 0) if back >= 1 else np.zeros(n, dtype=np.int64)
    gaps_in_horizon = _window_count(np.concatenate([gap_flag[1:], [False]]), 0, cfg.horizon_bars - 1)
    horizon_ok = np.arange(n) + cfg.horizon_bars < n
    atr = feats["atr"].astype(np.float32)
    atr_ok = np.isfinite(atr) & (atr > 0)
    return history_ok & snap_ok & labels_ok & horizon_ok & atr_ok & (gaps_in_window == 0) & (gaps_in_horizon == 0)
