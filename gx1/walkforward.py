"""One walk-forward fold: fit the contract and train on every bar before the fold's start, then replay the
fold's period out of sample.

The `fold` stages of dvc.yaml (one per entry of `walkforward.folds` in params.yaml) run it; by hand the same:

    python3 -m gx1.walkforward --data data/entry_v9/full_2025.parquet --start 2025-11-01 --days 30 \\
        --out_dir walkforward/folds/nov [--knobs reports/knobs/fold.json] [--epochs 1 --seed 1337 ...]

The fold stage gives ``--knobs`` (the pipeline's training knobs a fold takes, written by the knobs stage,
``gx1.pipeline_knobs``) and ``--epochs`` (walkforward.epochs); a flag given here overrides the file.

Each fold is an expanding window over ``--data`` (a rolling one when ``--data`` is a gx1.fold_data slice made
with ``--train_days``): the contract (scalers) is fitted and the model trained on the eligible rows
before ``--start`` whose label horizon ends before it (``gx1.contract --train_end``, trainer ``--train_end``:
the embargo of ``gx1.dataset.split_rows``), so no statistic of the replayed period reaches its model. Then
``gx1.replay --start --end`` replays [start, start + days). Each step runs as its own command (its own pins,
threads and exit code). A dataset of several instruments trains one model on all of them and replays each
(``replay/<INSTRUMENT>/``; ``--instrument`` picks one): the fold's row sums the counts (bars, candidates,
trades) and averages the other figures over the instruments, and ``instruments`` in fold.json gives each.

Writes ``<out_dir>/contract/`` (meta and scalers), ``<out_dir>/model/`` (the verified bundle),
``<out_dir>/train/`` (the byte-stable training reports: curves, reproducible metrics), ``<out_dir>/replay/``
(gx1.replay's files) and ``<out_dir>/fold.json`` (the fold's row of the walk-forward table, which
``gx1.walkforward_summary`` joins): the same inputs give the same bytes. Wall clock, speed and the run log go
to ``--timing_dir`` (not a DVC output). The folder appears complete or not at all; a failed fold leaves the
previous one in place; ``--out_dir`` is replaced only when it is a fold's own earlier output (its
``.gx1-output`` marker lists every file in it, ``gx1.outputs``), never with ``--data`` inside it.
Exit codes as every gx1 command: 2 bad input (a step's own message on stderr), 1 a failed check.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from gx1.common import (EXIT_BAD_INPUT, ArgumentParser, CheckFailed, InputError, number_in, read_json_object, run_cli,
                        utc_time, write_json)
from gx1.dataset import check_dataset_path, read_instruments
from gx1.outputs import check_folder, check_inputs_outside, inside, swap_in_folder
from gx1.pipeline_knobs import FOLD_SETS
from gx1.replay_config import POLICY_FLAGS
from gx1.training.config import knob_defaults, read_knob_file

CONTRACT_FILES = ("entry_v9_feature_meta.json", "seq_scaler.joblib", "snap_scaler.joblib")
TRAIN_KNOBS = tuple(name for name in knob_defaults() if name not in FOLD_SETS)  # every other TrainConfig knob
# instrument: the one to replay when the dataset holds several (the fold trains on all of them)
REPLAY_KNOBS = (*POLICY_FLAGS, "instrument")
COMMAND = "gx1.walkforward"  # the owner named in a fold folder's marker (gx1.outputs)
FOLD_FIGURES = ("direction_auc", "direction_auc_baseline", "direction_auc_lift", "direction_auc_lift_ci_low",
                "direction_auc_lift_ci_high", "direction_rank_ic", "early_move_auc", "quality_corr", "trades", "goes_against", "mfe_mae",
                "net_pnl_bps", "net_pnl_bps_baseline", "net_pnl_lift_ci_low", "net_pnl_lift_ci_high")


def fold_end(start: str, days: float) -> str:
    """The fold period's exclusive end, ISO UTC."""
    begin = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    return (begin + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


COUNTS = ("replayed_bars", "candidates", "trades")


def pooled(rows: list[dict]) -> dict:
    """One row of several instruments' replays: counts summed, every other figure averaged (None when none has it)."""
    if len(rows) == 1:
        return dict(rows[0])
    out = {}
    for key in ("replayed_bars", "candidates", *FOLD_FIGURES):
        values = [row[key] for row in rows if isinstance(row[key], (int, float))]
        if key in COUNTS:
            out[key] = sum(values) if values else None
        else:
            out[key] = sum(values) / len(values) if values else None
    return out


def _step(what: str, argv: list[str]) -> None:
    """Run one gx1 command; its exit code becomes ours (2 bad input, 1 failed check), its stderr is already shown."""
    done = subprocess.run([sys.executable, "-m", *argv])
    if done.returncode == EXIT_BAD_INPUT:
        raise InputError(f"the fold's {what} step refused its input (above)")
    if done.returncode:
        raise CheckFailed(f"the fold's {what} step failed with exit code {done.returncode} (above)")


def run_fold(data: str, start: str, days: float, out_dir: Path, train: dict, replay: dict, timing_dir: str) -> dict:
    """Contract, training and replay of one fold into ``out_dir`` (swapped in whole); returns the fold's row.

    Everything in ``out_dir`` is byte-stable (the same inputs give the same bytes); the training's wall clock,
    speed and log go to ``timing_dir``, as the train stage's do."""
    end = fold_end(start, days)
    check_folder(out_dir, COMMAND)  # before hours of work: a folder that is not a fold's is refused now
    check_dataset_path(data)
    check_inputs_outside(out_dir, [("--data", data)])
    if inside(timing_dir, out_dir) or inside(out_dir, timing_dir):
        raise InputError(f"--timing_dir {timing_dir} and --out_dir {out_dir} are nested: give separate folders")

    def fill(staging: Path) -> dict:
        contract, model, reports, replayed = (staging / name for name in ("contract", "model", "train", "replay"))
        _step("contract", ["gx1.contract", "--data", data, "--out_dir", str(contract), "--train_end", start])
        meta, seq, snap = (str(contract / name) for name in CONTRACT_FILES)
        _step("training", ["gx1.models.entry_v10.entry_v10_ctx_train", "--data", data, "--out_dir", str(model),
                           "--feature_meta_path", meta, "--seq_scaler_path", seq, "--snap_scaler_path", snap,
                           "--train_end", start, "--holdout_days", "0", "--val_days", "0", "--log_every", "1000",
                           "--report_dir", str(reports), "--timing_dir", timing_dir,
                           *[a for k, v in train.items() for a in (f"--{k}", str(v))]])
        trained = read_json_object(reports / "reproducible_metrics.json", "training metrics", keys=("dataset_len",))
        instruments = [replay["instrument"]] if replay.get("instrument") else read_instruments(data)
        replays = {}
        for instrument in instruments:  # one replay per instrument: trades are per instrument
            folder = replayed if len(instruments) == 1 else replayed / instrument
            _step("replay", ["gx1.replay", "--bundle_dir", str(model), "--data", data, "--out_dir", str(folder),
                             "--start", start, "--end", end, "--instrument", instrument,
                             *[a for k, v in replay.items() if k != "instrument" for a in (f"--{k}", str(v))]])
            summary = read_json_object(folder / "summary.json", "replay summary")
            details = read_json_object(folder / "replay.json", "replay report")
            replays[instrument] = {"replayed_bars": details["eligible_bars"], "candidates": details["n_candidates"],
                                   **{k: summary.get(k) for k in FOLD_FIGURES}}
        row = {"start": start, "end": end, "train_samples": trained["dataset_len"], **pooled(list(replays.values()))}
        if len(instruments) > 1:
            row["instruments"] = replays
        write_json(staging / "fold.json", row)
        return row
    return swap_in_folder(out_dir, fill, COMMAND)  # a failed fold leaves its previous folder


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.walkforward", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset parquet (gx1.dataset): the whole history")
    parser.add_argument("--start", required=True, type=utc_time, help="the fold's first replayed bar time, ISO UTC")
    parser.add_argument("--days", type=number_in(float, 0, 3660, low_open=True), default=30.0,
                        help="length of the replayed period in days (default 30)")
    parser.add_argument("--out_dir", required=True, help="the fold's folder (replaced whole when it is a fold's)")
    parser.add_argument("--timing_dir", default="logs/walkforward",
                        help="where the training's wall clock, speed and log go (default logs/walkforward)")
    parser.add_argument("--context_features", choices=("true", "false"), default="true",
                        help="ENTRY_CONTEXT_FEATURES_ENABLED for the training (default true)")
    parser.add_argument("--knobs", help="JSON file of training knobs (the knobs stage's reports/knobs/fold.json); "
                                        "a flag below overrides it")
    for knob in TRAIN_KNOBS:
        parser.add_argument(f"--{knob}", help="passed to the trainer (the --knobs file's value or the trainer's default "
                                              "when omitted)")
    for knob in REPLAY_KNOBS:
        parser.add_argument(f"--{knob}", help="passed to gx1.replay (its default when omitted)")
    args = parser.parse_args(argv)
    os.environ["ENTRY_CONTEXT_FEATURES_ENABLED"] = args.context_features
    pick = lambda names: {k: getattr(args, k) for k in names if getattr(args, k) is not None}  # noqa: E731
    train = {**(read_knob_file(args.knobs, TRAIN_KNOBS) if args.knobs else {}), **pick(TRAIN_KNOBS)}
    row = run_fold(args.data, args.start, args.days, Path(args.out_dir), train, pick(REPLAY_KNOBS), args.timing_dir)
    print(f"fold {row['start']} .. {row['end']}: {row['train_samples']} training samples, {row['replayed_bars']} bars "
          f"replayed, direction AUC {row['direction_auc']} (baseline {row['direction_auc_baseline']}), "
          f"{row['trades']} trades -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    run_cli(main)
