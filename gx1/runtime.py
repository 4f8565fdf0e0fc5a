"""Loading a bundle for inference: every file checked against the manifest before anything is read.

    from gx1.runtime import load_bundle
    bundle = load_bundle("models/entry_v10_ctx/bundle")      # raises InputError naming the failed check
    outputs = bundle.predict(inputs, rows)                    # (len(rows), 3) numpy

Nothing pickled is unpickled before its sha256 matched the manifest; weights load with
``torch.load(weights_only=True)`` and strictly into a model rebuilt from the bundle's own config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from gx1.common import InputError, read_json, sha256_file
from gx1.contract import contract_hash
from gx1.models.entry_v10 import bundle_files
from gx1.models.entry_v10.data import ModelInputs, build_model_inputs, gather_batch
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model


@dataclass
class LoadedBundle:
    directory: Path
    metadata: dict
    train_config: dict
    feature_meta: dict
    contract_hash: str
    seq_scaler: StandardScaler
    snap_scaler: StandardScaler
    model: EntryV10Model

    @property
    def seq_len(self) -> int:
        return self.model.cfg.seq_len

    def model_inputs(self, data: dict[str, np.ndarray]) -> ModelInputs:
        """Scale a dataset's columns with the bundle's own scalers (the training-time data path)."""
        return build_model_inputs(data, self.feature_meta["contract"], self.seq_scaler, self.snap_scaler, self.seq_len)

    def predict(self, inputs: ModelInputs, rows: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Model outputs (direction logit, early-move logit, quality) for dataset rows, batched."""
        outputs = []
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                batch = gather_batch(inputs, torch.from_numpy(np.asarray(rows[start:start + batch_size], dtype=np.int64)))
                outputs.append(self.model(*batch[:4]))
        return torch.cat(outputs).numpy() if outputs else np.zeros((0, 3), dtype=np.float32)


def check_manifest(directory: Path) -> dict:
    """Every manifest file present with matching sha256; returns the manifest."""
    manifest_path = directory / bundle_files.MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"bundle {directory} has no {bundle_files.MANIFEST}: not a complete bundle (rerun training or gx1.bundle)")
    manifest = read_json(manifest_path, "bundle manifest")
    files = manifest.get("files", {})
    for name in bundle_files.BUNDLE_FILES:
        if name not in files:
            raise InputError(f"manifest check failed: {name} is not listed in {manifest_path}")
    for name, entry in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            raise InputError(f"manifest check failed: {name} is missing from {directory}")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise InputError(f"manifest check failed: {name} sha256 {actual[:16]}... != manifest {entry['sha256'][:16]}...")
    return manifest


def rebuild_model(metadata: dict, weights_path: Path) -> EntryV10Model:
    """Model from the bundle's own config, weights loaded strictly with weights_only=True."""
    model = EntryV10Model(EntryV10Config(**metadata["model_config"]))
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise InputError(f"weights check failed: missing keys {result.missing_keys}, unexpected keys {result.unexpected_keys}")
    model.eval()
    return model


def load_bundle(bundle_dir: str | Path) -> LoadedBundle:
    directory = Path(bundle_dir)
    if not directory.is_dir():
        raise InputError(f"bundle directory not found: {directory}")
    check_manifest(directory)
    metadata = read_json(directory / bundle_files.METADATA, "bundle metadata")
    feature_meta = read_json(directory / bundle_files.META_NAME, "feature meta")
    recorded_hash = (directory / bundle_files.HASH_FILE).read_text().strip()
    feature_hash = contract_hash(feature_meta)
    if feature_hash != recorded_hash or metadata.get("feature_contract_hash") != recorded_hash:
        raise InputError(f"contract check failed: meta hashes to {feature_hash}, {bundle_files.HASH_FILE} says {recorded_hash}, "
                         f"bundle_metadata.json says {metadata.get('feature_contract_hash')}")
    # sha256 of both scalers was checked against the manifest above; only then unpickle
    seq_scaler = joblib.load(directory / bundle_files.SEQ_SCALER_NAME)
    snap_scaler = joblib.load(directory / bundle_files.SNAP_SCALER_NAME)
    return LoadedBundle(
        directory=directory, metadata=metadata, train_config=read_json(directory / bundle_files.TRAIN_CONFIG, "train config"),
        feature_meta=feature_meta, contract_hash=feature_hash, seq_scaler=seq_scaler, snap_scaler=snap_scaler,
        model=rebuild_model(metadata, directory / bundle_files.WEIGHTS))
