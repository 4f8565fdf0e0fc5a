"""Assemble a self-contained runtime bundle from a training out_dir.

Run (``gx1/bundle/__main__.py`` runs this module's main):
    python3 -m gx1.bundle --train_dir models/entry_v10_ctx/pipeline --out models/entry_v10_ctx/bundle

The train_dir must pass gx1.verify's integrity checks (else exit 2, one line). The bundle gets
exactly the bundle files, copied from the bytes that were verified, and a fresh manifest.json;
training reports (log, metrics, curves) stay behind. It is built in a hidden staging folder beside
``--out`` (named by this process; one left by a killed run is removed next time), verified there,
then swapped into place. ``--out`` is replaced only when it is a gx1 bundle and holds nothing else.
Same train_dir bytes, same bundle bytes.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from gx1.bundle import read
from gx1.bundle.format import BUNDLE_FILES, MANIFEST, METADATA
from gx1.bundle.read import is_bundle_folder
from gx1.common import ArgumentParser, CheckFailed, InputError, LazyModule, replace_dir, run_cli, sha256_bytes, staging_dir

checks = LazyModule("gx1.bundle.checks")  # torch loads at the first check, not for --help
write = LazyModule("gx1.bundle.write")


def out_problem(out_dir: Path) -> str | None:
    """Why ``--out`` may not be replaced (None: absent, empty, or a gx1 bundle holding only bundle files, which its
    manifest.json proves: the content signature of gx1.bundle's output, no marker file added to the bundle)."""
    if not out_dir.is_dir() or out_dir.is_symlink():
        return None
    allowed = set(BUNDLE_FILES) | {MANIFEST}
    with os.scandir(out_dir) as listing:
        names = []
        for entry in listing:
            if entry.name not in allowed or not entry.is_file(follow_symlinks=False):
                return (f"refusing to replace {out_dir}: it holds {entry.name}, which is not a bundle file gx1.bundle "
                        "writes (it is not a gx1 bundle holding only bundle files); remove it or choose another --out")
            names.append(entry.name)
    if names and not is_bundle_folder(out_dir):
        return (f"refusing to replace {out_dir}: its {MANIFEST} is not a gx1 bundle manifest (it is not a gx1 bundle "
                "holding only bundle files); remove it or choose another --out")
    return None


def assemble_bundle(train_dir: str | Path, out_dir: str | Path) -> dict:
    """Copy the verified bundle files of train_dir into out_dir (swapped in complete); return the new manifest's
    sha256 per file."""
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    train, out = train_dir.resolve(), out_dir.resolve()
    if out == train or out in train.parents or train in out.parents:
        raise InputError(f"--out {out_dir} overlaps --train_dir {train_dir}: choose a separate bundle directory")
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise InputError(f"--out {out_dir} exists and is not a directory: remove it or choose another --out")
    problem = out_problem(out_dir)
    if problem:
        raise InputError(problem)
    source = read.open_bundle(train_dir)
    failure = checks.integrity_failure(source)
    if failure is not None:
        raise InputError(f"train_dir {train_dir} does not verify: {failure.name} check failed: {failure.detail}")
    files = {name: source.verified_blob(name) for name in BUNDLE_FILES}  # exactly the bytes that were verified
    staging = staging_dir(out_dir)
    try:
        write.write_bundle(staging, files)
        failure = checks.integrity_failure(read.open_bundle(staging))
        if failure is not None:
            raise CheckFailed(f"the assembled bundle does not verify: {failure.name}: {failure.detail}")
        replace_dir(staging, out_dir, lambda path: out_problem(path) is None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: sha256_bytes(blob) for name, blob in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--train_dir", required=True, help="training out_dir (holds a complete bundle + reports)")
    parser.add_argument("--out", required=True, help="bundle directory to create, or replace when it is a gx1 bundle")
    args = parser.parse_args(argv)
    files = assemble_bundle(args.train_dir, args.out)
    opened = read.open_bundle(args.out)
    metadata = opened.document(METADATA)
    size = sum(len(blob) for blob in opened.blobs.values())
    print(f"bundle {args.out}: {metadata['model_variant']}, feature contract hash {opened.hash_text()}, "
          f"{len(files)} files ({size} bytes) + {MANIFEST}, verified; from {args.train_dir}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
