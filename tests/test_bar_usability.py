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
