"""Bars loader: every dialect gives the same table; bad bars are rejected with the first bad row."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gx1.bars import (
    BAR_COLUMNS,
    bars_to_arrow,
    infer_interval_seconds,
    load_bars,
    validate_bars,
    write_bars_parquet,
)
from gx1.common import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_bars(count: int = 300, interval_seconds: int = 300, with_spread: bool = True, seed: int = 7) -> dict[str, np.ndarray]:
    """Consistent bars with 2-decimal prices, whole-number volume and whole-point spreads."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-02T00:00:00", "ns")
    time = start + np.arange(count) * np.timedelta64(interval_seconds, "s")
    close = np.round(2600 + np.cumsum(rng.normal(0, 1.5, count)), 2)
    open_ = np.round(np.concatenate(([2600.0], close[:-1])), 2)
    high = np.round(np.maximum(open_, close) + rng.integers(0, 80, count) / 100, 2)
    low = np.round(np.minimum(open_, close) - rng.integers(0, 80, count) / 100, 2)
    spread_points = rng.integers(12, 60, count) if with_spread else np.zeros(count, dtype=int)
    return {
        "time": time,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": rng.integers(1, 3000, count).astype(np.float64),
        "spread": spread_points / 100,
    }


def iso_times(bars: dict[str, np.ndarray]) -> list[str]:
    return [text.replace("T", " ") for text in np.datetime_as_string(bars["time"], unit="s")]


def prices(bars: dict[str, np.ndarray], index: int) -> list[str]:
    return [f"{bars[name][index]:.2f}" for name in ("open", "high", "low", "close")]


def write_generic_csv(bars: dict[str, np.ndarray], path: Path) -> None:
    lines = ["time,open,high,low,close,volume,spread"]
    for i, stamp in enumerate(iso_times(bars)):
        lines.append(",".join([stamp, *prices(bars, i), f"{bars['volume'][i]:.0f}", f"{bars['spread'][i]:.2f}"]))
    path.write_text("\n".join(lines) + "\n")


def write_mt5_csv(bars: dict[str, np.ndarray], path: Path, with_seconds: bool = True) -> None:
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for i, stamp in enumerate(iso_times(bars)):
        date, clock = stamp.split(" ")
        clock = clock if with_seconds else clock[:5]
        points = round(bars["spread"][i] * 100)
        lines.append("\t".join([date.replace("-", "."), clock, *prices(bars, i), f"{bars['volume'][i]:.0f}", "0", str(points)]))
    path.write_text("\r\n".join(lines) + "\r\n")


def write_dukascopy_csv(bars: dict[str, np.ndarray], path: Path) -> None:
    lines = ["Gmt time,Open,High,Low,Close,Volume"]
    for i, stamp in enumerate(iso_times(bars)):
        date, clock = stamp.split(" ")
        year, month, day = date.split("-")
        lines.append(",".join([f"{day}.{month}.{year} {clock}.000", *prices(bars, i), f"{bars['volume'][i]:.0f}"]))
    path.write_text("\n".join(lines) + "\n")


def write_semicolon_date_time_csv(bars: dict[str, np.ndarray], path: Path) -> None:
    lines = ["Date;Time;Open;High;Low;Close;Tick_Volume;Spread"]
    for i, stamp in enumerate(iso_times(bars)):
        date, clock = stamp.split(" ")
        lines.append(";".join([date, clock, *prices(bars, i), f"{bars['volume'][i]:.0f}", f"{bars['spread'][i]:.2f}"]))
    path.write_text("\n".join(lines) + "\n")


