"""Writing the files of an entry_v10 bundle (DESIGN.md "Bundle"); reading and checking them is gx1.verify.

Bundle files carry no timestamps or run-varying content: same inputs, same bytes.
"""
from __future__ import annotations

import io
import platform
import shutil
from pathlib import Path

import numpy as np
import sklearn
import torch

from gx1.common import atomic_path, atomic_write_bytes, atomic_write_text, pretty_json, read_json, sha256_file, write_json
from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, contract_hash
from gx1.models.entry_v10.data import ModelInputs, gather_batch
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

WEIGHTS = "model_state_dict.pt"
TRAIN_CONFIG = "train_config.json"
METADATA = "bundle_metadata.json"
HASH_FILE = "feature_contract_hash.txt"
GOLDEN = "golden_sample.json"
MANIFEST = "manifest.json"
BUNDLE_FILES = (WEIGHTS, TRAIN_CONFIG, METADATA, HASH_FILE, META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, GOLDEN)


def remove_bundle_files(directory: Path) -> None:
    """Delete bundle files left by an earlier run (manifest first, so a half-removed bundle never verifies)."""
    for name in (MANIFEST,) + BUNDLE_FILES:
        (Path(directory) / name).unlink(missing_ok=True)


def environment_facts(device: torch.device, threads: int) -> dict:
    """What the weight bytes depend on besides inputs and params."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "device": device.type,
        "num_threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
    }


def state_dict_bytes(model: torch.nn.Module) -> bytes:
    """torch.save of the CPU state dict into memory (the archive name does not depend on a file path)."""
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def golden_sample(model: EntryV10Model, inputs: ModelInputs, rows: np.ndarray, times: np.ndarray) -> dict:
    """A few input rows and the CPU model's outputs for them."""
    cpu_model = EntryV10Model(model.cfg)
    cpu_model.load_state_dict({k: v.to("cpu") for k, v in model.state_dict().items()})
    cpu_model.eval()
    cpu_inputs = inputs.to(torch.device("cpu"))
    seq, snap, ctx_cat, ctx_cont, _ = gather_batch(cpu_inputs, torch.from_numpy(np.asarray(rows, dtype=np.int64)))
    with torch.no_grad():
        outputs = cpu_model(seq, snap, ctx_cat, ctx_cont)
    return {
        "rows": [int(r) for r in rows],
        "times": [str(times[r].astype("datetime64[s]")) + "Z" for r in rows],
        "seq": seq.tolist(), "snap": snap.tolist(), "ctx_cat": ctx_cat.tolist(), "ctx_cont": ctx_cont.tolist(),
        "outputs": outputs.tolist(),
        "output_columns": ["direction_logit", "early_move_logit", "quality"],
    }


def bundle_metadata(model_cfg: EntryV10Config, feature_hash: str, meta: dict, environment: dict) -> dict:
    use_context = model_cfg.use_context
    return {
        "model_name": "entry_v10",
        "model_variant": "v10_ctx" if use_context else "v10",
        "supports_context_features": use_context,
        "expected_ctx_cat_dim": len(model_cfg.ctx_cat_cardinalities) if use_context else 0,
        "expected_ctx_cont_dim": model_cfg.n_ctx_cont if use_context else 0,
        "ctx_cat_features": [c["name"] for c in meta["contract"]["ctx_cat_features"]] if use_context else [],
        "ctx_cont_features": list(meta["contract"]["ctx_cont_features"]) if use_context else [],
        "feature_contract_hash": feature_hash,
        "seq_len": model_cfg.seq_len,
        "model_config": model_cfg.to_dict(),
        "environment": environment,
        "files": {"weights": WEIGHTS, "feature_meta": META_NAME, "seq_scaler": SEQ_SCALER_NAME,
                  "snap_scaler": SNAP_SCALER_NAME, "golden_sample": GOLDEN},
    }


def write_manifest(directory: Path, names: tuple[str, ...] = BUNDLE_FILES) -> None:
    """manifest.json: sha256 and size of every bundle file, written last."""
    files = {name: {"sha256": sha256_file(directory / name), "bytes": (directory / name).stat().st_size} for name in sorted(names)}
    write_json(directory / MANIFEST, {"format": "gx1-bundle/1", "files": files})


def write_bundle(out_dir: Path, model: EntryV10Model, model_cfg: EntryV10Config, *, train_config: dict, meta_path: str,
                 seq_scaler_path: str, snap_scaler_path: str, inputs: ModelInputs, golden_rows: np.ndarray,
                 times: np.ndarray, environment: dict) -> None:
    out_dir = Path(out_dir)
    meta = read_json(meta_path, "feature meta")
    feature_hash = contract_hash(meta)
    atomic_write_bytes(out_dir / WEIGHTS, state_dict_bytes(model))
    write_json(out_dir / TRAIN_CONFIG, {**train_config, "model": model_cfg.to_dict()})
    write_json(out_dir / METADATA, bundle_metadata(model_cfg, feature_hash, meta, environment))
    atomic_write_text(out_dir / HASH_FILE, feature_hash + "\n")
    for source, name in ((meta_path, META_NAME), (seq_scaler_path, SEQ_SCALER_NAME), (snap_scaler_path, SNAP_SCALER_NAME)):
        if Path(source).resolve() != (out_dir / name).resolve():
            with atomic_path(out_dir / name) as tmp:
                shutil.copyfile(source, tmp)
    atomic_write_text(out_dir / GOLDEN, pretty_json(golden_sample(model, inputs, golden_rows, times)))
    write_manifest(out_dir)
