"""A walk-forward fold's own data: the dataset rows a fold can read, as a dataset file of their own.

The `fold_data` stages of dvc.yaml (one per entry of `walkforward.folds`) run it; by hand the same:

    python3 -m gx1.fold_data --data data/entry_v9/full_2025.parquet --start 2025-11-01 --days 30 \\
        --out walkforward/data/nov.parquet

Keeps, per instrument, every row before the fold's end (start + days) and the next ``--tail_bars`` rows
(default 288: the replay's entry-quality window of the period's last trades reaches past its end), with
the dataset's schema and metadata, so gx1.contract, the trainer and gx1.replay read it as they read the
whole dataset and give the same figures. The point is DVC's: the fold stage depends on this file, not on
the whole dataset, so bars changed after a fold's period (a later month added or corrected) leave its
file byte-identical and `dvc repro` does not rerun that fold. Features are causal and labels look
``horizon_bars`` ahead, so only a change inside the period or the tail can change the file.

``--train_days N`` (0 = every earlier row: an expanding window) makes the fold a rolling window: rows
before ``start - N days`` are dropped, except the ``seq_len - 1`` rows just before that (per instrument),
kept as sequence history only (``eligible`` false), so the fold's contract and training see exactly the
eligible rows of its N days and every window they gather is complete.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gx1.common import ArgumentParser, InputError, atomic_path, number_in, printable, run_cli, utc_time
from gx1.dataset import check_dataset_path, dataset_kind, instrument_blocks, read_label_config, table_columns
from gx1.outputs import check_file
from gx1.walkforward import fold_end

DEFAULT_TAIL_BARS = 288


def fold_rows(columns: dict[str, np.ndarray], end: str, tail_bars: int, window_start: str = "",
              lead_in: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows a fold ending at ``end`` reads, rows among them kept as history only): per instrument, rows before
    ``end`` and ``tail_bars`` more, from ``window_start`` on (when given) with ``lead_in`` rows of history before it."""
    time_ns = columns["time"].astype("datetime64[ns]").astype(np.int64)
    end_ns = np.datetime64(end, "ns").astype(np.int64)
    start_ns = np.datetime64(window_start, "ns").astype(np.int64) if window_start else None
    keep, history = np.zeros(len(time_ns), dtype=bool), np.zeros(len(time_ns), dtype=bool)
    for _, first, stop in instrument_blocks(columns):
        before = first + int(np.searchsorted(time_ns[first:stop], end_ns, side="left"))
        begin = first
        if start_ns is not None:
            window = first + int(np.searchsorted(time_ns[first:stop], start_ns, side="left"))
            begin = max(first, window - lead_in)
            history[begin:window] = True
        keep[begin:min(stop, before + tail_bars)] = True
    return keep, history & keep


def write_fold_data(data: str, start: str, end: str, tail_bars: int, out: str, train_days: float = 0.0) -> int:
    """Write the fold's rows of ``data`` to ``out`` (atomically, same schema and metadata); return the row count."""
    check_dataset_path(data)
    try:
        table = pq.read_table(data)
    except FileNotFoundError:
        raise InputError(f"dataset not found: {data} (run `dvc repro dataset`)") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read dataset {data}: {printable(exc)}") from None
    if not {"time", "eligible"} <= set(table.column_names):
        raise InputError(f"dataset {data} lacks its time or eligible column: rebuild it with `python -m gx1.dataset`")
    columns = table_columns(table.select([c for c in ("time", "instrument") if c in table.column_names]))
    if not len(columns["time"]) or columns["time"].min() >= np.datetime64(start, "ns"):
        raise InputError(f"dataset {data} has no row before {start}: the fold starts before the data (nothing to train on)")
    window_start = fold_end(start, -train_days) if train_days else ""
    keep, history = fold_rows(columns, end, tail_bars, window_start, read_label_config(data).seq_len - 1)
    if history.any():  # sequence history only: not a row to train on or fit scalers to
        position = table.schema.get_field_index("eligible")
        eligible = np.asarray(table.column("eligible").to_numpy(), dtype=bool) & ~history
        table = table.set_column(position, table.schema.field(position), pa.array(eligible))
    with atomic_path(out) as tmp:
        pq.write_table(table.filter(pa.array(keep)), tmp, compression="zstd", write_statistics=False)
    return int(keep.sum())


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.fold_data", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the whole dataset (gx1.dataset)")
    parser.add_argument("--start", required=True, type=utc_time, help="the fold's first replayed bar time, ISO UTC")
    parser.add_argument("--days", type=number_in(float, 0, 3660, low_open=True), default=30.0,
                        help="length of the replayed period in days (default 30)")
    parser.add_argument("--tail_bars", type=number_in(int, 0, 10**6), default=DEFAULT_TAIL_BARS,
                        help=f"rows kept after the period's end, per instrument (default {DEFAULT_TAIL_BARS})")
    parser.add_argument("--train_days", type=number_in(float, 0, 36_600), default=0.0,
                        help="train on the last N days before --start only: a rolling window (default 0: every earlier "
                             "row, an expanding window)")
    parser.add_argument("--out", required=True, help="the fold's dataset file to write")
    args = parser.parse_args(argv)
    check_file(args.out, dataset_kind(), inputs=[args.data])  # only a gx1 dataset file, never --data itself
    end = fold_end(args.start, args.days)
    rows = write_fold_data(args.data, args.start, end, args.tail_bars, args.out, args.train_days)
    window = f"from {fold_end(args.start, -args.train_days)} " if args.train_days else ""
    print(f"fold data: {rows} rows {window}before {end} (+{args.tail_bars} bars) -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
