"""Bars: the OHLCV input table, its loader, its checks and its normalised parquet form.

Run it to normalise a user's file (exit 2 with one line on stderr if the bars are bad):

    python -m gx1.bars --input my_xauusd_m5.csv --output data/bars/my_bars.parquet
    python -m gx1.bars --input mt5_export.csv --output data/bars/b.parquet [--point_size 0.01]

A bars table is ``dict[str, np.ndarray]`` with exactly the keys of ``BAR_COLUMNS``,
all the same length: ``time`` is ``datetime64[ns]`` (UTC, tz-naive), the rest float64
(``spread`` in price units). Accepted inputs: ``.parquet``, or CSV in one of three
dialects sniffed from the header:

* generic:   ``time,open,high,low,close[,volume][,spread]`` (case-insensitive; aliases
  such as ``timestamp``, ``datetime``, ``date`` + ``time``, ``tick_volume``; comma,
  semicolon or tab separated; ISO-like times, optionally with ``Z``/``+hh:mm``)
* mt5:       ``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>``,
  dates ``2025.01.02``; volume is TICKVOL, SPREAD is in points (x ``--point_size``; by default one unit
  of the prices' last decimal)
* dukascopy: ``Gmt time,Open,High,Low,Close,Volume`` with times ``02.01.2025 00:05:00.000``
"""
from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gx1.common import ArgumentParser, InputError, atomic_path, file_problem, printable, run_cli

BAR_COLUMNS = ("time", "open", "high", "low", "close", "volume", "spread")
PRICE_COLUMNS = ("open", "high", "low", "close")
OPTIONAL_COLUMNS = ("volume", "spread")

# Normalised header name -> bars column; the first alias present wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "datetime", "date_time", "gmt_time", "time_utc", "timestamp_utc"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "tick_volume", "tickvol", "tick_vol", "vol", "real_volume"),
    "spread": ("spread",),
}
TIME_FORMAT_HINT = "expected e.g. 2025-01-02 00:05:00, 2025.01.02 00:05 or 02.01.2025 00:05:00.000"
_ZONE_OFFSET = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
_INTERVAL_NAMES = {60: "M1", 300: "M5", 900: "M15", 1800: "M30", 3600: "H1", 14400: "H4", 86400: "D1"}
MIN_HEADER_FIELDS = 5  # time, open, high, low, close: a first line with fewer fields is not a bars header
MAX_HEADER_BYTES = 1 << 16
MAX_LISTED_NAMES, MAX_NAME_CHARS, MAX_CELL_CHARS = 12, 32, 40


# ----------------------------------------------------------------------------- parsing helpers


def _normalise_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip("<>").strip().lower().replace(" ", "_")


def listed_names(names: list[str]) -> str:
    """Column names for a message: at most MAX_LISTED_NAMES, each cut to MAX_NAME_CHARS and escaped."""
    shown = [printable(n if len(n) <= MAX_NAME_CHARS else n[:MAX_NAME_CHARS - 3] + "...") for n in names[:MAX_LISTED_NAMES]]
    more = f" (+{len(names) - MAX_LISTED_NAMES} more)" if len(names) > MAX_LISTED_NAMES else ""
    return (", ".join(shown) or "(none)") + more


def _cell(value: object) -> str:
    """A cell value for a message: repr, escaped, at most MAX_CELL_CHARS."""
    text = printable(repr(value))
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS - 3] + "..."


