"""The loaded bundle a runtime uses: integrity checks first, then the loaders.

    bundle = load_bundle("models/entry_v10_ctx/bundle")   # gx1.bundle.checks' integrity checks, then the loaders
    outputs = bundle.predict(bundle.model_inputs(data), rows)

Raises ``BundleError`` naming the first failing check; nothing is built from a bundle that fails one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from gx1.bundle.checks import integrity_failure
from gx1.bundle.format import METADATA, TRAIN_CONFIG
from gx1.bundle.limits import BundleError
from gx1.bundle.loaders import model, scaler
from gx1.bundle.read import open_bundle
from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, contract_hash
from gx1.models.entry_v10.inputs import ModelInputs, build_model_inputs, predict_rows
from gx1.models.entry_v10.model import EntryV10Model


@dataclass(frozen=True)
class Bundle:
    """A bundle that passed the integrity checks, with everything a runtime needs."""

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

    @property
    def use_context(self) -> bool:
        return self.model.cfg.use_context

    def model_inputs(self, data: dict[str, np.ndarray]) -> ModelInputs:
        """Scale a dataset's columns with the bundle's own scalers (the training-time data path)."""
        return build_model_inputs(data, self.feature_meta["contract"], self.seq_scaler, self.snap_scaler, self.seq_len)

    def predict(self, inputs: ModelInputs, rows: np.ndarray) -> np.ndarray:
        """Model outputs (direction logit, early-move logit, quality) for dataset rows (``inputs.predict_rows``)."""
        return predict_rows(self.model, inputs, rows).cpu().numpy()


def load_bundle(bundle_dir: str | Path, expected_hash: str | None = None) -> Bundle:
    """Run gx1.verify's integrity checks (plus the contract hash when ``expected_hash`` is given), then load.

    Raises BundleError naming the first failing check. The plan's context-variant policy is the caller's.
    """
    opened = open_bundle(bundle_dir)
    failure = integrity_failure(opened, expected_hash)
    if failure is not None:
        raise BundleError(f"{failure.name} check failed: {failure.detail} (bundle {opened.directory})")
    meta = opened.document(META_NAME)
    return Bundle(directory=opened.directory, metadata=opened.document(METADATA), train_config=opened.document(TRAIN_CONFIG),
                  feature_meta=meta, contract_hash=contract_hash(meta), seq_scaler=scaler(opened, SEQ_SCALER_NAME),
                  snap_scaler=scaler(opened, SNAP_SCALER_NAME), model=model(opened))

