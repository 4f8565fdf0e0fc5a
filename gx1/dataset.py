"""Build the entry_v9 dataset (features, context, labels, eligibility) from bars.

Run:
    python -m gx1.dataset --bars data/bars/xauusd_m5_2025.parquet \
        --out data/entry_v9/full_2025.parquet --stats reports/dataset.json
    python -m gx1.dataset --bars XAUUSD=gold_2024.parquet --bars XAUUSD=gold_2025.parquet \
        --bars EURUSD=eurusd_h1.csv --out data/entry_v9/multi.parquet
    python -m gx1.dataset --bars data/bars/sources --out data/entry_v9/full_2025.parquet   # a folder (gx1.sources)

The bars may be any file ``gx1.bars.load_bars`` reads (parquet, generic/MT5/Dukascopy CSV). Each
``--bars`` is ``[INSTRUMENT=]PATH``: without ``INSTRUMENT=`` the instrument is the file name up to its
first ``_``, ``-`` or ``.``, upper-cased (``xauusd_m5_2025.parquet`` -> XAUUSD); a folder stands for
every ``*.parquet`` in it, named the same way. Files of one instrument (years) are joined in time order
into one series; every instrument must have the same bar interval. Features, labels and eligibility are
computed per instrument, and the table is the instruments' tables one after another (sorted by name),
with an ``instrument`` column: so a multi-instrument dataset equals the single-instrument ones
concatenated. Prints and writes (JSON) rows, eligible rows and the eligibility rate.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gx1.bars import infer_interval_seconds, interval_name, load_bars, validate_bars
from gx1.common import (
    ArgumentParser, InputError, atomic_path, canonical_json, file_problem, number_in, printable, run_cli, write_json,
)
from gx1.features import (
    CTX_CAT_FEATURES, CTX_CONT_FEATURES, LABEL_COLUMNS, SEQ_FEATURES, SNAP_FEATURES, LabelConfig,
    compute_eligibility, compute_features, compute_labels, gap_limit_minutes,
)

CTX_CAT_NAMES = tuple(name for name, _ in CTX_CAT_FEATURES)


LABEL_LIMITS = {  # field: (type, low, high); every bound inclusive, floats must be finite (max_gap_minutes 0 = auto)
    "horizon_bars": (int, 1, 10_000), "early_bars": (int, 1, 10_000), "seq_len": (int, 1, 10_000),
    "early_move_atr": (float, 1e-6, 1e3), "quality_clip": (float, 1e-6, 1e6), "max_gap_minutes": (float, 0, 1e7),
}


def validate_label_config(cfg: LabelConfig) -> LabelConfig:
    """The label config, or InputError naming the first field out of range (NaN and negative values included)."""
    for name, (kind, low, high) in LABEL_LIMITS.items():
        value = getattr(cfg, name)
        is_kind = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
        if not is_kind or not low <= value <= high:  # NaN fails every comparison
            raise InputError(f"label config {name}={value!r} must be a {kind.__name__} in [{low:g}, {high:g}]")
    if not isinstance(cfg.weekend_gaps, bool):
        raise InputError(f"label config weekend_gaps={cfg.weekend_gaps!r} must be true or false")
    if cfg.early_bars > cfg.horizon_bars:
        raise InputError(f"label config early_bars={cfg.early_bars} exceeds horizon_bars={cfg.horizon_bars}")
    return cfg


INSTRUMENT_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.!#]{0,23}")


def check_instrument(name: str, source: str) -> str:
    if not INSTRUMENT_PATTERN.fullmatch(name):
        raise InputError(f"{source}: instrument {printable(name)[:40]!r} is not a symbol (1-24 of A-Z, 0-9, '.', '!', '#', "
                         "upper case): write --bars INSTRUMENT=PATH")
    return name


def build_dataset(bars: dict, cfg: LabelConfig, instrument: str = "") -> dict[str, np.ndarray]:
    """Columns of the dataset table of one instrument's bars, in file order (with an instrument column when named)."""
    validate_label_config(cfg)
    feats = compute_features(bars)
    labels = compute_labels(bars, feats["atr"], cfg)
    eligible = compute_eligibility(bars, feats, labels, cfg)
    columns: dict[str, np.ndarray] = {"time": np.asarray(bars["time"]).astype("datetime64[ns]")}
    if instrument:
        columns["instrument"] = np.full(len(eligible), instrument)
    for key in ("open", "high", "low", "close", "volume", "spread"):
        columns[key] = np.asarray(bars[key], dtype=np.float64)
    for name in SEQ_FEATURES + SNAP_FEATURES + CTX_CONT_FEATURES:
        columns[name] = feats[name].astype(np.float32)
    for name in CTX_CAT_NAMES:
        columns[name] = feats[name].astype(np.int16)
    for name in LABEL_COLUMNS:
        columns[name] = labels[name].astype(np.float32)
    columns["atr"] = feats["atr"].astype(np.float32)
    columns["eligible"] = eligible
    return columns


