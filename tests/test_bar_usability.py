"""Bars a new user brings (issue 14.4): an index column without a header, missing spread/volume made
explicit, and bars too coarse or too few refused with one line that gives the minimum."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import make_bars
from gx1.bars import load_bars, write_bars_parquet
from gx1.dataset import WARM_UP_BARS, build_dataset, dataset_stats, min_bars
from gx1.features import LabelConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


def dataset_cli(bars_path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gx1.dataset", "--bars", str(bars_path), "--out", str(tmp_path / "d.parquet"),
                           *extra], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_csv_whose_time_column_has_no_header(tmp_path):
    bars = make_bars(30)
    stamps = np.datetime_as_string(bars["time"], unit="s")
    lines = [",open,high,low,close"] + [f"{stamps[i].replace('T', ' ')},{bars['open'][i]:.2f},{bars['high'][i]:.2f},"
                                        f"{bars['low'][i]:.2f},{bars['close'][i]:.2f}" for i in range(30)]
    (tmp_path / "indexed.csv").write_text("\n".join(lines) + "\n")
    loaded = load_bars(tmp_path / "indexed.csv")
    assert np.array_equal(loaded["time"].astype("datetime64[s]"), bars["time"].astype("datetime64[s]"))
    assert np.allclose(loaded["close"], bars["close"])


def test_minimum_bars_is_exact():
    cfg = LabelConfig()
    assert min_bars(cfg) == WARM_UP_BARS + cfg.seq_len + cfg.horizon_bars
    assert dataset_stats(build_dataset(make_bars(min_bars(cfg)), cfg))["eligible_rows"] == 1
    assert dataset_stats(build_dataset(make_bars(min_bars(cfg) - 1), cfg))["eligible_rows"] == 0


def test_too_few_too_coarse_and_gappy_bars_get_one_line_with_the_minimum(tmp_path):
    short = tmp_path / "short.parquet"
    write_bars_parquet(make_bars(min_bars(LabelConfig()) - 1), short)
    result = dataset_cli(short, tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"need at least {min_bars(LabelConfig())} consecutive bars" in result.stderr

    monthly = tmp_path / "monthly.parquet"
    write_bars_parquet(make_bars(500, interval_minutes=30 * 24 * 60), monthly)
    result = dataset_cli(monthly, tmp_path)
    assert result.returncode == 2 and "too coarse" in result.stderr and "1 day or shorter" in result.stderr, result.stderr

    hourly = tmp_path / "hourly.parquet"
    write_bars_parquet(make_bars(2000, interval_minutes=60), hourly)
    result = dataset_cli(hourly, tmp_path, "--max_gap_minutes", "30")
    assert result.returncode == 2 and "raise --max_gap_minutes above 60" in result.stderr, result.stderr
    assert not (tmp_path / "d.parquet").exists()


def test_missing_spread_and_volume_are_named(tmp_path):
    bars = make_bars(1000)
    bars["spread"] = np.zeros(1000)
    path = tmp_path / "nospread.parquet"
    write_bars_parquet(bars, path)
    result = dataset_cli(path, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: spread is 0 on every bar" in result.stderr and "spread_bps" in result.stderr
    assert "volume is 0" not in result.stderr


def reference_gap_flags(time: np.ndarray, limit_minutes: float, weekend_gaps: bool) -> np.ndarray:
    """The gap rule step by step with datetime arithmetic (no shared code)."""
    import datetime as dt
    stamps = [dt.datetime.fromisoformat(str(t)[:19]) for t in time.astype("datetime64[s]")]
    flags = [False]
    for before, after in zip(stamps[:-1], stamps[1:]):
        long_step = (after - before).total_seconds() / 60 > limit_minutes
        days = [before.date() + dt.timedelta(days=k) for k in range((after.date() - before.date()).days + 1)]
        weekend = any(day.weekday() == 5 for day in days) and (after - before) <= dt.timedelta(days=4)
        flags.append(long_step and not (weekend_gaps and weekend))
    return np.array(flags)


def test_gap_rule_scales_with_the_interval_and_can_tolerate_weekends():
    from gx1.features import gap_flags
    from gx1.synth import generate_bars
    hourly = generate_bars("EURUSD", 2025, 2025, 3, interval_minutes=60)
    time = hourly["time"]
    time = np.concatenate([time[:1500], time[1548:]])  # two days missing mid-week: a gap in any mode
    for weekend_gaps in (False, True):
        cfg = LabelConfig(max_gap_minutes=0, weekend_gaps=weekend_gaps)  # 0 = 14 bars: 840 minutes at H1
        assert np.array_equal(gap_flags(time, cfg, 3600), reference_gap_flags(time, 840, weekend_gaps))
    assert gap_flags(time, LabelConfig(max_gap_minutes=0), 300).sum() > gap_flags(time, LabelConfig(max_gap_minutes=0), 3600).sum()

    def monday_rows(cfg: LabelConfig) -> tuple[int, int]:
        columns = build_dataset(hourly, cfg)
        monday = columns["day_of_week"] == 0
        return int((columns["eligible"] & monday).sum()), int(monday.sum())
    assert monday_rows(LabelConfig(max_gap_minutes=70))[0] == 0  # the M5 limit at H1: no row at all
    assert monday_rows(LabelConfig())[0] == 0  # 14 bars, weekends are gaps: every Monday window crosses one
    eligible, mondays = monday_rows(LabelConfig(weekend_gaps=True))
    assert eligible > 0.9 * mondays


def test_auto_gap_limit_at_m5_is_the_old_70_minutes():
    from gx1.synth import generate_gold_bars
    bars = {k: v[:20_000] for k, v in generate_gold_bars(2025, 5).items()}
    auto, fixed = build_dataset(bars, LabelConfig()), build_dataset(bars, LabelConfig(max_gap_minutes=70))
    assert np.array_equal(auto["eligible"], fixed["eligible"]) and 0 < auto["eligible"].sum() < len(auto["eligible"])