def assert_same_bars(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert tuple(actual) == BAR_COLUMNS
    assert actual["time"].dtype == np.dtype("datetime64[ns]")
    for name in BAR_COLUMNS:
        if name != "time":
            assert actual[name].dtype == np.float64, name
        assert np.array_equal(actual[name], expected[name]), name


# ----------------------------------------------------------------------------- dialects


@pytest.mark.parametrize("writer", [write_generic_csv, write_mt5_csv, write_semicolon_date_time_csv])
def test_csv_dialects_with_spread_match_the_reference(tmp_path: Path, writer) -> None:
    bars = make_bars()
    path = tmp_path / "bars.csv"
    writer(bars, path)
    assert_same_bars(load_bars(path), bars)


def test_mt5_time_without_seconds(tmp_path: Path) -> None:
    bars = make_bars(50)
    write_mt5_csv(bars, tmp_path / "mt5.txt", with_seconds=False)
    assert_same_bars(load_bars(tmp_path / "mt5.txt"), bars)


def test_mt5_spread_points_scaled_by_point_size(tmp_path: Path) -> None:
    bars = make_bars(20)
    write_mt5_csv(bars, tmp_path / "mt5.csv")
    loaded = load_bars(tmp_path / "mt5.csv", point_size=0.001)
    assert np.array_equal(loaded["spread"], np.round(bars["spread"] * 100) / 1000)


def test_mt5_point_size_defaults_to_the_prices_last_decimal(tmp_path: Path, capsys) -> None:
    """EURUSD-like prices with five decimals: 12 points of spread are 0.00012, not gold's 12 x 0.01."""
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for hour in range(30):
        lines.append(f"2025.03.03\t{hour % 24:02d}:00:00\t1.0812{hour % 10}\t1.08200\t1.0801\t1.08150\t100\t0\t{10 + hour}")
    path = tmp_path / "eurusd_h1.csv"
    path.write_text("\r\n".join(lines[:25]) + "\r\n")
    loaded = load_bars(path)
    assert np.array_equal(loaded["spread"], np.round((10 + np.arange(24)) * 1e-5, 5))
    assert "point size 1e-05" in capsys.readouterr().err
    assert np.array_equal(load_bars(path, point_size=0.0001)["spread"], np.round((10 + np.arange(24)) * 1e-4, 4))


def test_all_dialects_and_parquet_give_identical_tables(tmp_path: Path) -> None:
    bars = make_bars(with_spread=False)  # Dukascopy has no spread column
    write_generic_csv(bars, tmp_path / "generic.csv")
    write_mt5_csv(bars, tmp_path / "mt5.csv")
    write_dukascopy_csv(bars, tmp_path / "dukascopy.csv")
    write_bars_parquet(bars, tmp_path / "bars.parquet")
    loaded = [load_bars(tmp_path / name) for name in ("generic.csv", "mt5.csv", "dukascopy.csv", "bars.parquet")]
    for table in loaded:
        assert_same_bars(table, bars)


def test_parquet_with_other_timezone_and_unit_is_converted_to_utc(tmp_path: Path) -> None:
    bars = make_bars(30)
    milliseconds = bars["time"].astype("datetime64[ms]").view(np.int64)
    columns = {
        "Timestamp": pa.array(milliseconds, type=pa.timestamp("ms", tz="America/New_York")),
        **{name.upper(): pa.array(bars[name]) for name in BAR_COLUMNS[1:]},
    }
    pq.write_table(pa.table(columns), tmp_path / "ny.parquet")
    assert_same_bars(load_bars(tmp_path / "ny.parquet"), bars)


def test_parquet_with_iso_string_times_and_missing_optional_columns(tmp_path: Path) -> None:
    bars = make_bars(30)
    stamps = [text + "Z" for text in np.datetime_as_string(bars["time"], unit="s")]
    table = pa.table({"datetime": stamps, **{name: bars[name] for name in ("open", "high", "low", "close")}})
    pq.write_table(table, tmp_path / "strings.parquet")
    loaded = load_bars(tmp_path / "strings.parquet")
    expected = {**bars, "volume": np.zeros(30), "spread": np.zeros(30)}
    assert_same_bars(loaded, expected)


def test_offset_times_are_converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "offset.csv"
    path.write_text("time,open,high,low,close\n2025-01-02T02:05:00+02:00,1,2,1,2\n2025-01-02T02:10:00+02:00,2,2,1,1\n")
    loaded = load_bars(path)
    assert loaded["time"][0] == np.datetime64("2025-01-02T00:05:00", "ns")


def test_parquet_output_schema_and_deterministic_bytes(tmp_path: Path) -> None:
    bars = make_bars()
    write_bars_parquet(bars, tmp_path / "a.parquet")
    write_bars_parquet(bars, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    schema = pq.read_schema(tmp_path / "a.parquet")
    assert schema.names == list(BAR_COLUMNS)
    assert schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert all(schema.field(name).type == pa.float64() for name in BAR_COLUMNS[1:])
    assert bars_to_arrow(bars).schema.equals(schema, check_metadata=False)


def test_cli_writes_normalised_parquet(tmp_path: Path) -> None:
    bars = make_bars()
    write_mt5_csv(bars, tmp_path / "mt5.csv")
    result = run_bars_cli(tmp_path / "mt5.csv", tmp_path / "out.parquet")
    assert result.returncode == 0, result.stderr
    assert "300 rows" in result.stdout and "M5" in result.stdout and "mt5" in result.stdout
    assert_same_bars(load_bars(tmp_path / "out.parquet"), bars)


# ----------------------------------------------------------------------------- intervals


@pytest.mark.parametrize("seconds", [60, 300, 900, 3600])
def test_interval_inference_with_gaps(seconds: int) -> None:
    time = make_bars(200, interval_seconds=seconds)["time"]
    time = np.concatenate([time[:50], time[52:120], time[120:] + np.timedelta64(2, "D")])  # a hole and a weekend
    assert infer_interval_seconds(time) == seconds


def test_interval_inference_needs_two_bars() -> None:
    with pytest.raises(InputError):
        infer_interval_seconds(make_bars(1)["time"])


# ----------------------------------------------------------------------------- bad bars


def run_bars_cli(input_path: Path, output_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gx1.bars", "--input", str(input_path), "--output", str(output_path), *extra]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def generic_rows(count: int = 20) -> list[list[str]]:
    bars = make_bars(count)
    return [[stamp, *prices(bars, i), f"{bars['volume'][i]:.0f}", f"{bars['spread'][i]:.2f}"] for i, stamp in enumerate(iso_times(bars))]


HEADER = ["time", "open", "high", "low", "close", "volume", "spread"]


def corrupt(row_number: int, column: str, value: str) -> list[list[str]]:
    rows = generic_rows()
    rows[row_number - 1][HEADER.index(column)] = value
    return rows


def duplicate_time_rows() -> list[list[str]]:
    rows = generic_rows()
    rows[8][0] = rows[7][0]  # row 9 repeats row 8's time
    return rows


def unsorted_rows() -> list[list[str]]:
    rows = generic_rows()
    rows[10], rows[11] = rows[11], rows[10]  # row 12 is earlier than row 11
    return rows


def high_below_low_rows() -> list[list[str]]:
    rows = generic_rows()
    rows[4][2] = f"{float(rows[4][3]) - 0.5:.2f}"  # row 5: high = low - 0.5
    return rows


def table_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    return "\n".join([",".join(header)] + [",".join(row) for row in rows]) + "\n"


BAD_FILES = {
    "missing column": (table_text([row[:4] + row[5:] for row in generic_rows()], HEADER[:4] + HEADER[5:]), ["missing required column 'close'", "columns found"], None),
    "nan": (table_text(corrupt(7, "open", "nan")), ["open is nan"], 7),
    "inf": (table_text(corrupt(8, "close", "inf")), ["close is inf"], 8),
    "duplicate time": (table_text(duplicate_time_rows()), ["duplicate time"], 9),
    "unsorted time": (table_text(unsorted_rows()), ["earlier than row 11"], 12),
    "high below low": (table_text(high_below_low_rows()), ["high", "< low"], 5),
    "non-positive price": (table_text(corrupt(4, "open", "0")), ["open 0.0 <= 0"], 4),
    "negative volume": (table_text(corrupt(3, "volume", "-5")), ["volume -5.0 < 0"], 3),
    "empty file": ("", ["empty"], None),
    "header only": ("time,open,high,low,close\n", ["no data rows"], None),
    "non-numeric price": (table_text(corrupt(13, "close", "abc")), ["close is not a number", "'abc'"], 13),
    "bad time": (table_text(corrupt(6, "time", "2025-13-45 00:00:00")), ["not a recognised date-time", "2025-13-45"], 6),
    "short row": (table_text(generic_rows()[:9] + [generic_rows()[9][:3]] + generic_rows()[10:]), ["expected 7 fields, found 3"], 10),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_bars_exit_2_with_one_line_and_no_output(tmp_path: Path, case: str) -> None:
    text, expected_fragments, bad_row = BAD_FILES[case]
    input_path = tmp_path / "bars.csv"
    input_path.write_text(text)
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    result = run_bars_cli(input_path, output_dir / "bars.parquet")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in expected_fragments:
        assert fragment in lines[0], lines[0]
    if bad_row is not None:
        assert f"row {bad_row} " in lines[0] or f"row {bad_row}:" in lines[0], lines[0]
    assert list(output_dir.iterdir()) == []
    assert result.stdout == ""


def test_cli_rejects_unknown_flags(tmp_path: Path) -> None:
    write_generic_csv(make_bars(10), tmp_path / "bars.csv")
    result = run_bars_cli(tmp_path / "bars.csv", tmp_path / "out.parquet", "--bogus", "1")
    assert result.returncode == 2
    assert not (tmp_path / "out.parquet").exists()


def test_validate_bars_reports_first_bad_row_across_checks() -> None:
    bars = make_bars(30)
    bars["high"][20] = bars["low"][20] - 1.0  # later problem
    bars["time"][10] = bars["time"][9]  # earlier problem wins
    with pytest.raises(InputError, match=r"^row 11 \(time=2025-01-02T00:45:00\): duplicate time"):
        validate_bars(bars)


def test_validate_bars_low_above_body() -> None:
    bars = make_bars(30)
    bars["low"][16] = min(bars["open"][16], bars["close"][16]) + 0.01
    bars["high"][16] = max(bars["high"][16], bars["low"][16])
    with pytest.raises(InputError, match=r"^row 17 .*low .* > min\(open"):
        validate_bars(bars)
