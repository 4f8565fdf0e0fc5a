"""Feature contract: feature meta, seq/snap scalers (fitted on eligible training rows) and the contract hash.

Run:
    python -m gx1.contract --data data/entry_v9/full_2025.parquet \
        --out_dir gx1/models/entry_v9/nextgen_2020_2025_clean --report reports/contract.json [--holdout_days 7]

The scalers are fitted on the eligible rows a training run with the same ``--holdout_days`` /
``--train_end`` trains on (label-horizon embargo included), so no statistic of the replay week or of
a walk-forward fold's test period reaches them; the meta records that window (``fit``) and the
trainer refuses a contract fitted on rows it holds out.

Writes entry_v9_feature_meta.json, seq_scaler.joblib, snap_scaler.joblib as one set (``gx1.outputs.write_set``:
built beside them, the old meta moved aside first and the new one put in place last, rolled back on an error,
so new scalers never sit beside the old meta; each overwrites only a file of its own kind) and prints the
feature contract hash: the first 16 hex digits of sha256 over the canonical JSON (sorted
keys, no spaces) of the meta's ``contract`` part (feature names and order, categorical
cardinalities, continuous context features, label definition, bar interval, instruments). Refitting the
scalers changes their recorded sha256 but not the hash.

This module owns the contract: building it from a dataset, hashing it, reading a meta and its
scalers back (sha256 first, then the allow-list unpickler of ``gx1.scaler_io``).
"""
from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from gx1.common import (
    ArgumentParser, InputError, canonical_json, number_in, pretty_json, read_json, read_regular_file, run_cli, sha256_bytes,
    utc_time, write_json,
)
from gx1.dataset import (
    read_bar_interval_seconds, read_dataset, read_dataset_schema_names, read_instruments, read_label_config, split_rows,
)
from gx1.features import CTX_CAT_FEATURES, CTX_CONT_FEATURES, FEATURE_SET, SEQ_FEATURES, SNAP_FEATURES

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler

META_NAME = "entry_v9_feature_meta.json"
SEQ_SCALER_NAME = "seq_scaler.joblib"
SNAP_SCALER_NAME = "snap_scaler.joblib"
CONTRACT_KEYS = ("feature_set", "seq_features", "snap_features", "ctx_cat_features", "ctx_cont_features", "labels",
                 "bar_interval_seconds", "instruments")
MAX_SCALER_BYTES = 1 << 20
CONTRACT_FILES = (META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME)
HASH_PATTERN = re.compile(r"[0-9a-f]{16}")  # what contract_hash returns


def contract_part(meta: dict) -> dict:
    """The part of the meta the contract hash covers."""
    contract = meta.get("contract") if isinstance(meta, dict) else None
    if not isinstance(contract, dict):
        raise InputError("feature meta has no 'contract' object: regenerate it with `python -m gx1.contract`")
    missing = [k for k in CONTRACT_KEYS if k not in contract]
    if missing:
        raise InputError(f"feature meta contract lacks {missing}: regenerate it with `python -m gx1.contract`")
    return contract


def contract_hash(meta: dict) -> str:
    """First 16 hex digits of sha256 over the canonical JSON of the contract part."""
    return sha256_bytes(canonical_json(contract_part(meta)).encode("ascii"))[:16]


def build_contract(label_config: dict, bar_interval_seconds: int, instruments: list[str]) -> dict:
    """The contract of a dataset built with ``label_config`` from ``instruments``' bars of ``bar_interval_seconds``."""
    return {
        "bar_interval_seconds": int(bar_interval_seconds),
        "instruments": sorted(instruments),
        "feature_set": FEATURE_SET,
        "seq_features": list(SEQ_FEATURES),
        "snap_features": list(SNAP_FEATURES),
        "ctx_cat_features": [{"name": name, "cardinality": card} for name, card in CTX_CAT_FEATURES],
        "ctx_cont_features": list(CTX_CONT_FEATURES),
        "labels": {
            "columns": ["y_dir", "y_early", "y_quality"],
            "horizon_bars": int(label_config["horizon_bars"]),
            "early_bars": int(label_config["early_bars"]),
            "early_move_atr": float(label_config["early_move_atr"]),
            "quality_clip": float(label_config["quality_clip"]),
        },
    }


