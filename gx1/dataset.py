"""Build the entry_v9 dataset (features, context, labels, eligibility) from bars.

Run:
    python -m gx1.dataset --bars data/bars/xauusd_m5_2025.parquet \
        --out data/entry_v9/full_2025.parquet --stats reports/dataset.json

The bars may be any file ``gx1.bars.load_bars`` reads (parquet, generic/MT5/Dukascopy CSV).
Prints and writes (JSON) rows, eligible rows and the eligibility rate.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gx1.bars import infer_interval_seconds, interval_name, load_bars
from gx1.common import (
    ArgumentParser, InputError, atomic_path, canonical_json, check_output_file, number_in, printable, run_cli, write_json,
)
from gx1.features import (
    CTX_CAT_FEATURES, CTX_CONT_FEATURES, LABEL_COLUMNS, SEQ_FEATURES, SNAP_FEATURES, LabelConfig,
    compute_eligibility, compute_features, compute_labels,
)

CTX_CAT_NAMES = tuple(name for name, _ in CTX_CAT_FEATURES)


LABEL_LIMITS = {  # field: (type, low, high); every bound inclusive, floats must be finite and > 0
    "horizon_bars": (int, 1, 10_000), "early_bars": (int, 1, 10_000), "seq_len": (int, 1, 10_000),
    "early_move_atr": (float, 1e-6, 1e3), "quality_clip": (float, 1e-6, 1e6), "max_gap_minutes": (float, 1e-3, 1e7),
}


def validate_label_config(cfg: LabelConfig) -> LabelConfig:
    """The label config, or InputError naming the first field out of range (NaN and negative values included)."""
    for name, (kind, low, high) in LABEL_LIMITS.items():
        value = getattr(cfg, name)
        is_kind = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
        if not is_kind or not low <= value <= high:  # NaN fails every comparison
            raise InputError(f"label config {name}={value!r} must be a {kind.__name__} in [{low:g}, {high:g}]")
    if cfg.early_bars > cfg.horizon_bars:
        raise InputError(f"label config early_bars={cfg.early_bars} exceeds horizon_bars={cfg.horizon_bars}")
    return cfg


def build_dataset(bars: dict, cfg: LabelConfig) -> dict[str, np.ndarray]:
    """Columns of the dataset table, in file order."""
    validate_label_config(cfg)
    feats = compute_features(bars)
    labels = compute_labels(bars, feats["atr"], cfg)
    eligible = compute_eligibility(bars, feats, labels, cfg)
    columns: dict[str, np.ndarray] = {"time": np.asarray(bars["time"]).astype("datetime64[ns]")}
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


def dataset_stats(columns: dict[str, np.ndarray]) -> dict:
    rows = int(len(columns["eligible"]))
    eligible_rows = int(columns["eligible"].sum())
    return {
        "rows": rows,
        "eligible_rows": eligible_rows,
        "eligibility_rate": round(eligible_rows / rows, 6) if rows else 0.0,
        "y_dir_mean_eligible": round(float(columns["y_dir"][columns["eligible"]].mean()), 6) if eligible_rows else None,
        "first_time": str(columns["time"][0]) if rows else None,
        "last_time": str(columns["time"][-1]) if rows else None,
    }


LABEL_CONFIG_KEY = b"gx1.label_config"
BAR_INTERVAL_KEY = b"gx1.bar_interval_seconds"


def columns_to_arrow(columns: dict[str, np.ndarray], cfg: LabelConfig) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        arrays[name] = pa.array(values, type=pa.timestamp("ns", tz="UTC")) if name == "time" else pa.array(values)
    interval = infer_interval_seconds(columns["time"])
    return pa.table(arrays).replace_schema_metadata({LABEL_CONFIG_KEY: canonical_json(asdict(cfg)).encode(),
                                                     BAR_INTERVAL_KEY: str(interval).encode()})


def write_dataset(columns: dict[str, np.ndarray], path: str, cfg: LabelConfig) -> None:
    """Write the dataset parquet atomically; the label config travels in the schema metadata."""
    with atomic_path(path) as tmp:
        pq.write_table(columns_to_arrow(columns, cfg), tmp, compression="zstd", write_statistics=False)


def _schema_metadata(path: str, key: bytes, what: str) -> bytes:
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


def read_dataset(path: str, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read a dataset parquet into numpy columns (time as datetime64[ns])."""
    try:
        table = pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {path}: {exc}") from None
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            out[name] = col.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
        else:
            out[name] = col.to_numpy()
    return out


DAY_NS = 86_400 * 10**9


