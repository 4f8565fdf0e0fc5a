"""Model inputs from a dataset: scaled feature matrices, the epoch order, batched windows.

Training and replay both build inputs through ``build_model_inputs`` + ``gather_batch``, so a
bar gets the same numbers in both. Sequence windows are gathered with one index array per
batch (``rows[:, None] + offsets``), never per sample in Python. ``gx1.dataset.split_rows`` and
``epoch_order`` decide which rows a training run sees, in which order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from gx1.common import InputError
from gx1.contract import scale
from gx1.features import LABEL_COLUMNS

@dataclass
class ModelInputs:
    """Whole-dataset tensors; a sample is a row index whose window [row-seq_len+1, row] is used."""

    seq: torch.Tensor        # (rows, n_seq) float32, scaled
    snap: torch.Tensor       # (rows, n_snap) float32, scaled
    ctx_cat: torch.Tensor    # (rows, n_cat) int64
    ctx_cont: torch.Tensor   # (rows, n_cont) float32, raw (the model standardises)
    labels: torch.Tensor     # (rows, 3) float32: y_dir, y_early, y_quality
    seq_len: int

    def to(self, device: torch.device) -> "ModelInputs":
        return ModelInputs(self.seq.to(device), self.snap.to(device), self.ctx_cat.to(device),
                           self.ctx_cont.to(device), self.labels.to(device), self.seq_len)


def _matrix(data: dict[str, np.ndarray], names: list[str], what: str) -> np.ndarray:
    missing = [n for n in names if n not in data]
    if missing:
        raise InputError(f"dataset lacks {what} columns {missing} named by the feature meta: "
                         "rebuild the dataset, or pass the meta it was built with")
    if not names:
        return np.zeros((len(data["time"]), 0), dtype=np.float32)
    return np.column_stack([np.asarray(data[n]) for n in names])


def build_model_inputs(data: dict[str, np.ndarray], contract: dict, seq_scaler: StandardScaler,
                       snap_scaler: StandardScaler, seq_len: int) -> ModelInputs:
    seq_names, snap_names = contract["seq_features"], contract["snap_features"]
    for scaler, names, what in ((seq_scaler, seq_names, "seq"), (snap_scaler, snap_names, "snap")):
        if scaler.n_features_in_ != len(names):
            raise InputError(f"{what} scaler expects {scaler.n_features_in_} features, the feature meta lists {len(names)}")
    cat_names = [c["name"] for c in contract["ctx_cat_features"]]
    labels = _matrix(data, list(LABEL_COLUMNS), "label") if LABEL_COLUMNS[0] in data else \
        np.full((len(data["time"]), len(LABEL_COLUMNS)), np.nan)
    ctx_cat = _matrix(data, cat_names, "context").astype(np.int64)
    cards = np.array([c["cardinality"] for c in contract["ctx_cat_features"]], dtype=np.int64)
    out_of_range = (ctx_cat < 0) | (ctx_cat >= cards)
    if out_of_range.any():
        column = int(np.argmax(out_of_range.any(axis=0)))
        raise InputError(f"context feature {cat_names[column]} has values outside [0, {cards[column]}) (cardinality in the "
                         "feature meta): rebuild the contract from this dataset (python3 -m gx1.contract)")
    return ModelInputs(
        seq=torch.from_numpy(np.ascontiguousarray(scale(_matrix(data, seq_names, "seq"), seq_scaler))),
        snap=torch.from_numpy(np.ascontiguousarray(scale(_matrix(data, snap_names, "snap"), snap_scaler))),
        ctx_cat=torch.from_numpy(ctx_cat),
        ctx_cont=torch.from_numpy(_matrix(data, contract["ctx_cont_features"], "context").astype(np.float32)),
        labels=torch.from_numpy(labels.astype(np.float32)),
        seq_len=seq_len,
    )


INFERENCE_BLOCK = 64  # samples per model call at inference


def predict_samples(model: torch.nn.Module, seq: torch.Tensor, snap: torch.Tensor, ctx_cat: torch.Tensor,
                    ctx_cont: torch.Tensor) -> torch.Tensor:
    """Model outputs (B, 3) for gathered samples, without gradient, ``INFERENCE_BLOCK`` samples per model call
    (the last block padded by repeating its last sample; the padding's outputs are dropped).

    Every prediction of a bar (validation, the golden sample, verify, replay) goes through here, so a sample's
    output does not depend on how many samples are predicted with it: portable mode's gemms (MKL's vendor-
    neutral branch) split a call's rows by its size, and a sample's bytes then depend on that size, but not on
    the sample's place within calls of one size. The training batch of the default ``batch_size`` (64) is
    such a call too."""
    count = len(seq)
    outputs = []
    with torch.no_grad():
        for start in range(0, count, INFERENCE_BLOCK):
            index = torch.arange(start, start + INFERENCE_BLOCK, device=seq.device).clamp_max_(count - 1)
            block = model(seq[index], snap[index], ctx_cat[index], ctx_cont[index])
            outputs.append(block[:min(INFERENCE_BLOCK, count - start)])
    return torch.cat(outputs) if outputs else torch.zeros((0, 3), device=seq.device)


def predict_rows(model: torch.nn.Module, inputs: ModelInputs, rows: np.ndarray) -> torch.Tensor:
    """Model outputs (B, 3) for dataset rows (``predict_samples``, gathered block by block: bounded memory)."""
    device = inputs.seq.device
    rows = np.asarray(rows, dtype=np.int64)
    gather = INFERENCE_BLOCK * 16
    outputs = [predict_samples(model, *gather_batch(inputs, torch.from_numpy(rows[start:start + gather]).to(device))[:4])
               for start in range(0, len(rows), gather)]
    return torch.cat(outputs) if outputs else torch.zeros((0, 3), device=device)


def gather_batch(inputs: ModelInputs, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(seq windows (B, L, n_seq), snap (B, n_snap), ctx_cat (B, n_cat), ctx_cont (B, n_cont), labels (B, 3))."""
    offsets = torch.arange(1 - inputs.seq_len, 1, device=rows.device)
    windows = inputs.seq[rows[:, None] + offsets]
    return windows, inputs.snap[rows], inputs.ctx_cat[rows], inputs.ctx_cont[rows], inputs.labels[rows]


def epoch_order(train_rows: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The data order of one epoch, from a generator seeded by (seed, epoch): resumable without state."""
    return np.random.default_rng([seed, epoch]).permutation(train_rows)