def build_instruments_dataset(bars_by_instrument: dict[str, dict], cfg: LabelConfig) -> dict[str, np.ndarray]:
    """The instruments' datasets one after another, sorted by instrument name (each built alone)."""
    parts = [build_dataset(bars_by_instrument[name], cfg, name) for name in sorted(bars_by_instrument)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def instrument_blocks(columns: dict[str, np.ndarray]) -> list[tuple[str, int, int]]:
    """(instrument, first row, end row) of each instrument's block, in file order ("" for a table without the column)."""
    rows = len(columns["time"])
    if "instrument" not in columns:
        return [("", 0, rows)]
    names = np.asarray(columns["instrument"])
    starts = np.concatenate(([0], np.flatnonzero(names[1:] != names[:-1]) + 1)) if rows else np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], rows)
    return [(str(names[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def dataset_stats(columns: dict[str, np.ndarray]) -> dict:
    rows = int(len(columns["eligible"]))
    eligible_rows = int(columns["eligible"].sum())
    stats = {
        "rows": rows,
        "eligible_rows": eligible_rows,
        "eligibility_rate": round(eligible_rows / rows, 6) if rows else 0.0,
        "y_dir_mean_eligible": round(float(columns["y_dir"][columns["eligible"]].mean()), 6) if eligible_rows else None,
        "first_time": str(columns["time"].min()) if rows else None,
        "last_time": str(columns["time"].max()) if rows else None,
    }
    blocks = instrument_blocks(columns)
    if blocks[0][0]:
        stats["instruments"] = {name: {"rows": b - a, "eligible_rows": int(columns["eligible"][a:b].sum()),
                                       "first_time": str(columns["time"][a]), "last_time": str(columns["time"][b - 1])}
                                for name, a, b in blocks}
    return stats


LABEL_CONFIG_KEY = b"gx1.label_config"
BAR_INTERVAL_KEY = b"gx1.bar_interval_seconds"
INSTRUMENTS_KEY = b"gx1.instruments"


def columns_to_arrow(columns: dict[str, np.ndarray], cfg: LabelConfig) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        if name == "time":
            arrays[name] = pa.array(values, type=pa.timestamp("ns", tz="UTC"))
        elif name == "instrument":
            arrays[name] = pa.array(values.astype(str)).dictionary_encode()
        else:
            arrays[name] = pa.array(values)
    blocks = instrument_blocks(columns)
    interval = infer_interval_seconds(columns["time"][blocks[0][1]:blocks[0][2]])
    metadata = {LABEL_CONFIG_KEY: canonical_json(asdict(cfg)).encode(), BAR_INTERVAL_KEY: str(interval).encode()}
    if blocks[0][0]:
        metadata[INSTRUMENTS_KEY] = canonical_json(sorted({name for name, _, _ in blocks})).encode()
    return pa.table(arrays).replace_schema_metadata(metadata)


def write_dataset(columns: dict[str, np.ndarray], path: str, cfg: LabelConfig) -> None:
    """Write the dataset parquet atomically; the label config travels in the schema metadata."""
    with atomic_path(path) as tmp:
        pq.write_table(columns_to_arrow(columns, cfg), tmp, compression="zstd", write_statistics=False)


def check_dataset_path(path: str) -> None:
    """InputError unless ``path`` is a regular file: a named pipe would block the parquet reader, a directory is
    not a dataset."""
    problem = file_problem(path)
    if problem == "not found":
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)")
    if problem:
        raise InputError(f"dataset {path} {problem}: give the dataset parquet file (gx1.dataset)")


def dataset_kind():
    """What ``write_dataset`` (and gx1.fold_data) writes (gx1.outputs content signature: the label config in the
    schema metadata): the only file gx1.dataset --out or gx1.fold_data --out overwrites."""
    from gx1.outputs import parquet_kind
    return parquet_kind("gx1 dataset parquet", lambda schema: LABEL_CONFIG_KEY in (schema.metadata or {}))


def stats_kind():
    """What gx1.dataset --stats writes: the only file it overwrites."""
    from gx1.outputs import json_kind
    return json_kind("gx1.dataset stats JSON", ("rows", "eligible_rows", "eligibility_rate", "label_config"))


def _schema_metadata(path: str, key: bytes, what: str) -> bytes:
    check_dataset_path(path)
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {path}: {printable(exc)}") from None
    if key not in metadata:
        raise InputError(f"dataset {path} carries no {what}: rebuild it with `python -m gx1.dataset`")
    return metadata[key]


def read_label_config(path: str) -> LabelConfig:
    """The label config a dataset file was built with (validated like the command-line knobs)."""
    raw = _schema_metadata(path, LABEL_CONFIG_KEY, "label config")
    try:
        cfg = LabelConfig(**json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"dataset {path}: its label config is not valid ({printable(exc)[:200]}): rebuild it with "
                         "`python -m gx1.dataset`") from None
    return validate_label_config(cfg)


def read_bar_interval_seconds(path: str) -> int:
    """The bar interval of the bars a dataset file was built from."""
    raw = _schema_metadata(path, BAR_INTERVAL_KEY, "bar interval")
    if not raw.isdigit() or not 0 < int(raw) <= 86_400 * 7:
        raise InputError(f"dataset {path}: bar interval {printable(raw)[:40]} is not a number of seconds: rebuild it")
    return int(raw)


def read_dataset_schema_names(path: str) -> list[str]:
    """The column names of a dataset file."""
    check_dataset_path(path)
    try:
        return pq.read_schema(path).names
    except FileNotFoundError:
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {path}: {printable(exc)}") from None


def read_instruments(path: str) -> list[str]:
    """The instruments a dataset file holds (sorted), from its schema metadata."""
    raw = _schema_metadata(path, INSTRUMENTS_KEY, "instrument list")
    try:
        names = json.loads(raw)
        if not isinstance(names, list) or not names or names != sorted(set(names)):
            raise ValueError("not a sorted list of distinct names")
        return [check_instrument(name, f"dataset {path}") for name in names]
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InputError(f"dataset {path}: its instrument list is not valid ({printable(exc)[:200]}): rebuild it") from None


def read_dataset(path: str, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read a dataset parquet into numpy columns (time as datetime64[ns]; instrument as fixed-width strings)."""
    check_dataset_path(path)
    try:
        table = pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {path}: {exc}") from None
    return table_columns(table)


def table_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """A dataset table's columns as numpy (time as datetime64[ns]; instrument as fixed-width strings)."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            out[name] = col.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
        elif pa.types.is_dictionary(col.type):  # the instrument column: names looked up by index, no Python objects
            chunk = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            names = np.asarray(chunk.dictionary.to_pylist() or [""], dtype=str)
            out[name] = names[chunk.indices.to_numpy(zero_copy_only=False)]
        elif pa.types.is_string(col.type):
            out[name] = np.asarray(col.to_numpy(zero_copy_only=False).astype(str))
        else:
            out[name] = col.to_numpy()
    return out


DAY_NS = 86_400 * 10**9


def split_rows(data: dict[str, np.ndarray], limit_samples: int, holdout_days: float, val_days: float,
               horizon: int, train_end: str = "") -> tuple[np.ndarray, np.ndarray, dict]:
    """Training and validation row indices (eligible rows only) and counts for the metrics.

    The holdout is every row from ``train_end`` (a UTC time, when given) and the last ``holdout_days``
    of the whole dataset (the replay week), whichever starts first; ``limit_samples`` then takes the
    first N rows outside it; validation is the last ``val_days`` of what remains. Rows whose label
    horizon (the next ``horizon`` rows of their instrument) reaches into the holdout or the validation
    window are embargoed. Times decide, so a multi-instrument dataset (instrument blocks one after
    another, gx1.dataset) is split at the same instants for every instrument. The trainer and the
    contract (its scalers' fit rows) both split with this function.
    """
    rows = len(data["time"])
    time_ns = data["time"].astype("datetime64[ns]").astype(np.int64)
    holdout = holdout_mask(data["time"], holdout_days, train_end)
    used = ~holdout
    if limit_samples:
        used[limit_samples:] = False
    eligible = np.asarray(data["eligible"], dtype=bool) & used
    val = np.zeros(rows, dtype=bool)
    if val_days and used.any():
        val = used & (time_ns > time_ns[used].max() - val_days * DAY_NS)
    train = eligible & ~val & ~_horizon_reaches(holdout | val, horizon, instrument_blocks(data))
    val_rows, train_rows = np.flatnonzero(eligible & val), np.flatnonzero(train)
    used_rows = int(used.sum())
    counts = {"dataset_rows": rows, "rows_used": used_rows, "holdout_rows": int(holdout.sum()),
              "eligible_rows": int(eligible.sum()), "eligibility_rate": float(eligible.sum() / used_rows) if used_rows else 0.0,
              "train_samples": int(len(train_rows)), "val_samples": int(len(val_rows))}
    return train_rows, val_rows, counts


def holdout_mask(time: np.ndarray, holdout_days: float, train_end: str = "") -> np.ndarray:
    """Rows held out: from ``train_end`` on, and the last ``holdout_days`` of the whole dataset."""
    time_ns = time.astype("datetime64[ns]").astype(np.int64)
    holdout = np.zeros(len(time_ns), dtype=bool)
    if train_end:
        holdout |= time_ns >= np.datetime64(train_end, "ns").astype(np.int64)
    if holdout_days and len(time_ns):
        holdout |= time_ns > time_ns.max() - holdout_days * DAY_NS
    return holdout


def _horizon_reaches(barrier: np.ndarray, horizon: int, blocks: list[tuple[str, int, int]]) -> np.ndarray:
    """Rows whose next ``horizon`` rows, inside their own block, include a barrier row."""
    reached = np.zeros(len(barrier), dtype=bool)
    before = np.concatenate(([0], np.cumsum(barrier)))  # before[i] = barrier rows among rows < i
    for _, first, end in blocks:
        rows = np.arange(first, end)
        reached[first:end] = before[np.minimum(rows + horizon, end - 1) + 1] > before[rows + 1]
    return reached


def label_config_from_args(args: argparse.Namespace) -> LabelConfig:
    return validate_label_config(LabelConfig(
        horizon_bars=args.horizon_bars, early_bars=args.early_bars, early_move_atr=args.early_move_atr,
        quality_clip=args.quality_clip, seq_len=args.seq_len, max_gap_minutes=args.max_gap_minutes,
        weekend_gaps=args.weekend_gaps))


def add_label_args(parser: argparse.ArgumentParser) -> None:
    """The label knobs, their defaults from LabelConfig and their ranges from LABEL_LIMITS."""
    defaults = LabelConfig()
    helps = {"seq_len": "sequence window required for eligibility", "horizon_bars": "label horizon H",
             "early_bars": "early-move window E", "early_move_atr": "early move in ATR units",
             "quality_clip": "y_quality is clipped to +-this (ATR units)",
             "max_gap_minutes": "a longer time step inside the window or horizon makes a row ineligible "
                                "(0 = 14 bars of the data's interval)"}
    for name, text in helps.items():
        kind, low, high = LABEL_LIMITS[name]
        parser.add_argument(f"--{name}", type=number_in(kind, low, high), default=getattr(defaults, name),
                            help=f"{text} (default: %(default)s)")
    parser.add_argument("--weekend_gaps", type=_true_or_false, default=defaults.weekend_gaps,
                        help="true: a weekend closure (a step across a Saturday, under 4 days) does not make a row "
                             "ineligible; use it for bars of 15 minutes and longer (default: %(default)s)")


def _true_or_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
    return text.lower() == "true"


LONGEST_FEATURE_WINDOW = 288  # the slowest features' window in bars (ret_288, realized_vol_288, range_pos_288)
WARM_UP_BARS = 370  # the first row with every feature defined (288-bar windows over ATR/EMA-based inputs; tested)
MAX_INTERVAL_SECONDS = 86_400  # the features are intraday (session, hour of day): daily bars at most
ZERO_COLUMN_EFFECTS = {"spread": "spread_atr, spread_bps and spread_regime are constant",
                       "volume": "volume_ratio_48 and volume_ratio_288 are constant"}


def check_bars_usable(bars: dict[str, np.ndarray], cfg: LabelConfig, source: str) -> list[str]:
    """Refuse bars coarser than daily; return a note for each optional column that is 0 on every bar
    (absent from the file: its features carry no information)."""
    interval = infer_interval_seconds(bars["time"])
    if interval > MAX_INTERVAL_SECONDS:
        raise InputError(f"{source}: bars every {interval_name(interval)} ({interval / 86_400:g} days) are too coarse: the "
                         f"features are intraday (session, hour of day, {LONGEST_FEATURE_WINDOW}-bar windows); give bars "
                         "of 1 day or shorter (M5 by default, H1 works)")
    return [f"note: {name} is 0 on every bar of {source} (no {name} column?): {effect}"
            for name, effect in ZERO_COLUMN_EFFECTS.items() if not np.any(bars[name])]


def min_bars(cfg: LabelConfig) -> int:
    """The fewest consecutive bars (no gap) that give one eligible row."""
    return WARM_UP_BARS + cfg.seq_len + cfg.horizon_bars


def no_eligible_rows_message(source: str, rows: int, interval: int, cfg: LabelConfig) -> str:
    """Why a dataset has no usable row, with the minimum it needs."""
    minimum = min_bars(cfg)
    limit = gap_limit_minutes(cfg, interval)
    gap = (f"; every time step is longer than max_gap_minutes {limit:g} ({interval_name(interval)} bars): "
           f"raise --max_gap_minutes above {interval / 60:g}, or give 0 (14 bars)") if interval / 60 > limit else \
        f" with no time step over max_gap_minutes {limit:g} inside a window or horizon" + \
        ("" if cfg.weekend_gaps else " (--weekend_gaps true tolerates weekend closures)")
    return (f"no eligible rows in {source} ({rows} bars): need at least {minimum} consecutive bars "
            f"({WARM_UP_BARS}-bar feature warm-up + seq_len {cfg.seq_len} + horizon {cfg.horizon_bars}){gap}")


def bars_sources(specs: list[str]) -> dict[str, list[str]]:
    """Instrument -> its bars files, from ``[INSTRUMENT=]PATH`` arguments (a folder: every parquet in it)."""
    sources: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or "/" in name or "\\" in name:
            name, path = "", spec
        paths = sorted(str(p) for p in Path(path).glob("*.parquet")) if Path(path).is_dir() else [path]
        if not paths:
            raise InputError(f"--bars {printable(spec)}: the folder holds no *.parquet bars file")
        for one in paths:
            instrument = name or re.split(r"[_.\-]", Path(one).name, maxsplit=1)[0].upper()
            sources.setdefault(check_instrument(instrument, one), []).append(one)
    return sources


def load_instrument_bars(paths: list[str], point_size: float) -> dict[str, np.ndarray]:
    """One instrument's bars files (e.g. years) joined in time order into one checked series."""
    parts = sorted((load_bars(path, point_size=point_size) for path in paths), key=lambda bars: bars["time"][0])
    if len(parts) == 1:
        return parts[0]
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    try:
        validate_bars(joined)
    except InputError as exc:
        raise InputError(f"bars files {', '.join(paths)} overlap in time or do not join: {exc}") from None
    return joined


def load_sources(sources: dict[str, list[str]], point_size: float, cfg: LabelConfig) -> tuple[dict[str, dict], list[str]]:
    """(instrument -> bars, notes) for ``bars_sources``' files: each instrument's bars checked usable, one bar interval
    for all."""
    bars_by_instrument, notes, intervals = {}, [], {}
    for instrument, paths in sources.items():
        source = paths[0] if len(paths) == 1 else f"{instrument} ({len(paths)} files)"
        bars = load_instrument_bars(paths, point_size)
        notes += check_bars_usable(bars, cfg, source)
        intervals[instrument] = infer_interval_seconds(bars["time"])
        bars_by_instrument[instrument] = bars
    if len(set(intervals.values())) > 1:
        listed = ", ".join(f"{name} {interval_name(seconds)}" for name, seconds in sorted(intervals.items()))
        raise InputError(f"the instruments' bar intervals differ ({listed}): one dataset takes one interval "
                         "(resample, or build one dataset per interval)")
    return bars_by_instrument, notes


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--bars", required=True, action="append",
                        help="[INSTRUMENT=]PATH of a bars file (parquet or CSV) or a folder of bars parquet files; repeat "
                             "for more files or instruments (default instrument: the file name up to its first _ - or .)")
    parser.add_argument("--out", required=True, help="dataset parquet to write")
    parser.add_argument("--stats", help="JSON file for rows / eligible rows / eligibility rate")
    parser.add_argument("--point_size", type=number_in(float, 0, 1e6), default=0.0,
                        help="MT5 spread point size in price units (default 0: one unit of the prices' last decimal)")
    add_label_args(parser)
    args = parser.parse_args(argv)
    cfg = label_config_from_args(args)
    sources = bars_sources(args.bars)
    inputs = [path for paths in sources.values() for path in paths]
    from gx1.outputs import check_file
    check_file(args.out, dataset_kind(), inputs=inputs)
    if args.stats:
        check_file(args.stats, stats_kind(), inputs=[*inputs, args.out])
        if Path(args.stats).resolve() == Path(args.out).resolve():
            raise InputError(f"--stats {args.stats} is the --out path: give two files")
    start = time.perf_counter()
    bars_by_instrument, notes = load_sources(sources, args.point_size, cfg)
    columns = build_instruments_dataset(bars_by_instrument, cfg)
    stats = dataset_stats(columns)
    for name, first, end in instrument_blocks(columns):
        if not columns["eligible"][first:end].any():
            paths = sources[name]
            raise InputError(no_eligible_rows_message(paths[0] if len(paths) == 1 else f"{name} ({', '.join(paths)})",
                                                      end - first, infer_interval_seconds(columns["time"][first:end]), cfg))
    for note in notes:
        print(printable(note), file=sys.stderr, flush=True)
    write_dataset(columns, args.out, cfg)
    if args.stats:
        write_json(args.stats, {**stats, "label_config": asdict(cfg)})
    print(f"dataset: {stats['rows']} rows of {', '.join(sorted(sources))}, {stats['eligible_rows']} eligible "
          f"(eligibility {stats['eligibility_rate']:.4f}) -> {args.out} [{time.perf_counter() - start:.2f}s]", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
