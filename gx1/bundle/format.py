"""The bundle format's names: the files a bundle holds, the manifest format, each file's size bound.

    from gx1.bundle.format import BUNDLE_FILES, MANIFEST, MAX_BYTES

Writers (``gx1.bundle.write``) and readers (``gx1.bundle.read``, ``gx1.bundle.loaders``, ``gx1.bundle.checks``) take
these from here. Plain constants: importing this module loads neither torch nor the model.
"""
from __future__ import annotations

from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME

WEIGHTS = "model_state_dict.pt"
TRAIN_CONFIG = "train_config.json"
METADATA = "bundle_metadata.json"
HASH_FILE = "feature_contract_hash.txt"
GOLDEN = "golden_sample.json"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "gx1-bundle/2"
MAX_BYTES = {WEIGHTS: 256 << 20, TRAIN_CONFIG: 1 << 20, METADATA: 1 << 20, HASH_FILE: 1 << 10, META_NAME: 1 << 20,
             SEQ_SCALER_NAME: 1 << 20, SNAP_SCALER_NAME: 1 << 20, GOLDEN: 16 << 20, MANIFEST: 1 << 20}
BUNDLE_FILES = (WEIGHTS, TRAIN_CONFIG, METADATA, HASH_FILE, META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, GOLDEN)
JSON_FILES = (METADATA, TRAIN_CONFIG, META_NAME, GOLDEN)
# file types a runtime could load: any of them that is not a bundle file is flagged by verify
LOADABLE_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".onnx", ".joblib", ".pkl", ".pickle",
                               ".npz", ".npy", ".json"})
# what a training out_dir holds beside its bundle (reports, never loaded by a runtime)
TRAINING_REPORTS = frozenset({"summary.json", "metrics.json", "reproducible_metrics.json", "run_log.txt", "train_steps.tsv",
                              "train_epochs.tsv"})
MAX_GOLDEN_SAMPLES = 64
