"""What a training run reads and where it writes: the checked inputs, the output folders, the run's id.

    run_inputs = load_inputs(cfg, torch.device("cpu"))   # meta, scalers, dataset, split, model inputs; InputError first
    check_outputs(cfg)                                    # out_dir and report_dir may be created or replaced
    run_id(run_inputs.fingerprint)                        # 16 hex digits naming the run (checkpoint, timing folder)

Everything a run reads is checked here before anything is written (bad input: InputError, exit 2).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gx1.bundle import read as bundle_read, write as bundle_write
from gx1.common import InputError, canonical_json, parse_json_bytes, read_regular_file, sha256_bytes, sha256_file
from gx1.contract import contract_hash, dataset_contract, load_scaler, read_meta
from gx1.dataset import holdout_mask, read_dataset, read_dataset_schema_names, read_label_config, split_rows
from gx1.features import LABEL_COLUMNS
from gx1.models.entry_v10.inputs import ModelInputs, build_model_inputs
from gx1.outputs import check_folder
from gx1.training.config import RESULT_NEUTRAL_FIELDS, TrainConfig
from gx1.training.distributed import World
from gx1.training.telemetry import OUTPUT_COMMAND


@dataclass
class RunInputs:
    """Everything a run reads, checked: the contract files' bytes, the data split, the model inputs."""

    meta: dict
    meta_blob: bytes
    seq_blob: bytes
    snap_blob: bytes
    data: dict[str, np.ndarray]
    train_rows: np.ndarray
    val_rows: np.ndarray
    counts: dict
    inputs: ModelInputs
    fingerprint: dict

    @property
    def contract(self) -> dict:
        return self.meta["contract"]


def load_inputs(cfg: TrainConfig, device: torch.device, world: World = World()) -> RunInputs:
    """Read and cross-check the meta, scalers and dataset; InputError (exit 2) before anything is written."""
    meta = read_meta(cfg.feature_meta_path)
    seq_scaler = load_scaler(cfg.seq_scaler_path, meta["scalers"]["seq"]["sha256"], "seq scaler")
    snap_scaler = load_scaler(cfg.snap_scaler_path, meta["scalers"]["snap"]["sha256"], "snap scaler")
    data_hash = contract_hash({"contract": dataset_contract(cfg.data)})
    if data_hash != contract_hash(meta):
        raise InputError(f"dataset {cfg.data} was built under contract {data_hash} (its label config and bar interval), the "
                         f"feature meta {cfg.feature_meta_path} is {contract_hash(meta)}: rebuild the contract from this dataset "
                         "(python3 -m gx1.contract) or train on the dataset the meta was fitted on")
    if cfg.seq_len > read_label_config(cfg.data).seq_len:
        raise InputError(f"--seq_len {cfg.seq_len} exceeds the window the dataset's eligibility was built for "
                         f"({read_label_config(cfg.data).seq_len}): rebuild it with `python -m gx1.dataset --seq_len {cfg.seq_len}`")
    data = read_dataset(cfg.data, columns=model_columns(cfg.data, meta["contract"]))
    train_rows, val_rows, counts = split_rows(data, cfg.limit_samples, cfg.holdout_days, cfg.val_days,
                                              meta["contract"]["labels"]["horizon_bars"], cfg.train_end)
    check_scaler_fit(meta, data["time"], counts, cfg)
    if len(train_rows) == 0:
        raise InputError(f"no eligible training rows in {cfg.data} with limit_samples={cfg.limit_samples}, "
                         f"holdout_days={cfg.holdout_days}, val_days={cfg.val_days}")
    inputs = build_model_inputs(data, meta["contract"], seq_scaler, snap_scaler, cfg.seq_len).to(device)
    fingerprint = {**{k: v for k, v in cfg.knobs().items() if k not in RESULT_NEUTRAL_FIELDS},
                   "data_sha256": sha256_file(cfg.data), "contract_hash": contract_hash(meta), "scalers": meta["scalers"],
                   **bundle_write.environment_facts(device, torch.get_num_threads(), world.size)}
    blobs = [read_regular_file(p, "contract file", 1 << 24) for p in (cfg.feature_meta_path, cfg.seq_scaler_path,
                                                                       cfg.snap_scaler_path)]
    if [sha256_bytes(b) for b in blobs[1:]] != [meta["scalers"][k]["sha256"] for k in ("seq", "snap")] or \
            parse_json_bytes(blobs[0], cfg.feature_meta_path) != meta:  # the bundle gets exactly what was checked
        raise InputError("the feature meta or a scaler changed while training read it: rerun when it is settled")
    return RunInputs(meta, *blobs, data, train_rows, val_rows, counts, inputs, fingerprint)


