"""Assemble a self-contained runtime bundle from a training out_dir.

Run:
    python3 -m gx1.bundle --train_dir models/entry_v10_ctx/pipeline --out models/entry_v10_ctx/bundle

The train_dir must pass gx1.verify's integrity checks (else exit 2, one line). The bundle gets
exactly the bundle files (weights, bundle_metadata.json, train_config.json, feature_contract_hash.txt,
feature meta, both scalers, golden sample), copied from the bytes that were verified, and a fresh
manifest.json; training reports (log, metrics, curves) stay behind. It is built in a hidden
temporary folder beside ``--out``, verified there, then renamed into place; an old bundle at
``--out`` is replaced only after the new one verified. Same train_dir bytes, same bundle bytes.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gx1.common import UMASK, ArgumentParser, CheckFailed, InputError, run_cli
from gx1.models.entry_v10 import bundle_files as bf
from gx1.verify import BundleContents, load_checked


def _check_target(train_dir: Path, out_dir: Path) -> None:
    train, out = train_dir.resolve(), out_dir.resolve()
    if out == train or out in train.parents or train in out.parents:
        raise InputError(f"--out {out_dir} overlaps --train_dir {train_dir}: choose a separate bundle directory")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} exists and is not a directory: remove it or choose another --out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / bf.MANIFEST).is_file():
        raise InputError(f"refusing to replace {out_dir}: it is not a bundle (no {bf.MANIFEST}); "
                         "remove it or choose another --out")


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Rename the verified staging folder to out_dir; an old out_dir is moved aside first, then deleted."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.rename(out_dir, old / "bundle")
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(old / "bundle", out_dir)  # put the old bundle back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def assemble_bundle(train_dir: str | Path, out_dir: str | Path) -> BundleContents:
    """Copy the verified bundle files of train_dir to out_dir (atomically); return the verified result."""
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    _check_target(train_dir, out_dir)
    try:
        source = load_checked(train_dir)
    except InputError as exc:
        raise InputError(f"train_dir {train_dir} does not verify: {exc}") from None
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp creates 0700
        for name in bf.BUNDLE_FILES:
            (staging / name).write_bytes(source.blobs[name])  # exactly the bytes that were verified
        bf.write_manifest(staging)
        try:
            built = load_checked(staging)
        except InputError as exc:
            raise CheckFailed(f"the assembled bundle does not verify: {exc}") from None
        if {n: e["sha256"] for n, e in built.manifest_files.items()} != \
                {n: e["sha256"] for n, e in source.manifest_files.items()}:
            raise CheckFailed(f"the bundle written to {staging} differs from {train_dir}'s manifest")
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    built.directory = out_dir
    return built


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--train_dir", required=True, help="training out_dir (holds a complete bundle + reports)")
    parser.add_argument("--out", required=True, help="bundle directory to create or replace")
    args = parser.parse_args(argv)
    built = assemble_bundle(args.train_dir, args.out)
    metadata = built.document(bf.METADATA)
    size = sum(len(built.blobs[name]) for name in bf.BUNDLE_FILES)
    print(f"bundle {args.out}: {metadata['model_variant']}, feature contract hash {built.contract_hash}, "
          f"{len(bf.BUNDLE_FILES)} files ({size} bytes) + {bf.MANIFEST}, verified; from {args.train_dir}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