def split_rows(data: dict[str, np.ndarray], limit_samples: int, holdout_days: float, val_days: float,
               horizon: int, train_end: str = "") -> tuple[np.ndarray, np.ndarray, dict]:
    """Training and validation row indices (eligible rows only) and counts for the metrics.

    The holdout is everything from ``train_end`` (a UTC time, when given) and the last ``holdout_days``
    of the whole dataset (the replay week), whichever starts first; ``limit_samples`` then takes the
    first N rows before it; validation is the last ``val_days`` of what remains. Rows whose label
    horizon reaches into the holdout or the validation window are embargoed. The trainer and the
    contract (its scalers' fit rows) both split with this function.
    """
    rows = len(data["time"])
    time_ns = data["time"].astype("datetime64[ns]").astype(np.int64)
    end = rows
    if train_end:
        end = int(np.searchsorted(time_ns, np.datetime64(train_end, "ns").astype(np.int64), side="left"))
    if holdout_days and rows:
        end = min(end, int(np.searchsorted(time_ns, time_ns[-1] - holdout_days * DAY_NS, side="right")))
    used = min(end, limit_samples) if limit_samples else end
    eligible = np.asarray(data["eligible"][:used], dtype=bool)
    train_stop = max(0, end - horizon) if used == end < rows else used
    val_rows = np.empty(0, dtype=np.int64)
    if val_days and used:
        val_start = int(np.searchsorted(time_ns[:used], time_ns[used - 1] - val_days * DAY_NS, side="right"))
        val_rows = np.flatnonzero(eligible[val_start:used]) + val_start
        train_stop = max(0, val_start - horizon)
    train_rows = np.flatnonzero(eligible[:train_stop])
    counts = {"dataset_rows": rows, "rows_used": used, "holdout_rows": rows - end, "eligible_rows": int(eligible.sum()),
              "eligibility_rate": float(eligible.mean()) if used else 0.0,
              "train_samples": int(len(train_rows)), "val_samples": int(len(val_rows))}
    return train_rows, val_rows, counts


def label_config_from_args(args: argparse.Namespace) -> LabelConfig:
    return validate_label_config(LabelConfig(
        horizon_bars=args.horizon_bars, early_bars=args.early_bars, early_move_atr=args.early_move_atr,
        quality_clip=args.quality_clip, seq_len=args.seq_len, max_gap_minutes=args.max_gap_minutes))


def add_label_args(parser: argparse.ArgumentParser) -> None:
    """The label knobs, their defaults from LabelConfig and their ranges from LABEL_LIMITS."""
    defaults = LabelConfig()
    helps = {"seq_len": "sequence window required for eligibility", "horizon_bars": "label horizon H",
             "early_bars": "early-move window E", "early_move_atr": "early move in ATR units",
             "quality_clip": "y_quality is clipped to +-this (ATR units)",
             "max_gap_minutes": "a longer time step inside the window or horizon makes a row ineligible"}
    for name, text in helps.items():
        kind, low, high = LABEL_LIMITS[name]
        parser.add_argument(f"--{name}", type=number_in(kind, low, high), default=getattr(defaults, name),
                            help=f"{text} (default: %(default)s)")


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
    gap = (f"; every time step is longer than max_gap_minutes {cfg.max_gap_minutes:g} ({interval_name(interval)} bars): "
           f"raise --max_gap_minutes above {interval / 60:g}") if interval / 60 > cfg.max_gap_minutes else \
        f" with no time step over max_gap_minutes {cfg.max_gap_minutes:g} inside a window or horizon"
    return (f"no eligible rows in {source} ({rows} bars): need at least {minimum} consecutive bars "
            f"({WARM_UP_BARS}-bar feature warm-up + seq_len {cfg.seq_len} + horizon {cfg.horizon_bars}){gap}")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--bars", required=True, help="bars file (parquet or CSV)")
    parser.add_argument("--out", required=True, help="dataset parquet to write")
    parser.add_argument("--stats", help="JSON file for rows / eligible rows / eligibility rate")
    parser.add_argument("--point_size", type=number_in(float, 0, 1e6), default=0.0,
                        help="MT5 spread point size in price units (default 0: one unit of the prices' last decimal)")
    add_label_args(parser)
    args = parser.parse_args(argv)
    cfg = label_config_from_args(args)
    check_output_file(args.out, args.bars)
    if args.stats:
        check_output_file(args.stats, args.bars)
    start = time.perf_counter()
    bars = load_bars(args.bars, point_size=args.point_size)
    notes = check_bars_usable(bars, cfg, args.bars)
    columns = build_dataset(bars, cfg)
    stats = dataset_stats(columns)
    if stats["eligible_rows"] == 0:
        raise InputError(no_eligible_rows_message(args.bars, stats["rows"], infer_interval_seconds(bars["time"]), cfg))
    for note in notes:
        print(printable(note), file=sys.stderr, flush=True)
    write_dataset(columns, args.out, cfg)
    if args.stats:
        write_json(args.stats, {**stats, "label_config": asdict(cfg)})
    print(f"dataset: {stats['rows']} rows, {stats['eligible_rows']} eligible "
          f"(eligibility {stats['eligibility_rate']:.4f}) -> {args.out} [{time.perf_counter() - start:.2f}s]", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