def _first_failing_index(values: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> int | None:
    """Index of the first element ``convert`` rejects (bisection over prefixes; None if all pass)."""
    try:
        convert(values)
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    good, bad = 0, len(values)  # prefix of length `good` converts, of length `bad` does not
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            convert(values.slice(0, middle))
            good = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = middle
    return bad - 1


def _to_float(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.utf8_trim_whitespace(values)
    return pc.cast(values, pa.float64())


def _canonical_time_strings(values: pa.Array) -> pa.Array:
    """Rewrite ``2025.01.02``/``2025/01/02`` and ``02.01.2025`` dates as ISO ``2025-01-02``."""
    values = pc.utf8_trim_whitespace(values)
    values = pc.replace_substring_regex(values, r"^(\d{4})[./](\d{2})[./](\d{2})", r"\1-\2-\3")
    return pc.replace_substring_regex(values, r"^(\d{2})\.(\d{2})\.(\d{4})", r"\3-\2-\1")


def _to_utc_nanoseconds(values: pa.Array) -> pa.Array:
    """Timestamps (any unit, tz-aware or naive) or ISO strings -> int64 ns since epoch, UTC."""
    if pa.types.is_timestamp(values.type):
        return values.cast(pa.timestamp("ns", tz=values.type.tz)).cast(pa.int64())
    if pa.types.is_date(values.type):
        return values.cast(pa.timestamp("ns")).cast(pa.int64())
    has_offset = len(values) > 0 and pc.match_substring_regex(values.slice(0, 1), _ZONE_OFFSET)[0].as_py()
    target = pa.timestamp("ns", tz="UTC") if has_offset else pa.timestamp("ns")
    return pc.cast(values, target).cast(pa.int64())


def _time_column(raw: pa.Array) -> np.ndarray:
    """Parse a time column (strings or timestamps) into datetime64[ns] UTC; name the first bad row."""
    if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
        canonical = _canonical_time_strings(raw)
        bad = _first_failing_index(canonical, _to_utc_nanoseconds)
        if bad is not None:
            raise InputError(f"row {bad + 1}: time {_cell(raw[bad].as_py())} is not a recognised date-time "
                             f"({TIME_FORMAT_HINT})")
        nanoseconds = _to_utc_nanoseconds(canonical)
    elif pa.types.is_timestamp(raw.type) or pa.types.is_date(raw.type):
        try:
            nanoseconds = _to_utc_nanoseconds(raw)
        except (pa.ArrowInvalid, OverflowError) as exc:  # e.g. year 3000 in microseconds overflows nanoseconds
            raise InputError(f"time column holds dates outside 1678..2261 (what nanosecond timestamps can hold): "
                             f"{str(exc).splitlines()[0][:120]}") from None
    else:  # epoch numbers are ambiguous (s? ms? ns?): ask for real timestamps
        raise InputError(f"time column has type {raw.type}; expected timestamps or ISO date-time strings")
    return nanoseconds.to_numpy(zero_copy_only=False).astype("datetime64[ns]")


def _bars_from_table(table: pa.Table, spread_scale: float | None = None, typed: bool = False) -> dict[str, np.ndarray]:
    """Map a raw table (any header dialect, string or numeric cells) onto a bars table. ``typed`` (parquet): the
    price, volume and spread columns must be numbers (integer, float or decimal; a boolean or text column is
    refused, never read as 1.0 or parsed)."""
    found: dict[str, str] = {}
    for raw_name in table.column_names:
        found.setdefault(_normalise_header(raw_name), raw_name)
    columns: dict[str, str] = {}
    for column, aliases in COLUMN_ALIASES.items():
        match = next((found[alias] for alias in aliases if alias in found), None)
        if match is not None:
            columns[column] = match
    if "time" not in columns and "date" in found:
        columns["time"] = found["date"]
    if "time" not in columns and table.column_names and _normalise_header(table.column_names[0]) in ("", "index", "unnamed:_0"):
        columns["time"] = table.column_names[0]  # an index written without a name (pandas' to_csv, many tools)
    missing = [name for name in ("time",) + PRICE_COLUMNS if name not in columns]
    if missing:
        raise InputError(
            f"missing required column {missing[0]!r}; columns found: {listed_names(table.column_names)}; "
            f"need time, open, high, low, close (volume, spread optional)"
        )
    if table.num_rows == 0:
        raise InputError("no data rows: the file has a header but no bars")
    if typed:
        for name in BAR_COLUMNS[1:]:
            kind = table.schema.field(columns[name]).type if name in columns else None
            numeric = kind is None or pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            if not numeric:
                raise InputError(f"column {printable(columns[name])[:MAX_NAME_CHARS]} ({name}) holds {kind}, not numbers: "
                                 f"store {', '.join(BAR_COLUMNS[1:])} as numbers (float64)")

    if "date" in found and "time" in found:  # separate date and time-of-day columns (MT5, some exports)
        raw_time = pc.binary_join_element_wise(table[found["date"]], table[found["time"]], " ")
    else:
        raw_time = table[columns["time"]]
    time = _time_column(raw_time.combine_chunks())

    def row_label(index: int) -> str:
        return f"row {index + 1} (time={np.datetime_as_string(time[index], unit='s')})"

    bars: dict[str, np.ndarray] = {"time": time}
    parse_errors: list[tuple[int, str]] = []
    for name in BAR_COLUMNS[1:]:
        if name not in columns:
            bars[name] = np.zeros(table.num_rows, dtype=np.float64)
            continue
        values = table[columns[name]].combine_chunks()
        bad = _first_failing_index(values, _to_float)
        if bad is not None:
            parse_errors.append((bad, f"{row_label(bad)}: {name} is not a number: {_cell(values[bad].as_py())}"))
            continue
        bars[name] = _to_float(values).to_numpy(zero_copy_only=False).astype(np.float64)
    if parse_errors:
        raise InputError(min(parse_errors)[1])
    if spread_scale == AUTO_POINT_SIZE:  # MT5 writes prices with the symbol's digits: the point is one unit of the last
        digits = price_decimals(table, [columns[n] for n in ("open", "high", "low", "close") if n in columns])
        spread_scale = 10.0 ** -digits
        print(f"MT5 <SPREAD> in points x point size {spread_scale:g} (the prices' {digits} decimals; "
              "--point_size sets it)", file=sys.stderr)
    if spread_scale is not None:  # points -> price units, rounded to the point's decimals (57 * 0.01 -> 0.57 exactly)
        decimal_places = max(0, -int(Decimal(repr(spread_scale)).normalize().as_tuple().exponent))
        bars["spread"] = np.round(bars["spread"] * spread_scale, decimal_places)
    return bars


AUTO_POINT_SIZE = 0.0  # point_size 0: an MT5 point is one unit of the prices' last decimal (EURUSD 1.08123 -> 0.00001)


def price_decimals(table: pa.Table, names: list[str]) -> int:
    """The most decimals any price of these text columns is written with (0 for whole numbers)."""
    most = 0
    for name in names:
        text = np.asarray(table[name].combine_chunks().to_numpy(zero_copy_only=False), dtype=str)
        fractions = np.char.partition(np.char.strip(text), ".")[:, 2]
        most = max(most, int(np.char.str_len(fractions).max(initial=0)))
    return most


def _read_csv_table(path: Path) -> tuple[pa.Table, str]:
    """A CSV bars file as a table of text columns, and its dialect. A first line that is not a header of at least
    MIN_HEADER_FIELDS comma-, semicolon- or tab-separated names is "not a bars table", never quoted."""
    with open(path, "rb") as handle:
        raw_header = handle.readline(MAX_HEADER_BYTES + 1)
    not_a_table = ("not a bars table: its first line is not a header such as time,open,high,low,close,volume,spread "
                   "(comma, semicolon or tab separated)")
    if len(raw_header) > MAX_HEADER_BYTES or b"\0" in raw_header:
        raise InputError(not_a_table)
    header_line = raw_header.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not header_line.strip():
        raise InputError("file is empty: expected a header line such as time,open,high,low,close,volume,spread")
    delimiter = max("\t;,", key=header_line.count)
    names = [name.strip().strip("\"'") for name in header_line.split(delimiter)]
    if len(names) < MIN_HEADER_FIELDS:
        raise InputError(not_a_table)
    normalised = [_normalise_header(name) for name in names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"the header names {listed_names(duplicates)} more than once: give every column its own name")
    if names[0].lstrip("\ufeff").startswith("<"):
        dialect = "mt5"
    elif normalised[0] == "gmt_time":
        dialect = "dukascopy"
    else:
        dialect = "generic"

    malformed: list[str] = []

    def remember_malformed(row: pa_csv.InvalidRow) -> str:
        if not malformed:
            malformed.append(f"row {row.number - 1}: expected {row.expected_columns} fields, found {row.actual_columns}")
        return "skip"

    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=remember_malformed),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names}),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"not a readable CSV file: {str(exc).splitlines()[0]}") from None
    if malformed:
        raise InputError(malformed[0])
    return table, dialect


