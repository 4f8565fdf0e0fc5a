"""Bounds on what reading a bundle (or a training checkpoint) may cost, checked before the work is done.

Every reader of a bundle (gx1.verify, gx1.replay, gx1.bundle, through ``gx1.bundle.read``) goes through these
functions, so the three give one verdict on the same bytes. Each function either returns or raises
``BundleError`` (bad input: exit 2 in a runtime, a FAIL line in verify) with one line naming the file;
none allocates more than a small multiple of the bytes it is given, and each runs in time linear in them.

- ``parse_json``: JSON nested at most ``MAX_JSON_DEPTH`` deep (counted in a linear scan before parsing,
  so the verdict does not depend on how deep the caller's stack is), every parse error one line.
- ``walk_folder``: a folder's files, stopping at ``MAX_FOLDER_ENTRIES`` entries or ``MAX_FOLDER_DEPTH``
  levels (the caller reports the overflow); linear in the entries seen.
- ``torch_archive``: a ``torch.save`` zip checked from its end record and central directory alone, nothing
  inflated: only the records torch's format has (``data.pkl``, ``byteorder``, ``version``,
  ``.format_version``, ``.storage_alignment``, ``.data/serialization_id``, ``data/<n>``) under one prefix,
  each once, stored (never compressed, so no record is larger than the bytes it occupies), lying within
  the file without overlap, with a local header that agrees; small records and ``data.pkl`` size-capped.
- ``dense_state_pickle``: the opcodes of a state dict's ``data.pkl`` scanned (nothing executed): only dense
  tensors of float storages, so sparse, meta or other layouts are refused with one line before torch
  builds anything from them.
"""
from __future__ import annotations

import io
import json
import os
import pickletools
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gx1.common import InputError, printable

MAX_JSON_DEPTH = 32          # a bundle's JSON is at most 4 deep (golden sample: object -> sample -> row -> value)
MAX_FOLDER_ENTRIES = 1_000   # files and folders under a bundle folder (a training out_dir holds about 16)
MAX_FOLDER_DEPTH = 16
MAX_PICKLE_BYTES = 1 << 20   # data.pkl of a 64-tensor state dict is about 6 KB
MAX_SMALL_RECORD = 64        # byteorder, version, .format_version, .storage_alignment, .data/serialization_id
MAX_RECORDS = 100_000        # any torch archive (a checkpoint holds a few hundred)
SMALL_RECORDS = frozenset({"byteorder", "version", ".format_version", ".storage_alignment", ".data/serialization_id"})
REQUIRED_RECORDS = frozenset({"data.pkl", "byteorder", "version"})
_STORAGE_NAME = re.compile(r"data/(0|[1-9][0-9]{0,8})")
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_EOCD = struct.Struct("<4s4H2LH")       # end of central directory record
_LOCAL = struct.Struct("<4s5H3L2H")      # local file header
_CHUNK = 1 << 20


class BundleError(InputError):
    """A bundle file is missing, unreadable, malformed or out of bounds (bad input: exit 2)."""


# ----------------------------------------------------------------------------- JSON


def json_depth(blob: bytes) -> int:
    """How deep arrays and objects nest in ``blob`` (brackets inside strings not counted), in one linear pass
    (numpy, 1 MB at a time). Up to the first syntax error a JSON parser would meet, this is the depth that
    parser reaches; past it the count may be higher (the text is refused either way)."""
    depth = peak = 0
    in_string = False
    backslashes = 0  # length of the backslash run that ended the previous chunk
    for start in range(0, len(blob), _CHUNK):
        a = np.frombuffer(blob, np.uint8, count=min(_CHUNK, len(blob) - start), offset=start)
        index = np.arange(len(a))
        last_other = np.maximum.accumulate(np.where(a == 92, -1, index))  # last position that is not a backslash
        before = np.empty(len(a), np.int64)  # backslashes right before each position
        before[0] = backslashes
        prior = last_other[:-1]
        before[1:] = np.where(prior >= 0, index[:-1] - prior, index[1:] + backslashes)
        quote = (a == 34) & (before % 2 == 0)
        inside = (np.cumsum(quote) - quote + in_string) % 2 == 1  # a quote's own position counts as before it
        step = np.where(inside, 0, (a == 91).astype(np.int64) + (a == 123) - (a == 93) - (a == 125))
        levels = depth + np.cumsum(step)
        if len(levels):
            peak, depth = max(peak, int(levels.max())), int(levels[-1])
        in_string = bool((in_string + int(quote.sum())) % 2)
        backslashes = backslashes + len(a) if last_other[-1] < 0 else len(a) - 1 - int(last_other[-1])  # a run may span chunks
    return peak


def parse_json(blob: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> object:
    """The JSON value in ``blob``, or BundleError: not UTF-8, not JSON, nested deeper than ``max_depth``, or a
    number Python refuses to convert (over 4300 digits)."""
    depth = json_depth(blob)
    if depth > max_depth:
        raise BundleError(f"{what} nests {depth} levels deep, more than the {max_depth} allowed")
    try:
        return json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"{what} is not valid JSON: {printable(exc)[:200]}") from None


