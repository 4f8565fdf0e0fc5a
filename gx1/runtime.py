"""Loading a bundle for inference: every file checked against the manifest before anything is read.

    from gx1.runtime import load_bundle
    bundle = load_bundle("models/entry_v10_ctx/bundle")      # raises InputError naming the failed check
    outputs = bundle.predict(inputs, rows)                    # (len(rows), 3) numpy

The checks are gx1.verify's (one implementation): nothing pickled is unpickled before its sha256
matched the manifest; weights load with ``torch.load(weights_only=True)`` and strictly into a model
rebuilt from the bundle's own config; the golden sample must reproduce.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from gx1.models.entry_v10 import bundle_files
from gx1.models.entry_v10.data import ModelInputs, build_model_inputs, predict_rows
from gx1.models.entry_v10.model import EntryV10Model
from gx1.verify import load_checked


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

    def predict(self, inputs: ModelInputs, rows: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Model outputs (direction logit, early-move logit, quality) for dataset rows, batched."""
        return predict_rows(self.model, inputs, rows, batch_size).cpu().numpy()


def load_bundle(bundle_dir: str | Path, expected_hash: str | None = None) -> LoadedBundle:
    """Load a bundle through gx1.verify's integrity checks (manifest, contract, model_config, scalers,
    weights, golden_sample; plus feature_contract_hash when ``expected_hash`` is given).

    Raises InputError naming the first failing check, e.g. "manifest check failed: ...".
    The §5A policy checks (context variant) are left to the caller: a v10 bundle loads too.
    """
    contents = load_checked(bundle_dir, expected_hash)
    assert contents.model is not None and contents.seq_scaler is not None and contents.snap_scaler is not None
    return LoadedBundle(
        directory=contents.directory, metadata=contents.document(bundle_files.METADATA),
        train_config=contents.document(bundle_files.TRAIN_CONFIG), feature_meta=contents.document(bundle_files.META_NAME),
        contract_hash=str(contents.contract_hash), seq_scaler=contents.seq_scaler, snap_scaler=contents.snap_scaler,
        model=contents.model)