def _read_bars(path: str | os.PathLike, point_size: float) -> tuple[dict[str, np.ndarray], str]:
    source = Path(path)
    problem = file_problem(source)
    if problem:
        raise InputError(problem)
    if not (0 < point_size <= 1e6 or point_size == AUTO_POINT_SIZE):  # NaN and inf fail too
        raise InputError(f"point_size must be a positive finite price (e.g. 0.01 for XAUUSD) or 0 (from the prices' "
                         f"decimals), got {point_size}")
    if source.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(source)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable parquet file: {str(exc).splitlines()[0]}") from None
        dialect = "parquet"
    else:
        table, dialect = _read_csv_table(source)
    bars = _bars_from_table(table, spread_scale=point_size if dialect == "mt5" else None, typed=dialect == "parquet")
    return bars, dialect


def _load_validated_bars(path: str | os.PathLike, point_size: float) -> tuple[dict[str, np.ndarray], str]:
    """Read and validate; errors are prefixed with the file path. Returns (bars, dialect name)."""
    try:
        bars, dialect = _read_bars(path, point_size)
        validate_bars(bars)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return bars, dialect


# ----------------------------------------------------------------------------- public API


def load_bars(path: str | os.PathLike, point_size: float = AUTO_POINT_SIZE) -> dict[str, np.ndarray]:
    """Read bars from ``.parquet`` or CSV (generic, MT5 or Dukascopy), validated; raise InputError if bad.

    ``point_size`` converts an MT5 ``<SPREAD>`` in points to price units (0.01 for XAUUSD); 0 (the default)
    takes one unit of the prices' last decimal, as MT5 writes prices with the symbol's digits.
    """
    return _load_validated_bars(path, point_size)[0]