# ----------------------------------------------------------------------------- folders


@dataclass(frozen=True)
class FolderListing:
    files: tuple[str, ...]   # relative POSIX paths of everything that is not a folder (symlinks included)
    overflow: str | None     # why the walk stopped early, or None


def walk_folder(directory: Path, max_entries: int = MAX_FOLDER_ENTRIES, max_depth: int = MAX_FOLDER_DEPTH) -> FolderListing:
    """Everything under ``directory`` that is not a folder (symlinks are listed, never followed), walking at most
    ``max_entries`` entries and ``max_depth`` levels; linear in the entries seen. A subfolder that cannot be
    listed stops the walk too (OSError on ``directory`` itself propagates)."""
    files, seen, pending = [], 0, [(Path(directory), "", 0)]
    while pending:
        path, relative, level = pending.pop()
        try:
            listing = os.scandir(path)
        except OSError as exc:
            if not relative:
                raise
            return FolderListing(tuple(sorted(files)), f"its folder {printable(relative)[:80]!r} cannot be listed "
                                                       f"({exc.strerror or exc})")
        with listing as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    return FolderListing(tuple(sorted(files)), f"it holds more than {max_entries} files and folders")
                name = f"{relative}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if level + 1 >= max_depth:
                        return FolderListing(tuple(sorted(files)), f"its folders nest more than {max_depth} levels deep")
                    pending.append((Path(entry.path), name + "/", level + 1))
                else:
                    files.append(name)
    return FolderListing(tuple(sorted(files)), None)


# ----------------------------------------------------------------------------- torch archives


@dataclass(frozen=True)
class TorchArchive:
    """A torch.save zip whose directory passed ``torch_archive``: record name (without the prefix) -> size."""

    prefix: str
    records: dict[str, int]

    @property
    def storages(self) -> dict[str, int]:
        """``data/<n>`` record -> bytes."""
        return {name: size for name, size in self.records.items() if name.startswith("data/")}


