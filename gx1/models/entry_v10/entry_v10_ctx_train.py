"""Train the entry_v10 entry model (context fusion when ENTRY_CONTEXT_FEATURES_ENABLED=true).

Run (the plan's command, §1):
    ENTRY_CONTEXT_FEATURES_ENABLED=true python3 -m gx1.models.entry_v10.entry_v10_ctx_train \
      --data data/entry_v9/full_2025.parquet --out_dir models/entry_v10_ctx/FULLYEAR_2025_ctxfusion \
      --feature_meta_path gx1/models/entry_v9/nextgen_2020_2025_clean/entry_v9_feature_meta.json \
      --seq_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/seq_scaler.joblib \
      --snap_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/snap_scaler.joblib \
      --seq_len 30 --batch_size 64 --epochs 5 --num_workers 0 --device cpu --seed 1337 \
      --log_every 100 --learning_rate 1e-4

This module is the command line (TrainConfig, its flags, main); the run itself is
``gx1.models.entry_v10.training`` (imported after the arguments are checked, so ``--help`` and
argument errors answer before torch loads).

The out_dir receives a complete bundle (weights, config, metadata, contract, scalers, golden
sample, manifest) plus the reports: run_log.txt, metrics.json (every figure of the plan's §6,
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
which is what the flag does (``gx1.models.entry_v10.distributed``).

Fault injection (tests, drills): GX1_FAULT_KILL_AFTER_EPOCH=N kills the process right after the
checkpoint of epoch N, as a crash there would.
Exit 0 success, 1 a non-finite loss/gradient or a failed success criterion, 2 bad usage/input.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import MISSING, dataclass, field, fields

from gx1.common import ArgumentParser, number_in, run_cli, utc_time
from gx1.models.entry_v10.variant import context_from_env


def knob(default, text: str, **limits):
    """A TrainConfig field with its help text and, for numbers, its range (read by the argument parser)."""
    return field(default=default, metadata={"help": text, **limits})


def path_arg(text: str, required: bool = True):
    """A path field: a flag, but not a knob (a bundle never records the training machine's paths)."""
    return field(default=MISSING if required else "", metadata={"help": text, "path": True})


@dataclass
class TrainConfig:
    """Every argument of a training run. The knobs (not the paths) go into the bundle's train_config.json."""

    data: str = path_arg("dataset parquet (gx1.dataset)")
    out_dir: str = path_arg("bundle/output directory (created, or replaced when it holds a gx1 bundle)")
    feature_meta_path: str = path_arg("feature meta JSON (gx1.contract)")
    seq_scaler_path: str = path_arg("sequence-feature scaler (.joblib, gx1.contract)")
    snap_scaler_path: str = path_arg("snapshot-feature scaler (.joblib, gx1.contract)")
    seq_len: int = knob(30, "bars per sequence window", low=1, high=4096)
    batch_size: int = knob(64, "samples per optimizer step", low=1, high=1 << 20)
    epochs: int = knob(1, "passes over the training rows", low=1, high=100_000)
    num_workers: int = knob(0, "accepted for compatibility: batches are gathered in-process by index arrays", low=0, high=1024)
    device: str = knob("cpu", "cpu, cuda or auto (cuda when available)", choices=("cpu", "cuda", "auto"))
    seed: int = knob(1337, "one seed for python, numpy and torch", low=0, high=2**63 - 1)
    log_every: int = knob(50, "log every N optimizer steps", low=1, high=10**9)
    learning_rate: float = knob(1e-4, "AdamW learning rate", low=0.0, high=10.0, low_open=True)
    limit_samples: int = knob(0, "use the first N dataset rows (0 = all)", low=0, high=10**12)
    num_threads: int = knob(0, "torch CPU threads (0 = the cores this process may use)", low=0, high=1024)
    nproc_per_node: int = knob(1, "training processes on this machine: N > 1 hands this command to `torchrun --standalone "
                                  "--nproc_per_node N` (DDP, docs/scaling.md); under torchrun, torchrun's count applies",
                               low=1, high=1024)
    val_days: float = knob(0.0, "hold out the last N days of the training range for validation (label-horizon embargo)",
                           low=0.0, high=36_600.0)
    holdout_days: float = knob(0.0, "exclude the last N days of the data entirely (the replay week)", low=0.0, high=36_600.0)
    train_end: str = knob("", "exclude every row from this UTC time on (ISO, e.g. 2025-11-01: a walk-forward fold's "
                              "start; label-horizon embargo before it); empty = no limit", time=True)
    weight_decay: float = knob(0.01, "AdamW weight decay", low=0.0, high=10.0)
    grad_clip: float = knob(1.0, "max gradient norm (0 = no clipping)", low=0.0, high=1e9)
    report_dir: str = path_arg("where run_log.txt, metrics.json and the curves go (default: out_dir)", required=False)
    checkpoint_dir: str = path_arg("where resume checkpoints go (default: <out_dir>.checkpoints)", required=False)
    timing_dir: str = path_arg("if set, metrics.json and run_log.txt (wall clock, speed, memory: they differ run to run) go "
                               "to <timing_dir>/<run id>/ instead of the report_dir, which then holds only byte-stable "
                               "reports (what DVC tracks and restores)", required=False)
    context_features_enabled: bool = field(default=False, metadata={"env": True})  # from ENTRY_CONTEXT_FEATURES_ENABLED

    def knobs(self) -> dict:
        """The arguments that can change the result, without machine paths: what a bundle records."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("path")}


def build_parser() -> ArgumentParser:
    """One flag per TrainConfig field (except the environment's), defaults and help from the dataclass."""
    parser = ArgumentParser(prog="python3 -m gx1.models.entry_v10.entry_v10_ctx_train", description=__doc__.splitlines()[0],
                            epilog="ENTRY_CONTEXT_FEATURES_ENABLED=true trains v10_ctx (unset/false: v10).",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(TrainConfig):
        meta = f.metadata
        if meta.get("env"):
            continue
        if meta.get("path"):
            parser.add_argument(f"--{f.name}", required=f.default is MISSING, default=None if f.default is MISSING
                                else f.default, help=meta["help"])
        elif meta.get("time"):
            parser.add_argument(f"--{f.name}", type=utc_time, default=f.default, help=meta["help"])
        elif "choices" in meta:
            parser.add_argument(f"--{f.name}", choices=meta["choices"], default=f.default, help=meta["help"])
        else:
            kind = type(f.default)
            parser.add_argument(f"--{f.name}", type=number_in(kind, meta["low"], meta["high"], meta.get("low_open", False)),
                                default=f.default, help=meta["help"])
    return parser


def parse_args(argv: list[str] | None) -> TrainConfig:
    args = build_parser().parse_args(argv)
    return TrainConfig(**vars(args), context_features_enabled=bool(context_from_env(default=False)))


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.nproc_per_node > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: hand over to it
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(cfg.nproc_per_node),
                  "-m", "gx1.models.entry_v10.entry_v10_ctx_train", *(sys.argv[1:] if argv is None else argv)]
        sys.stdout.flush()
        os.execv(sys.executable, launch)
    from gx1.models.entry_v10.training import run  # torch loads here, after the arguments are known to be good
    run(cfg)
    return 0


if __name__ == "__main__":
    run_cli(main)

