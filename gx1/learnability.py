"""How much direction is there to learn in the pipeline's data? Simple references beside ln 2.

Run from the repository root after `dvc repro contract` (seconds; no torch):
    python3 -m gx1.learnability [--val_days 14] [--holdout_days 7] [--json reports/learnability.json]

Splits the dataset as the trainer does (`split_rows`: the replay week held out, a validation window
before it, label-horizon embargoes), fits scikit-learn logistic regressions of y_dir on the training
rows, and prints for the validation window and the replay week: the direction log loss (ln 2 =
0.6931 for a coin) and AUC of
  * the base rate (the training rows' share of up moves: the constant a model starts from),
  * the one-feature baseline `ema_slope_12_atr` (the recent trend), calibrated by the regression,
  * all 31 scaled features of the bar (15 sequence features of the last bar + 16 snapshot features).
A transformer that reaches about the regressions' loss has learned what a linear read of the bar
offers; the gap between their loss and ln 2 is the size of the signal.
"""
from __future__ import annotations

import math

import numpy as np

from gx1.common import ArgumentParser, number_in, run_cli, write_json
from gx1.contract import load_scaler, read_meta
from gx1.dataset import read_dataset, split_rows
from gx1.planted import linear_references as references  # the regressions; no torch imported

CONTRACT = "gx1/models/entry_v9/nextgen_2020_2025_clean"


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.learnability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/entry_v9/full_2025.parquet")
    parser.add_argument("--contract_dir", default=CONTRACT)
    parser.add_argument("--val_days", type=number_in(float, 0, 366), default=14.0)
    parser.add_argument("--holdout_days", type=number_in(float, 0, 366), default=7.0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    meta = read_meta(f"{args.contract_dir}/entry_v9_feature_meta.json")
    seq_scaler = load_scaler(f"{args.contract_dir}/seq_scaler.joblib", meta["scalers"]["seq"]["sha256"], "seq scaler")
    snap_scaler = load_scaler(f"{args.contract_dir}/snap_scaler.joblib", meta["scalers"]["snap"]["sha256"], "snap scaler")
    data = read_dataset(args.data)
    horizon = meta["contract"]["labels"]["horizon_bars"]
    train, val, counts = split_rows(data, 0, args.holdout_days, args.val_days, horizon)
    eligible = np.flatnonzero(data["eligible"])
    holdout = eligible[eligible >= len(data["time"]) - counts["holdout_rows"]]  # the replay week's eligible bars
    figures = references(data, meta, seq_scaler, snap_scaler, {"train": train, "validation": val, "replay week": holdout})
    print(f"direction log loss and AUC (ln 2 = {math.log(2):.4f}); {len(train)} training rows, {len(val)} validation, "
          f"{len(holdout)} in the replay week")
    for window, refs in figures.items():
        for name, f in refs.items():
            print(f"  {window:12s} {name:16s} log loss {f['log_loss']:.4f}  (below ln 2 by {math.log(2) - f['log_loss']:+.4f})  "
                  f"AUC {f['auc']:.3f}")
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    run_cli(main)
