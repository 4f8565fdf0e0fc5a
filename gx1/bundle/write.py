"""Writing a bundle: every file's bytes in memory, then the files and manifest.json (last) into a folder.

    files = bundle_file_bytes(model, train_config, meta_blob, seq_blob, snap_blob, golden, environment, training_rows)
    write_bundle(staging_dir, files)          # the files plus manifest.json (training, gx1.bundle)

What a bundle holds (each fact once): the weights; ``bundle_metadata.json`` (the keys of the plan's five checks,
the contract hash, the model config, the environment the bytes came from); ``train_config.json`` (the
training knobs, no machine paths); the feature meta and both scalers as the contract wrote them; the
hash file the plan asks for; a golden sample (a few inputs and the CPU model's outputs);
``manifest.json`` (sha256 and size of each, written last). Same inputs, same bytes.
"""
from __future__ import annotations

import io
import platform
from pathlib import Path

import numpy as np
import sklearn
import torch

from gx1.bundle.format import (
    BUNDLE_FILES, GOLDEN, HASH_FILE, MANIFEST, MANIFEST_FORMAT, METADATA, TRAIN_CONFIG, WEIGHTS,
)
from gx1.common import atomic_write_bytes, parse_json_bytes, pretty_json, sha256_bytes
from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, contract_hash
from gx1.models.entry_v10 import OUTPUT_COLUMNS
from gx1.models.entry_v10.inputs import ModelInputs, gather_batch, predict_samples
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
from gx1.models.entry_v10.variant import variant_facts



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
    seq, snap, ctx_cat, ctx_cont, _ = gather_batch(inputs.to(torch.device("cpu")),
                                                    torch.from_numpy(np.asarray(rows, dtype=np.int64)))
    outputs = predict_samples(cpu_model, seq, snap, ctx_cat, ctx_cont)
    return {"rows": [int(r) for r in rows], "times": [str(times[r].astype("datetime64[s]")) + "Z" for r in rows],
            "seq": seq.tolist(), "snap": snap.tolist(), "ctx_cat": ctx_cat.tolist(), "ctx_cont": ctx_cont.tolist(),
            "outputs": outputs.tolist(), "output_columns": list(OUTPUT_COLUMNS)}


def bundle_metadata(model_cfg: EntryV10Config, feature_hash: str, environment: dict, training_rows: dict) -> dict:
    """bundle_metadata.json: the keys of the plan's five checks, the contract hash, the model config, the environment and the
    training rows' span (so a replay can say whether its window is out of sample)."""
    return {"model_name": "entry_v10",
            **variant_facts(model_cfg.use_context, len(model_cfg.ctx_cat_cardinalities), model_cfg.n_ctx_cont),
            "feature_contract_hash": feature_hash, "model_config": model_cfg.to_dict(), "environment": environment,
            "training_rows": training_rows}


def bundle_file_bytes(model: EntryV10Model, train_config: dict, meta_blob: bytes, seq_blob: bytes, snap_blob: bytes,
                      golden: dict, environment: dict, training_rows: dict) -> dict[str, bytes]:
    """Every bundle file's bytes (no manifest), in memory."""
    feature_hash = contract_hash(parse_json_bytes(meta_blob, META_NAME))
    return {WEIGHTS: state_dict_bytes(model), TRAIN_CONFIG: pretty_json(train_config).encode(),
            METADATA: pretty_json(bundle_metadata(model.cfg, feature_hash, environment, training_rows)).encode(),
            HASH_FILE: (feature_hash + "\n").encode(), META_NAME: meta_blob, SEQ_SCALER_NAME: seq_blob,
            SNAP_SCALER_NAME: snap_blob, GOLDEN: pretty_json(golden).encode()}


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """manifest.json: sha256 and size of every bundle file."""
    entries = {name: {"sha256": sha256_bytes(blob), "bytes": len(blob)} for name, blob in sorted(files.items())}
    return pretty_json({"format": MANIFEST_FORMAT, "files": entries}).encode()


def write_bundle(directory: Path, files: dict[str, bytes]) -> None:
    """Write the bundle files, then manifest.json (last), into ``directory`` (a staging folder)."""
    for name in BUNDLE_FILES:
        atomic_write_bytes(Path(directory) / name, files[name])
    atomic_write_bytes(Path(directory) / MANIFEST, manifest_bytes(files))


ENVIRONMENT_LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"  # beside gx1/, in a checkout


def environment_facts(device: torch.device, threads: int, world_size: int = 1) -> dict:
    """What the weight bytes depend on besides inputs and params (gx1.cpu says which facts matter in which mode;
    the number of torchrun processes always does), the sha256 of the environment lock the code came with
    (None outside a checkout), and this machine's arithmetic fingerprint (``gx1.fingerprint``; ``gx1.doctor
    --bundle`` compares another machine's with it)."""
    from gx1.cpu import reproducibility_facts
    from gx1.fingerprint import arithmetic_fingerprint
    lock = sha256_bytes(ENVIRONMENT_LOCK.read_bytes()) if ENVIRONMENT_LOCK.is_file() else None
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scikit_learn": sklearn.__version__, "machine": platform.machine(), "device": device.type,
            "world_size": world_size,
            "requirements_lock_sha256": lock, **reproducibility_facts(threads),
            "arithmetic_fingerprint": arithmetic_fingerprint()}

