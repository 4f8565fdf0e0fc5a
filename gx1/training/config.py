"""TrainConfig: every argument of a training run, with its default, help text and range, in one place.

    from gx1.training.config import TrainConfig
    cfg = TrainConfig(data=..., out_dir=..., feature_meta_path=..., seq_scaler_path=..., snap_scaler_path=..., epochs=2)

The command line (``gx1.models.entry_v10.entry_v10_ctx_train``) makes one flag per field from this dataclass,
and the run (``gx1.training.run``) reads it; neither imports the other. The walk-forward fold
(``gx1.walkforward``) passes on every knob it does not set itself (``knob_defaults``).

A new training knob touches three files: a field here (default, help, range; the command line's flag, the
walk-forward fold's flag and the check of a value in a knobs file follow from it), its use in
``gx1/training/run.py`` and, when the pipeline sets it, its value at the top level of ``params.yaml``: the
knobs stage (``gx1.pipeline_knobs``) hands it to the train and fold stages, so dvc.yaml does not change.
tests/test_defaults.py checks that params.yaml's values equal these defaults or are named differences.
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Iterable

from gx1.common import InputError, number_in, printable, read_json_object, utc_time


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


# TrainConfig fields that cannot change the weights: left out of the resume fingerprint. Every other
# field, and any field added later, is in it (resume fails closed).
RESULT_NEUTRAL_FIELDS = frozenset({"data", "out_dir", "report_dir", "checkpoint_dir", "timing_dir", "feature_meta_path",
                                   "seq_scaler_path", "snap_scaler_path", "log_every", "num_workers", "num_threads",
                                   "nproc_per_node"})  # the world size is in the environment facts instead


KNOB_FIELDS = {f.name: f for f in fields(TrainConfig) if not f.metadata.get("path") and not f.metadata.get("env")}


def knob_defaults() -> dict:
    """Every knob (not the paths, not the environment's) with its default, in field order."""
    return {name: f.default for name, f in KNOB_FIELDS.items()}


def flag_options(f: Field) -> dict:
    """argparse options of a TrainConfig field's flag: its default, help text and the type or choices that check it."""
    meta = f.metadata
    if meta.get("path"):
        return {"required": f.default is MISSING, "default": None if f.default is MISSING else f.default,
                "help": meta["help"]}
    if meta.get("time"):
        return {"type": utc_time, "default": f.default, "help": meta["help"]}
    if "choices" in meta:
        return {"choices": meta["choices"], "default": f.default, "help": meta["help"]}
    return {"type": number_in(type(f.default), meta["low"], meta["high"], meta.get("low_open", False)),
            "default": f.default, "help": meta["help"]}


def knob_value(name: str, value: Any, where: str) -> Any:
    """``value`` of knob ``name`` checked as its flag checks it (type, range, choices); InputError naming ``where``."""
    options = flag_options(KNOB_FIELDS[name])
    if isinstance(value, (bool, dict, list)) or value is None:
        raise InputError(f"{where}: {name} must be a plain {type(KNOB_FIELDS[name].default).__name__}, "
                         f"got {printable(repr(value))[:60]}")
    text = str(value)
    if "choices" in options:
        if text not in options["choices"]:
            raise InputError(f"{where}: {name} must be one of {', '.join(options['choices'])}, got {printable(text)[:60]}")
        return text
    try:
        return options["type"](text)
    except (argparse.ArgumentTypeError, InputError) as exc:
        raise InputError(f"{where}: {name} {printable(exc)}") from None


def read_knob_file(path: str, allowed: Iterable[str]) -> dict:
    """A knobs file (JSON object: knob -> value, as the knobs stage writes it), each value checked; keys outside
    ``allowed`` are refused with one line."""
    allowed = tuple(allowed)
    values = read_json_object(path, "knobs file")
    stray = [key for key in values if key not in allowed]
    if stray:
        raise InputError(f"knobs file {path}: {printable(stray[0])[:60]!r} is not one of the knobs it may set "
                         f"({', '.join(allowed)})")
    return {key: knob_value(key, value, f"knobs file {path}") for key, value in values.items()}
