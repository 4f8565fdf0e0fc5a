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
import time
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gx1.bars import load_bars
from gx1.common import ArgumentParser, InputError, atomic_path, canonical_json, run_cli, write_json
from gx1.features import (
    CTX_CAT_FEATURES, CTX_CONT_FEATURES, LABEL_COLUMNS, SEQ_FEATURES, SNAP_FEATURES, LabelConfig,
    compute_eligibility, compute_features, compute_labels,
)

CTX_CAT_NAMES = tuple(name for name, _ in CTX_CAT_FEATURES)


def build_dataset(bars: dict, cfg: LabelConfig) -> dict[str, np.ndarray]:
    """Columns of the dataset table, in file order."""
    if cfg.seq_len < 1 or cfg.horizon_bars < 1 or not 1 <= cfg.early_bars <= cfg.horizon_bars:
        raise InputError(f"invalid label config {asdict(cfg)}: need seq_len >= 1 and 1 <= early_bars <= horizon_bars")
    feats = compute_features(bars)
    labels = compute_labels(bars, feats["_atr"], cfg)
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
    columns["atr"] = feats["_atr"].astype(np.float32)
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


def columns_to_arrow(columns: dict[str, np.ndarray], cfg: LabelConfig) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        arrays[name] = pa.array(values, type=pa.timestamp("ns", tz="UTC")) if name == "time" else pa.array(values)
    return pa.table(arrays).replace_schema_metadata({LABEL_CONFIG_KEY: canonical_json(asdict(cfg)).encode()})


def write_dataset(columns: dict[str, np.ndarray], path: str, cfg: LabelConfig) -> None:
    """Write the dataset parquet atomically; the label config travels in the schema metadata."""
    with atomic_path(path) as tmp:
        pq.write_table(columns_to_arrow(columns, cfg), tmp, compression="zstd", write_statistics=False)


def read_label_config(path: str) -> LabelConfig:
    """The label config a dataset file was built with."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise InputError(f"dataset not found: {path} (run `dvc repro dataset` or `python -m gx1.dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {path}: {exc}") from None
    if LABEL_CONFIG_KEY not in metadata:
        raise InputError(f"dataset {path} carries no label config: rebuild it with `python -m gx1.dataset`")
    return LabelConfig(**json.loads(metadata[LABEL_CONFIG_KEY]))


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


def label_config_from_args(args: argparse.Namespace) -> LabelConfig:
    return LabelConfig(horizon_bars=args.horizon_bars, early_bars=args.early_bars, early_move_atr=args.early_move_atr,
                       seq_len=args.seq_len, max_gap_minutes=args.max_gap_minutes)


def add_label_args(parser: argparse.ArgumentParser) -> None:
    defaults = LabelConfig()
    parser.add_argument("--seq_len", type=int, default=defaults.seq_len, help="sequence window required for eligibility")
    parser.add_argument("--horizon_bars", type=int, default=defaults.horizon_bars, help="label horizon H")
    parser.add_argument("--early_bars", type=int, default=defaults.early_bars, help="early-move window E")
    parser.add_argument("--early_move_atr", type=float, default=defaults.early_move_atr, help="early move in ATR units")
    parser.add_argument("--max_gap_minutes", type=float, default=defaults.max_gap_minutes,
                        help="a longer time step inside the window or horizon makes a row ineligible")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--bars", required=True, help="bars file (parquet or CSV)")
    parser.add_argument("--out", required=True, help="dataset parquet to write")
    parser.add_argument("--stats", help="JSON file for rows / eligible rows / eligibility rate")
    parser.add_argument("--point_size", type=float, default=0.01, help="MT5 spread point size in price units")
    add_label_args(parser)
    args = parser.parse_args(argv)
    cfg = label_config_from_args(args)
    start = time.perf_counter()
    bars = load_bars(args.bars, point_size=args.point_size)
    columns = build_dataset(bars, cfg)
    stats = dataset_stats(columns)
    if stats["eligible_rows"] == 0:
        raise InputError(f"no eligible rows in {args.bars} ({stats['rows']} bars): need more than seq_len + warm-up + horizon bars")
    write_dataset(columns, args.out, cfg)
    if args.stats:
        write_json(args.stats, {**stats, "label_config": asdict(cfg)})
    print(f"dataset: {stats['rows']} rows, {stats['eligible_rows']} eligible "
          f"(eligibility {stats['eligibility_rate']:.4f}) -> {args.out} [{time.perf_counter() - start:.2f}s]", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
