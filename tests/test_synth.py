"""Embedded default bars: deterministic bytes, a valid table and gold-like statistics."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gx1.bars import infer_interval_seconds, load_bars, validate_bars, write_bars_parquet
from gx1.common import InputError
from gx1.synth import generate_gold_bars

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20250101


@pytest.fixture(scope="module")
def bars() -> dict[str, np.ndarray]:
    return generate_gold_bars(2025, DEFAULT_SEED)


def utc_hour_minute(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    minute_of_day = time.astype("datetime64[m]").view(np.int64) % 1440
    return minute_of_day // 60, minute_of_day


def weekday(time: np.ndarray) -> np.ndarray:
    return (time.astype("datetime64[D]").view(np.int64) + 3) % 7  # Monday = 0


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, bars) -> None:
    write_bars_parquet(bars, tmp_path / "a.parquet")
    write_bars_parquet(generate_gold_bars(2025, DEFAULT_SEED), tmp_path / "b.parquet")
    write_bars_parquet(generate_gold_bars(2025, DEFAULT_SEED + 1), tmp_path / "c.parquet")
    first, again, other = ((tmp_path / name).read_bytes() for name in ("a.parquet", "b.parquet", "c.parquet"))
    assert first == again
    assert first != other


def test_cli_writes_the_same_bytes_and_summary(tmp_path: Path, bars) -> None:
    out = tmp_path / "bars" / "xauusd_m5_2025.parquet"
    command = [sys.executable, "-m", "gx1.synth", "--year", "2025", "--seed", str(DEFAULT_SEED), "--out", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{len(bars['time'])} bars" in result.stdout
    write_bars_parquet(bars, tmp_path / "direct.parquet")
    assert out.read_bytes() == (tmp_path / "direct.parquet").read_bytes()
    loaded = load_bars(out)
    assert all(np.array_equal(loaded[name], bars[name]) for name in bars)


def test_valid_m5_table_of_plausible_size(bars) -> None:
    validate_bars(bars)
    assert 65_000 <= len(bars["time"]) <= 75_000
    assert infer_interval_seconds(bars["time"]) == 300
    assert bars["time"][0] >= np.datetime64("2025-01-01") and bars["time"][-1] < np.datetime64("2026-01-01")


def test_trading_calendar(bars) -> None:
    time = bars["time"]
    hour, minute_of_day = utc_hour_minute(time)
    day = weekday(time)
    assert not np.any(day == 5), "bars on Saturday"
    assert not np.any(hour == 21), "bars in the 21:00-22:00 daily break"
    assert np.all(minute_of_day[day == 6] >= 22 * 60), "Sunday opens at 22:00"
    assert np.all(minute_of_day[day == 4] < 21 * 60), "Friday closes at 21:00"
    christmas = (time >= np.datetime64("2025-12-24T22:00")) & (time < np.datetime64("2025-12-25T22:00"))
    new_year = time < np.datetime64("2025-01-01T22:00")
    assert not christmas.any() and not new_year.any()
    assert np.any(day == 6) and np.sum(day == 2) > 10_000


def test_price_level_and_ohlc_ticks(bars) -> None:
    assert 2400 < bars["open"][0] < 2800
    assert 1500 < bars["low"].min() and bars["high"].max() < 6000
    for name in ("open", "high", "low", "close"):
        assert np.array_equal(np.round(bars[name], 2), bars[name]), f"{name} not on the 0.01 tick"
    median_range = np.median(bars["high"] - bars["low"])
    assert 0.3 < median_range < 6.0
    consecutive = np.diff(bars["time"]) == np.timedelta64(5, "m")
    open_gap = np.abs(bars["open"][1:] - bars["close"][:-1])[consecutive]
    assert np.median(open_gap) <= 0.05


def test_spread_typical_and_widening_around_the_break(bars) -> None:
    spread = bars["spread"]
    assert spread.min() > 0
    assert 0.15 <= np.median(spread) <= 0.40
    _, minute_of_day = utc_hour_minute(bars["time"])
    after_reopen = (minute_of_day >= 22 * 60) & (minute_of_day < 22 * 60 + 15)
    london_new_york = (minute_of_day >= 8 * 60) & (minute_of_day < 17 * 60)
    assert np.median(spread[after_reopen]) > 2.5 * np.median(spread[london_new_york])
    sunday_open = after_reopen & (weekday(bars["time"]) == 6)
    assert np.median(spread[sunday_open]) > np.median(spread[after_reopen & (weekday(bars["time"]) != 6)])


def test_volume_positive_and_follows_activity(bars) -> None:
    volume = bars["volume"]
    assert volume.min() >= 1 and np.array_equal(volume, np.round(volume))
    hour, _ = utc_hour_minute(bars["time"])
    assert np.median(volume[(hour >= 13) & (hour < 16)]) > 2 * np.median(volume[(hour >= 1) & (hour < 5)])


def test_fat_tails_and_volatility_clustering(bars) -> None:
    consecutive = np.diff(bars["time"]) == np.timedelta64(5, "m")
    returns = np.diff(np.log(bars["close"]))[consecutive]
    standardised = (returns - returns.mean()) / returns.std()
    assert np.mean(standardised**4) - 3 > 1, "no fat tails"
    # Remove intraday seasonality first, so that clustering is not just the daily pattern.
    _, minute_of_day = utc_hour_minute(bars["time"][1:][consecutive])
    absolute = np.abs(returns)
    mean_by_minute = np.bincount(minute_of_day, absolute, 1440) / np.maximum(np.bincount(minute_of_day, minlength=1440), 1)
    deseasonalised = absolute / mean_by_minute[minute_of_day] - 1
    for lag in (1, 288):
        autocorrelation = np.mean(deseasonalised[lag:] * deseasonalised[:-lag]) / np.var(deseasonalised)
        assert autocorrelation > 0.03, f"|returns| autocorrelation at lag {lag} is {autocorrelation:.3f}"


def test_other_intervals_and_bad_interval() -> None:
    hourly = generate_gold_bars(2025, 1, interval_minutes=60)
    validate_bars(hourly)
    assert infer_interval_seconds(hourly["time"]) == 3600
    assert 5_000 < len(hourly["time"]) < 6_500
    with pytest.raises(InputError):
        generate_gold_bars(2025, 1, interval_minutes=7)
