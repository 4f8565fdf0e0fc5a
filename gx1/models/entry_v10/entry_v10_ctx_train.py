"""Train the entry_v10 entry model (context fusion when ENTRY_CONTEXT_FEATURES_ENABLED=true).

Run (the plan's command):
    ENTRY_CONTEXT_FEATURES_ENABLED=true python3 -m gx1.models.entry_v10.entry_v10_ctx_train \
      --data data/entry_v9/full_2025.parquet --out_dir models/entry_v10_ctx/FULLYEAR_2025_ctxfusion \
      --feature_meta_path gx1/models/entry_v9/nextgen_2020_2025_clean/entry_v9_feature_meta.json \
      --seq_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/seq_scaler.joblib \
      --snap_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/snap_scaler.joblib \
      --seq_len 30 --batch_size 64 --epochs 5 --num_workers 0 --device cpu --seed 1337 \
      --log_every 100 --learning_rate 1e-4

This module is the command line (one flag per ``gx1.training.config.TrainConfig`` field, main); the run
itself is ``gx1.training.run`` (imported after the arguments are checked, so ``--help`` and argument
errors answer before torch loads).

The out_dir receives a complete bundle (weights, config, metadata, contract, scalers, golden
sample, manifest) plus the reports: run_log.txt, metrics.json (every figure the plan asks of a run,
wall clock and memory included), reproducible_metrics.json (the same without run-varying figures:
the file DVC tracks) and loss curves per step and per epoch (TSV); ``--report_dir`` puts the reports
elsewhere, and ``--timing_dir`` the two run-varying ones (metrics.json, run_log.txt; the DVC stage
does this, so reports/ only holds what DVC restores). The new out_dir (and report set) is swapped in only when complete: a failed run leaves the
previous bundle and run_log.txt untouched and its own log in run_log.txt.partial. A checkpoint is
written atomically after every epoch to ``--checkpoint_dir`` (default: ``<out_dir>.checkpoints``,
outside the out_dir so an interrupted ``dvc repro`` resumes too), named by the run's fingerprint;
starting the same command again resumes from it and ends with byte-identical weights.

Several processes (DistributedDataParallel): ``--nproc_per_node N`` starts this same command under
``torchrun --standalone --nproc_per_node N``; or start it with torchrun yourself (several nodes too),
which is what the flag does (``gx1.training.distributed``).

Fault injection (tests, drills): GX1_FAULT_KILL_AFTER_EPOCH=N kills the process right after the
checkpoint of epoch N, as a crash there would.
Exit 0 success, 1 a non-finite loss/gradient or a failed success criterion, 2 bad usage/input.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from gx1.common import ArgumentParser, run_cli
from gx1.models.entry_v10.variant import context_from_env
from gx1.training.config import TrainConfig, flag_options, knob_defaults, read_knob_file


def build_parser() -> ArgumentParser:
    """One flag per TrainConfig field (except the environment's), defaults and help from the dataclass, plus --knobs."""
    parser = ArgumentParser(prog="python3 -m gx1.models.entry_v10.entry_v10_ctx_train", description=__doc__.splitlines()[0],
                            epilog="ENTRY_CONTEXT_FEATURES_ENABLED=true trains v10_ctx (unset/false: v10).",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--knobs", help="JSON file of knob values (what the knobs stage writes, reports/knobs/train.json): "
                                        "they replace the defaults; a flag given here overrides them")
    for f in fields(TrainConfig):
        if not f.metadata.get("env"):
            parser.add_argument(f"--{f.name}", **flag_options(f))
    return parser


def parse_args(argv: list[str] | None) -> TrainConfig:
    parser = build_parser()
    knobs_file = argparse.ArgumentParser(add_help=False)
    knobs_file.add_argument("--knobs")
    given = knobs_file.parse_known_args(argv)[0].knobs
    if given:
        parser.set_defaults(**read_knob_file(given, knob_defaults()))
    args = vars(parser.parse_args(argv))
    del args["knobs"]
    return TrainConfig(**args, context_features_enabled=bool(context_from_env(default=False)))


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.nproc_per_node > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: hand over to it
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(cfg.nproc_per_node),
                  "-m", "gx1.models.entry_v10.entry_v10_ctx_train", *(sys.argv[1:] if argv is None else argv)]
        sys.stdout.flush()
        os.execv(sys.executable, launch)
    from gx1.training.run import run  # torch loads here, after the arguments are known to be good
    run(cfg)
    return 0


if __name__ == "__main__":
    run_cli(main)