def fit_scaler(matrix: np.ndarray) -> StandardScaler:
    from sklearn.preprocessing import StandardScaler  # imported when used: --help answers at once
    scaler = StandardScaler()
    scaler.fit(matrix.astype(np.float64))
    return scaler


def dataset_contract(path: str) -> dict:
    """The contract a dataset file carries (its label config, bar interval and instruments)."""
    return build_contract(asdict(read_label_config(path)), read_bar_interval_seconds(path), read_instruments(path))


def fit_contract(data: dict[str, np.ndarray], label_config: dict, bar_interval_seconds: int, instruments: list[str],
                 holdout_days: float = 0.0, train_end: str = "") -> tuple[dict, bytes, bytes]:
    """Return (meta, seq scaler bytes, snap scaler bytes), scalers fitted on the eligible rows a training run
    with the same ``holdout_days``/``train_end`` trains on (``gx1.dataset.split_rows``): no statistic of a
    held-out period reaches the scalers. The meta records that window (``fit``)."""
    contract = build_contract(label_config, bar_interval_seconds, instruments)
    fit_rows = split_rows(data, 0, holdout_days, 0, label_config["horizon_bars"], train_end)[0]
    eligible = np.zeros(len(data["time"]), dtype=bool)
    eligible[fit_rows] = True
    if not eligible.any():
        raise InputError("no eligible rows to fit the scalers on" + (" before the held-out period" if holdout_days or train_end
                                                                    else ""))
    missing = [c for c in contract["seq_features"] + contract["snap_features"] if c not in data]
    if missing:
        raise InputError(f"dataset lacks feature columns {missing}: rebuild it with `python -m gx1.dataset`")
    seq_matrix = np.column_stack([data[c][eligible] for c in contract["seq_features"]])
    snap_matrix = np.column_stack([data[c][eligible] for c in contract["snap_features"]])
    from gx1.scaler_io import scaler_to_bytes
    seq_blob = scaler_to_bytes(fit_scaler(seq_matrix))
    snap_blob = scaler_to_bytes(fit_scaler(snap_matrix))
    meta = {
        "contract": contract,
        "feature_contract_hash": sha256_bytes(canonical_json(contract).encode("ascii"))[:16],
        "scalers": {
            "seq": {"file": SEQ_SCALER_NAME, "sha256": sha256_bytes(seq_blob), "n_features": seq_matrix.shape[1]},
            "snap": {"file": SNAP_SCALER_NAME, "sha256": sha256_bytes(snap_blob), "n_features": snap_matrix.shape[1]},
        },
        "fit_rows": int(eligible.sum()),
        "fit": {"holdout_days": holdout_days, "train_end": train_end,
                "last_time": f"{data['time'][fit_rows[-1]].astype('datetime64[s]')}Z"},
        "label_config": label_config,
    }
    return meta, seq_blob, snap_blob


def read_meta(path: str | Path) -> dict:
    """A feature meta file, checked for its contract part and scaler records; InputError naming what is wrong."""
    meta = read_json(path, "feature meta")
    contract_part(meta)
    scalers = meta.get("scalers")
    if not isinstance(scalers, dict) or not all(isinstance(scalers.get(k), dict) and isinstance(scalers[k].get("sha256"), str)
                                                for k in ("seq", "snap")):
        raise InputError(f"feature meta {path} records no scaler sha256: regenerate it with `python -m gx1.contract`")
    return meta


def load_scaler(path: str | Path, expected_sha256: str, what: str) -> StandardScaler:
    """A scaler file whose sha256 matches the recorded one, read through the allow-list (never plain unpickling)."""
    blob = read_regular_file(path, what, MAX_SCALER_BYTES)
    actual = sha256_bytes(blob)
    if actual != expected_sha256:
        raise InputError(f"{what} {path} has sha256 {actual[:16]}..., the feature meta records {str(expected_sha256)[:16]}...: "
                         "use the scaler written with that meta (or rerun `python -m gx1.contract`)")
    from gx1.scaler_io import scaler_from_bytes
    return scaler_from_bytes(blob, f"{what} {path}")


