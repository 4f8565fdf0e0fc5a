"""The entry_v10 bundle format in one package: write, open with the sha256 gate, load, verify, assemble.

    from gx1 import bundle
    files = bundle.bundle_file_bytes(model, train_config, meta_blob, seq_blob, snap_blob, golden, environment, rows)
    bundle.write_bundle(staging_dir, files)                    # the files, then manifest.json (last)
    opened = bundle.open_bundle("models/entry_v10_ctx/bundle")  # manifest + every listed file read once, bounded
    results = bundle.verify_bundle(directory, expected_hash)    # every check (python3 -m gx1.verify prints them)
    loaded = bundle.load_bundle(directory)                      # the integrity checks, then the model and scalers

Command line: ``python3 -m gx1.bundle --train_dir DIR --out DIR`` (``assemble``: copy a training out_dir's
verified bundle files into a bundle folder).

The modules, lowest first (each imports only those before it): ``limits`` (bounded JSON, folder walk, torch
archive and pickle scans; ``BundleError``), ``format`` (file names, manifest format, size bounds), ``config``
(bounds on a model config), ``write``, ``read`` (``open_bundle``: the sha256 gate), ``loaders`` (model, scalers,
golden sample from verified bytes), ``checks`` (verify's checks), ``load`` (``load_bundle``), ``assemble``.
Every name below is importable from ``gx1.bundle``; each loads its module at first use, so a command line's
``--help`` answers before torch loads.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_API = {  # public name -> the module defining it
    **dict.fromkeys(("BundleError",), "limits"),
    **dict.fromkeys(("WEIGHTS", "TRAIN_CONFIG", "METADATA", "HASH_FILE", "GOLDEN", "MANIFEST", "MANIFEST_FORMAT", "MAX_BYTES",
                     "BUNDLE_FILES", "JSON_FILES", "META_NAME", "SEQ_SCALER_NAME", "SNAP_SCALER_NAME"), "format"),
    **dict.fromkeys(("config_from_dict",), "config"),
    **dict.fromkeys(("state_dict_bytes", "golden_sample", "bundle_file_bytes", "manifest_bytes", "write_bundle",
                     "environment_facts"), "write"),
    **dict.fromkeys(("OpenedBundle", "open_bundle", "is_bundle_folder"), "read"),
    **dict.fromkeys(("model_config", "scaler", "expected_state", "weights", "model", "golden_inputs"), "loaders"),
    **dict.fromkeys(("CheckResult", "verify_bundle", "integrity_failure"), "checks"),
    **dict.fromkeys(("Bundle", "load_bundle"), "load"),
    **dict.fromkeys(("assemble_bundle", "main"), "assemble"),  # main: python3 -m gx1.bundle
}
__all__ = sorted(_API)

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from gx1.bundle.assemble import assemble_bundle, main
    from gx1.bundle.checks import CheckResult, integrity_failure, verify_bundle
    from gx1.bundle.config import config_from_dict
    from gx1.bundle.format import (
        BUNDLE_FILES, GOLDEN, HASH_FILE, JSON_FILES, MANIFEST, MANIFEST_FORMAT, MAX_BYTES, META_NAME, METADATA,
        SEQ_SCALER_NAME, SNAP_SCALER_NAME, TRAIN_CONFIG, WEIGHTS,
    )
    from gx1.bundle.limits import BundleError
    from gx1.bundle.load import Bundle, load_bundle
    from gx1.bundle.loaders import expected_state, golden_inputs, model, model_config, scaler, weights
    from gx1.bundle.read import OpenedBundle, is_bundle_folder, open_bundle
    from gx1.bundle.write import bundle_file_bytes, environment_facts, golden_sample, manifest_bytes, state_dict_bytes, write_bundle


def __getattr__(name: str):
    """``gx1.bundle.<name>``: the name from its module, imported now (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'gx1.bundle' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gx1.bundle.{_API[name]}"), name)