def torch_archive(blob: bytes, what: str, max_records: int = MAX_RECORDS, max_pickle_bytes: int = MAX_PICKLE_BYTES
                  ) -> TorchArchive:
    """Check the layout of a torch.save zip from its end record and central directory; nothing is inflated.

    Refused (BundleError naming ``what``): not a single-volume zip ending in its end record; more than
    ``max_records`` records; a record torch's format does not have, twice, under another prefix, compressed,
    encrypted, outside the file or overlapping another; a local header that disagrees with the directory;
    ``data.pkl`` over ``max_pickle_bytes`` or another small record over MAX_SMALL_RECORD; a required record
    missing."""
    if len(blob) < _EOCD.size or blob[-_EOCD.size:-_EOCD.size + 4] != b"PK\x05\x06":
        raise BundleError(f"{what} is not a torch archive (no zip end record at its end)")
    _, disk, cd_disk, entries_here, entries, cd_size, cd_offset, comment = _EOCD.unpack(blob[-_EOCD.size:])
    if disk or cd_disk or entries_here != entries or comment:
        raise BundleError(f"{what} is not a single-volume zip without a comment (as torch.save writes)")
    if entries > max_records:
        raise BundleError(f"{what} has {entries} zip records, more than the {max_records} allowed")
    if cd_offset + cd_size > len(blob) - _EOCD.size:
        raise BundleError(f"{what}: the zip directory lies outside the file")
    try:
        infos = zipfile.ZipFile(io.BytesIO(blob)).infolist()  # reads the central directory only
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types on hostile bytes (NotImplementedError too)
        raise BundleError(f"{what} is not a readable zip ({type(exc).__name__}: {printable(exc)[:120]})") from None
    if len(infos) != entries:
        raise BundleError(f"{what}: the zip directory lists {len(infos)} records, its end record {entries}")
    if not infos:
        raise BundleError(f"{what} is an empty zip")
    prefix = infos[0].filename.split("/", 1)[0]
    if not _PREFIX.fullmatch(prefix):
        raise BundleError(f"{what}: zip record prefix {printable(prefix)[:80]!r} is not a torch archive name")
    records, spans = {}, []
    for info in infos:
        name = info.filename[len(prefix) + 1:] if info.filename.startswith(prefix + "/") else None
        shown = printable(info.filename)[:80]
        if name is None or not (name == "data.pkl" or name in SMALL_RECORDS or _STORAGE_NAME.fullmatch(name)):
            raise BundleError(f"{what}: zip record {shown!r} is not one torch's format has")
        if name in records:
            raise BundleError(f"{what}: zip record {shown!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size or info.flag_bits & 0x1:
            raise BundleError(f"{what}: zip record {shown!r} is compressed or encrypted ({info.compress_size} bytes "
                              f"stored, {info.file_size} claimed): torch.save stores records, so it is refused uninflated")
        cap = max_pickle_bytes if name == "data.pkl" else MAX_SMALL_RECORD if name in SMALL_RECORDS else None
        if cap is not None and info.file_size > cap:
            raise BundleError(f"{what}: zip record {shown!r} is {info.file_size} bytes, more than the {cap} allowed")
        start = _record_start(blob, info, what, shown)
        spans.append((info.header_offset, start + info.file_size, shown))
        records[name] = info.file_size
    spans.sort()
    for (_, end, shown), (next_start, _, _) in zip(spans, spans[1:] + [(cd_offset, 0, "")]):
        if end > next_start:
            raise BundleError(f"{what}: zip record {shown!r} overlaps the next record or the directory")
    missing = sorted(REQUIRED_RECORDS - set(records))
    if missing:
        raise BundleError(f"{what}: torch archive lacks {', '.join(missing)}")
    return TorchArchive(prefix, records)


def archive_record(blob: bytes, archive: TorchArchive, name: str, what: str) -> bytes:
    """A stored record's bytes (after ``torch_archive`` passed: a slice of ``blob``, nothing inflated; its CRC-32
    checked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            return zf.read(f"{archive.prefix}/{name}")
    except Exception as exc:  # noqa: BLE001 - as above: a damaged record is bad input, whatever zipfile raises
        raise BundleError(f"{what}: zip record {name} cannot be read ({type(exc).__name__}: {printable(exc)[:120]})") from None


def _record_start(blob: bytes, info: zipfile.ZipInfo, what: str, shown: str) -> int:
    """Where a record's bytes start, from its local header (which must name the same record, stored)."""
    offset = info.header_offset
    if offset < 0 or offset + _LOCAL.size > len(blob):
        raise BundleError(f"{what}: zip record {shown!r} has its header outside the file")
    signature, _, flags, method, _, _, _, _, _, name_length, extra_length = _LOCAL.unpack_from(blob, offset)
    start = offset + _LOCAL.size + name_length + extra_length
    if signature != b"PK\x03\x04" or method != zipfile.ZIP_STORED or flags & 0x1 or \
            blob[offset + _LOCAL.size:offset + _LOCAL.size + name_length] != info.orig_filename.encode("utf-8"):
        raise BundleError(f"{what}: zip record {shown!r} has a local header that disagrees with the zip directory")
    if start + info.file_size > len(blob):
        raise BundleError(f"{what}: zip record {shown!r} runs past the end of the file")
    return start


# ----------------------------------------------------------------------------- the state dict's pickle


# What torch.save writes for a dict of dense tensors (protocol 2), and nothing else: no STACK_GLOBAL, INST, OBJ,
# NEWOBJ, BUILD, EXT*, PERSID (text ids); no other callable than these globals.
_STATE_OPCODES = frozenset({
    "PROTO", "STOP", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "DICT",
    "LIST", "SETITEM", "SETITEMS", "APPEND", "APPENDS", "BININT", "BININT1", "BININT2", "LONG1", "BINUNICODE",
    "SHORT_BINUNICODE", "BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET", "MEMOIZE", "NEWTRUE", "NEWFALSE", "NONE",
    "BINFLOAT", "REDUCE", "GLOBAL", "BINPERSID"})
FLOAT_STORAGES = frozenset({"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage"})
_DENSE_GLOBALS = frozenset({"torch._utils _rebuild_tensor_v2", "collections OrderedDict"} |
                           {f"torch {name}" for name in FLOAT_STORAGES})
_WHY = {"torch._utils _rebuild_sparse_tensor": "a sparse tensor (COO/CSR/CSC/BSR/BSC)",
        "torch.serialization _get_layout": "a tensor of a non-strided layout",
        "torch._utils _rebuild_meta_tensor_no_storage": "a meta tensor (no data)",
        "torch._utils _rebuild_wrapper_subclass": "a tensor subclass without storage",
        "torch._utils _rebuild_qtensor": "a quantized tensor",
        "torch._utils _rebuild_nested_tensor": "a nested tensor",
        "torch._utils _rebuild_parameter": "a Parameter (a state dict holds plain tensors)"}


def dense_state_pickle(pickle_bytes: bytes, what: str) -> int:
    """Scan a state dict's ``data.pkl`` opcode by opcode (nothing is executed): only the opcodes and globals
    torch.save writes for dense tensors of float storages. Returns the number of storages it loads
    (BINPERSID opcodes). BundleError names the first thing that is not that."""
    storages = 0
    try:
        for opcode, argument, _ in pickletools.genops(pickle_bytes):
            if opcode.name not in _STATE_OPCODES:
                raise BundleError(f"{what}: data.pkl uses pickle opcode {opcode.name}, which a state dict of dense "
                                  "tensors does not (dense float tensors only)")
            if opcode.name == "GLOBAL":
                name = str(argument)
                if name not in _DENSE_GLOBALS:
                    why = _WHY.get(name) or (f"a {name.split()[-1]} (not float)" if name.startswith("torch ") and
                                             name.endswith("Storage") else f"{printable(name)[:80]}")
                    raise BundleError(f"{what} holds {why}: only dense float tensors are loaded")
            storages += opcode.name == "BINPERSID"
    except BundleError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickletools raises ValueError and friends on malformed input
        raise BundleError(f"{what}: data.pkl is not a valid pickle ({type(exc).__name__}: {printable(exc)[:120]})") from None
    return storages