def scale(matrix: np.ndarray, scaler: StandardScaler) -> np.ndarray:
    """(x - mean) / scale in float32; NaN stays NaN. The one scaling used by training and replay.
    A float32 ``matrix`` is scaled in place (the caller's fresh stack of columns: no second full-size copy)."""
    mean = scaler.mean_.astype(np.float32)
    std = scaler.scale_.astype(np.float32)
    out = matrix.astype(np.float32, copy=False)
    out -= mean
    out /= std
    return out


def output_kinds() -> dict[str, "outputs.Kind"]:
    """What gx1.contract may overwrite (gx1.outputs content signatures): a feature meta, a scaler the allow-list
    reads as a StandardScaler, its own report."""
    from gx1 import outputs

    def is_scaler(path: Path) -> bool:
        from gx1.scaler_io import scaler_from_bytes
        try:
            scaler_from_bytes(read_regular_file(path, "scaler", MAX_SCALER_BYTES, follow_symlinks=True), str(path))
            return True
        except (InputError, OSError):
            return False
    scaler = outputs.Kind("scaler (.joblib StandardScaler)", is_scaler)
    return {META_NAME: outputs.json_kind("feature meta", ("contract", "feature_contract_hash", "scalers")),
            SEQ_SCALER_NAME: scaler, SNAP_SCALER_NAME: scaler,
            "report": outputs.json_kind("gx1.contract report", ("feature_contract_hash", "fit_rows", "fit_last_time"))}


def check_outputs(out_dir: Path, report: str | None, data: str) -> None:
    """Each output absent or of its own kind, none of them the dataset, the report none of the three contract files."""
    from gx1.outputs import check_file
    kinds = output_kinds()
    for name in CONTRACT_FILES:
        check_file(out_dir / name, kinds[name], inputs=[data])
    if report:
        if any(Path(report).resolve() == (out_dir / name).resolve() for name in CONTRACT_FILES):
            raise InputError(f"--report {report} is one of the contract files in --out_dir: give another path")
        check_file(report, kinds["report"], inputs=[data])


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.contract", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset parquet (from gx1.dataset)")
    parser.add_argument("--out_dir", required=True, help="directory for meta and scalers")
    parser.add_argument("--report", help="JSON report (contract hash, fit rows)")
    parser.add_argument("--holdout_days", type=number_in(float, 0.0, 36_600.0), default=0.0,
                        help="fit the scalers without the last N days (the replay week; give the trainer's value)")
    parser.add_argument("--train_end", type=utc_time, default="",
                        help="fit the scalers on rows before this UTC time only (a walk-forward fold's start)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    check_outputs(out, args.report, args.data)
    label_config = asdict(read_label_config(args.data))
    present = set(read_dataset_schema_names(args.data))
    data = read_dataset(args.data, columns=[c for c in ("time", "instrument", "eligible", *SEQ_FEATURES, *SNAP_FEATURES)
                                            if c in present])  # not the prices and labels: less memory on big tables
    meta, seq_blob, snap_blob = fit_contract(data, label_config, read_bar_interval_seconds(args.data),
                                             read_instruments(args.data), args.holdout_days, args.train_end)
    from gx1.outputs import write_set  # one set: a failure never leaves new scalers beside the old meta
    write_set(out, {SEQ_SCALER_NAME: seq_blob, SNAP_SCALER_NAME: snap_blob, META_NAME: pretty_json(meta).encode()},
              META_NAME)
    if args.report:
        write_json(args.report, {"feature_contract_hash": meta["feature_contract_hash"], "fit_rows": meta["fit_rows"],
                                 "fit_last_time": meta["fit"]["last_time"],
                                 "n_seq_features": len(meta["contract"]["seq_features"]),
                                 "n_snap_features": len(meta["contract"]["snap_features"])})
    print(f"feature contract hash: {meta['feature_contract_hash']} "
          f"({len(SEQ_FEATURES)} seq, {len(SNAP_FEATURES)} snap features; scalers fitted on {meta['fit_rows']} eligible rows up to "
          f"{meta['fit']['last_time']}) "
          f"-> {out}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