def model_columns(path: str, contract: dict) -> list[str]:
    """The dataset columns a training reads: the split's, the model's inputs and the labels (not the OHLC prices):
    at 30 instrument-years that is a third less memory. Columns the file lacks are named later, by build_model_inputs."""
    wanted = ["time", "instrument", "eligible", *LABEL_COLUMNS, *contract["seq_features"], *contract["snap_features"],
              *[c["name"] for c in contract["ctx_cat_features"]], *contract["ctx_cont_features"]]
    present = set(read_dataset_schema_names(path))
    return [name for name in dict.fromkeys(wanted) if name in present]


def check_scaler_fit(meta: dict, time: np.ndarray, counts: dict, cfg: TrainConfig) -> None:
    """Refuse scalers fitted on rows this run holds out (the replay week, a walk-forward fold's test period):
    their statistics would reach the model. A meta without its fit window counts as fitted on every row."""
    if not counts["holdout_rows"]:
        return
    held_out_from = time[holdout_mask(time, cfg.holdout_days, cfg.train_end)].min().astype("datetime64[s]")
    last = (meta.get("fit") or {}).get("last_time")
    if last is None or np.datetime64(last.removesuffix("Z"), "s") >= held_out_from:
        raise InputError(f"the scalers in {cfg.feature_meta_path} were fitted on rows up to {last or 'the end of the data'}, "
                         f"inside what this run holds out (from {held_out_from}Z): rebuild the contract with the same "
                         f"holdout (python3 -m gx1.contract --holdout_days {cfg.holdout_days:g}"
                         f"{' --train_end ' + cfg.train_end if cfg.train_end else ''})")


def check_outputs(cfg: TrainConfig) -> None:
    """The out_dir and report_dir may be created or replaced, and hold none of the inputs."""
    out_dir, report_dir = Path(cfg.out_dir), Path(cfg.report_dir or cfg.out_dir)
    if cfg.timing_dir and Path(cfg.timing_dir).exists() and not Path(cfg.timing_dir).is_dir():
        raise InputError(f"--timing_dir {cfg.timing_dir} exists and is not a directory: choose another")
    for directory in (out_dir, report_dir):
        check_folder(directory, OUTPUT_COMMAND, bundle_only)  # absent, empty, or this trainer's own earlier output
        for source in (cfg.data, cfg.feature_meta_path, cfg.seq_scaler_path, cfg.snap_scaler_path):
            if directory.resolve() in Path(source).resolve().parents:
                raise InputError(f"input {source} lies inside the output directory {directory}: choose another output directory")
    if report_dir != out_dir and (out_dir.resolve() in report_dir.resolve().parents
                                  or report_dir.resolve() in out_dir.resolve().parents):
        raise InputError(f"--report_dir {report_dir} and --out_dir {out_dir} are nested: use the same directory or separate ones")


TEE_LOG = "run_log.txt"  # the plan's command pipes the console through `tee <out_dir>/run_log.txt`


def bundle_only(directory: Path) -> bool:
    """A folder with no marker the trainer may still replace: a plain gx1 bundle (its manifest proves it), or a folder
    holding only an empty ``run_log.txt``, as the plan's ``| tee <out_dir>/run_log.txt`` leaves it when training
    starts (the trainer writes its own run_log.txt there in the end; a non-empty one is not replaced)."""
    names = [entry.name for entry in os.scandir(directory)]
    if names == [TEE_LOG]:
        info = os.lstat(directory / TEE_LOG)
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            return True
    return bundle_read.is_bundle_folder(directory)


def run_id(fingerprint: dict) -> str:
    """16 hex digits naming a run by everything that decides its result (in its metrics, checkpoint, timing folder)."""
    return sha256_bytes(canonical_json(fingerprint).encode())[:16]


def checkpoint_path(cfg: TrainConfig, fingerprint: dict) -> Path:
    """``<checkpoint_dir>/<run id>.pt``: another run's checkpoint is never picked up."""
    return Path(cfg.checkpoint_dir or f"{cfg.out_dir.rstrip('/')}.checkpoints") / f"{run_id(fingerprint)}.pt"


def timing_path(cfg: TrainConfig, fingerprint: dict) -> Path:
    """Where metrics.json and run_log.txt go: ``<timing_dir>/<run id>`` when set, else the report_dir."""
    return Path(cfg.timing_dir) / run_id(fingerprint) if cfg.timing_dir else Path(cfg.report_dir or cfg.out_dir)
