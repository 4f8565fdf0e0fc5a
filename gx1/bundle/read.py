"""Opening a bundle: the manifest and every listed bundle file read once, bounded, and the sha256 gate.

    opened = open_bundle("models/entry_v10_ctx/bundle")   # manifest + every listed file read once
    blob = opened.verified_blob(WEIGHTS)                  # bytes that matched the manifest, else BundleError

Safety rules for reading: files are read only when they are regular files (no symlink,
device or pipe), under a size bound per name (``format.MAX_BYTES``); the folder walk stops at
``limits.MAX_FOLDER_ENTRIES``; JSON nests at most ``limits.MAX_JSON_DEPTH`` deep; nothing builds or
unpickles from bytes whose sha256 does not match the manifest (``verified_blob``). Every problem a file can
have raises ``BundleError`` (bad input, exit 2 in a CLI); anything else is a bug. Verify, replay and
gx1.bundle all read through here, so they give one verdict on the same bytes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gx1.bundle import limits
from gx1.bundle.format import BUNDLE_FILES, HASH_FILE, LOADABLE_SUFFIXES, MANIFEST, MAX_BYTES, TRAINING_REPORTS
from gx1.bundle.limits import BundleError
from gx1.common import InputError, read_regular_file, sha256_bytes


def is_bundle_folder(directory: Path, extra: frozenset[str] = frozenset()) -> bool:
    """True when ``directory`` holds a gx1 manifest and nothing but bundle files (and ``extra`` names):
    the only kind of folder gx1 replaces."""
    try:
        names = {p.name for p in Path(directory).iterdir()}
        manifest = limits.parse_json(read_bounded(Path(directory) / MANIFEST, MANIFEST), MANIFEST)
    except (InputError, OSError):
        return False
    return (isinstance(manifest, dict) and str(manifest.get("format", "")).startswith("gx1-bundle/")
            and names <= set(BUNDLE_FILES) | {MANIFEST} | set(extra))


@dataclass(frozen=True)
class OpenedBundle:
    """A bundle as read from disk: the manifest, and the bytes of every listed bundle file that could be read."""

    directory: Path
    manifest_format: object
    listed: dict[str, str]           # bundle file -> sha256 the manifest lists
    blobs: dict[str, bytes] = field(repr=False)  # bundle file -> bytes read (whether or not they match)
    unreadable: dict[str, str]       # bundle file -> why it could not be read
    unlisted: tuple[str, ...]        # listed names that are not bundle files (never read)
    extras: tuple[str, ...]          # other files in the folder (relative paths)
    overflow: str | None = None      # why the folder walk stopped early (limits.walk_folder), or None
    built: dict = field(default_factory=dict, compare=False, repr=False)  # ``model()``'s result, built once per read

    @property
    def verified(self) -> frozenset[str]:
        """Bundle files whose bytes match the manifest's sha256 (hashed once per read)."""
        if "verified" not in self.built:
            self.built["verified"] = frozenset(n for n, b in self.blobs.items() if self.listed.get(n) == sha256_bytes(b))
        return self.built["verified"]

    def verified_blob(self, name: str) -> bytes:
        """Bytes that matched the manifest; BundleError otherwise (nothing is built from unmatched bytes)."""
        if name not in self.verified:
            raise BundleError(f"{name} {self.unreadable.get(name, 'did not match the manifest sha256')}: not loaded")
        return self.blobs[name]

    def document(self, name: str) -> dict:
        """A JSON bundle file as an object (parsed even when unverified: JSON values are only compared)."""
        if name not in self.blobs:
            raise BundleError(f"{name} {self.unreadable.get(name, 'is missing')}")
        value = limits.parse_json(self.blobs[name], name)
        if not isinstance(value, dict):
            raise BundleError(f"{name} is not a JSON object")
        return value

    def hash_text(self) -> str:
        if HASH_FILE not in self.blobs:
            raise BundleError(f"{HASH_FILE} {self.unreadable.get(HASH_FILE, 'is missing')}")
        try:
            return self.blobs[HASH_FILE].decode("ascii").strip()
        except UnicodeDecodeError:
            raise BundleError(f"{HASH_FILE} is not ASCII text") from None


def read_bounded(path: Path, name: str) -> bytes:
    """A bundle file's bytes through gx1's one bounded reader (``gx1.common.read_regular_file``: a regular file, no
    symlink, device or pipe, at most ``MAX_BYTES[name]``). FileNotFoundError when it is absent; BundleError naming
    the file (not the path) otherwise."""
    if not os.path.lexists(path):
        raise FileNotFoundError(path)
    try:
        return read_regular_file(path, name, MAX_BYTES[name])
    except InputError as exc:
        raise BundleError(str(exc).replace(f"{name} {path} ", f"{name} ", 1)) from None


def open_bundle(bundle_dir: str | Path) -> OpenedBundle:
    """Read manifest.json and every listed bundle file once. InputError (exit 2) when there is no readable manifest."""
    directory = Path(bundle_dir)
    if not directory.is_dir():
        raise InputError(f"bundle directory not found: {directory} (pass the out_dir of training or of gx1.bundle)")
    try:
        manifest = limits.parse_json(read_bounded(directory / MANIFEST, MANIFEST), f"{directory / MANIFEST}")
    except FileNotFoundError:
        raise InputError(f"bundle {directory} has no {MANIFEST}: not a complete bundle "
                         "(finish training or rerun gx1.bundle)") from None
    entries = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str)
                                                for e in entries.values()):
        raise InputError(f"{directory / MANIFEST} is not a bundle manifest (needs files: {{name: {{sha256}}}}): rerun gx1.bundle")
    listed = {name: entry["sha256"] for name, entry in entries.items()}
    blobs, unreadable = {}, {}
    for name in BUNDLE_FILES:
        try:
            blobs[name] = read_bounded(directory / name, name)
        except FileNotFoundError:
            unreadable[name] = "is missing"
        except BundleError as exc:
            unreadable[name] = str(exc).removeprefix(f"{name} ")
    listing = limits.walk_folder(directory)  # bounded: a folder of 20,000 files is refused, not listed
    own = set(BUNDLE_FILES) | {MANIFEST}
    extras = tuple(name for name in listing.files if name not in own)
    return OpenedBundle(directory, manifest.get("format"), listed, blobs, unreadable,
                        tuple(sorted(n for n in listed if n not in BUNDLE_FILES)), extras, listing.overflow)


def loadable_extras(opened: OpenedBundle) -> list[str]:
    """Extra files a runtime could load (by suffix), except a training out_dir's own report files."""
    return [name for name in opened.extras if Path(name).suffix.lower() in LOADABLE_SUFFIXES and name not in TRAINING_REPORTS]