MAX_PRICE = 1e9  # far above any traded price; beyond it ATR and returns overflow float32 features


def validate_bars(bars: dict[str, np.ndarray]) -> None:
    """Raise InputError naming the problem and the first bad row (rows numbered from 1)."""
    missing = [name for name in BAR_COLUMNS if name not in bars]
    if missing:
        raise InputError(f"missing required column {missing[0]!r}; columns found: {', '.join(bars) or '(none)'}")
    lengths = {name: len(bars[name]) for name in BAR_COLUMNS}
    if len(set(lengths.values())) != 1:
        raise InputError(f"columns have different lengths: {lengths}")
    if lengths["time"] == 0:
        raise InputError("no data rows: need at least one bar")

    time = np.asarray(bars["time"]).astype("datetime64[ns]")
    values = {name: np.asarray(bars[name], dtype=np.float64) for name in BAR_COLUMNS[1:]}
    open_, high, low, close = (values[name] for name in PRICE_COLUMNS)
    earlier = np.zeros(len(time), dtype=bool)
    earlier[1:] = time[1:] <= time[:-1]

    def row(index: int) -> str:
        return f"row {index + 1} (time={np.datetime_as_string(time[index], unit='s')})"

    # (bad-row mask, message for a bad row); the earliest bad row wins, ties go to the first check.
    checks: list[tuple[np.ndarray, Callable[[int], str]]] = [
        (np.isnat(time), lambda i: f"row {i + 1}: time is missing"),
    ]
    for name, column in values.items():
        checks.append((~np.isfinite(column), lambda i, n=name, c=column: f"{row(i)}: {n} is {c[i]} (NaN/inf not allowed)"))
    for name in PRICE_COLUMNS:
        checks.append((values[name] <= 0, lambda i, n=name: f"{row(i)}: {n} {values[n][i]} <= 0 (prices must be positive)"))
        checks.append((values[name] > MAX_PRICE,
                       lambda i, n=name: f"{row(i)}: {n} {values[n][i]} > {MAX_PRICE:g} (not a price: check the column)"))
    for name in OPTIONAL_COLUMNS:
        checks.append((values[name] < 0, lambda i, n=name: f"{row(i)}: {n} {values[n][i]} < 0 (must be >= 0)"))
    checks += [
        (high < low, lambda i: f"{row(i)}: high {high[i]} < low {low[i]}"),
        (low > np.minimum(open_, close), lambda i: f"{row(i)}: low {low[i]} > min(open {open_[i]}, close {close[i]})"),
        (high < np.maximum(open_, close), lambda i: f"{row(i)}: high {high[i]} < max(open {open_[i]}, close {close[i]})"),
        (earlier, lambda i: (
            f"{row(i)}: duplicate time (same as row {i})" if time[i] == time[i - 1]
            else f"{row(i)}: time is earlier than row {i} ({np.datetime_as_string(time[i - 1], unit='s')}); sort the bars by time"
        )),
    ]
    first_bad = [(int(np.argmax(mask)), order) for order, (mask, _) in enumerate(checks) if mask.any()]
    if first_bad:
        index, order = min(first_bad)
        raise InputError(checks[order][1](index))


def infer_interval_seconds(time: np.ndarray) -> int:
    """The most common positive gap between consecutive bars, in seconds (ties: the smallest)."""
    if len(time) < 2:
        raise InputError(f"need at least 2 bars to infer the bar interval, got {len(time)}")
    nanoseconds = np.asarray(time).astype("datetime64[ns]").view(np.int64)
    steps = np.diff(nanoseconds)
    steps = steps[steps > 0]
    if len(steps) == 0:
        raise InputError("cannot infer the bar interval: no two bars have increasing times")
    unique_steps, counts = np.unique(steps, return_counts=True)
    return int(unique_steps[np.argmax(counts)] // 1_000_000_000)


def interval_name(seconds: int) -> str:
    """``300`` -> ``"M5"``, ``3600`` -> ``"H1"``; other values as ``"<n>s"``."""
    return _INTERVAL_NAMES.get(seconds, f"{seconds}s")


def bars_to_arrow(bars: dict[str, np.ndarray]) -> pa.Table:
    """Bars table -> arrow table with time: timestamp[ns, tz=UTC], the rest float64, in BAR_COLUMNS order."""
    time = np.asarray(bars["time"]).astype("datetime64[ns]").view(np.int64)
    arrays = [pa.array(time, type=pa.timestamp("ns", tz="UTC"))]
    arrays += [pa.array(np.asarray(bars[name], dtype=np.float64), type=pa.float64()) for name in BAR_COLUMNS[1:]]
    return pa.Table.from_arrays(arrays, names=list(BAR_COLUMNS))


def _is_bars_schema(schema: pa.Schema) -> bool:
    return schema.names == list(BAR_COLUMNS) and all(pa.types.is_float64(t) for t in schema.types[1:]) \
        and pa.types.is_timestamp(schema.types[0])


def bars_kind():
    """What ``write_bars_parquet`` writes (gx1.outputs content signature): the only file gx1.bars or gx1.synth
    overwrites."""
    from gx1.outputs import parquet_kind
    return parquet_kind("bars parquet (time, open, high, low, close, volume, spread)", _is_bars_schema)


def write_bars_parquet(bars: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write bars atomically; the same bars give the same bytes (zstd level 3, no run-varying metadata)."""
    with atomic_path(path) as temporary:
        pq.write_table(bars_to_arrow(bars), temporary, compression="zstd", compression_level=3, use_dictionary=False)


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.bars", description="Validate bars and write them as normalised parquet.")
    parser.add_argument("--input", required=True, help="bars file: .parquet or CSV (generic, MT5 or Dukascopy export)")
    parser.add_argument("--output", required=True, help="normalised bars parquet to write")
    parser.add_argument("--point_size", type=float, default=AUTO_POINT_SIZE,
                        help="price of one point, for MT5 <SPREAD> (default 0: one unit of the prices' last decimal)")
    args = parser.parse_args(argv)
    from gx1.outputs import check_file
    check_file(args.output, bars_kind(), inputs=[args.input])

    bars, dialect = _load_validated_bars(args.input, args.point_size)
    try:
        interval = interval_name(infer_interval_seconds(bars["time"]))
    except InputError as exc:
        raise InputError(f"{args.input}: {exc}") from None
    write_bars_parquet(bars, args.output)
    first, last = (np.datetime_as_string(bars["time"][i], unit="s") for i in (0, -1))
    print(f"wrote {args.output}: {len(bars['time'])} rows, interval {interval}, {first} .. {last} UTC, dialect {dialect}")
    return 0


if __name__ == "__main__":
    run_cli(main)
