"""What a gx1 command may replace or overwrite: its own earlier output, and nothing else.

Folders (``gx1.sources --out_dir``, ``gx1.walkforward --out_dir``, ``gx1.replay --out_dir``, the trainer's
folders) are built in a staging folder and swapped in whole (``swap_in_folder``). The staging folder gets
``MARKER`` last: canonical JSON ``{"command": ..., "files": [relative paths]}``, byte-deterministic (no time, no
absolute path; ``.dvcignore`` lists it, so DVC's hashes of a folder out do not change). ``check_folder``
allows replacing a folder only when it is absent, empty, or its marker names the same command and lists
every file in it; otherwise InputError naming the first file that is not listed. A folder with no marker that
DVC restored (``dvc pull``, ``dvc checkout``: the marker is not tracked) may be replaced when every file in it
is a copy of a file in its repository's DVC cache (``restorable_by_dvc``): ``dvc checkout`` brings it back.
``claim`` records files a command writes straight into its final folder before the swap (a partial log).

Single files (``check_file``): an output may overwrite only a file of its own ``Kind`` (a content signature:
a JSON object in gx1's byte form with the keys gx1 writes, a parquet with gx1's schema, a TSV with gx1's
header), never one of the command's inputs (the same file after symlinks and hard links) and never a
file inside a folder the command reads (a bundle, a contract), nor a link to one.

``write_set`` writes files that go together (the contract's meta and two scalers) into a folder that is not
ours whole: built in a staging folder beside them, swapped in with the ``last`` file (the one the others are
checked against) moved aside first and put in place last, so a failure never leaves new files beside the
old ``last``; an exception rolls back to the old set.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from gx1.common import (
    InputError, atomic_write_bytes, canonical_json, check_output_file, pretty_json, printable, replace_dir, staging_dir,
)

MARKER = ".gx1-output"
MAX_MARKER_BYTES = 4 << 20
MAX_ENTRIES = 100_000  # a folder gx1 replaces holds a few dozen files; more is not ours (and bounds the walk)
MAX_SIGNATURE_BYTES = 16 << 20


# ----------------------------------------------------------------------------- folders


def marker_bytes(command: str, files: Iterable[str]) -> bytes:
    return (canonical_json({"command": command, "files": sorted(set(files))}) + "\n").encode("ascii")


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """(files, folders) under ``folder`` as sorted relative POSIX paths; symlinks are files (never followed)."""
    files, folders, pending, seen = [], [], [Path(folder)], 0
    while pending:
        current = pending.pop()
        with os.scandir(current) as listing:
            for entry in listing:
                seen += 1
                if seen > MAX_ENTRIES:
                    raise InputError(f"refusing to replace {folder}: it holds more than {MAX_ENTRIES} entries, "
                                     "more than gx1 ever writes; remove it or choose another path")
                relative = Path(entry.path).relative_to(folder).as_posix()
                if entry.is_dir(follow_symlinks=False):
                    folders.append(relative)
                    pending.append(Path(entry.path))
                else:
                    files.append(relative)
    return sorted(files), sorted(folders)


def read_marker(folder: Path) -> tuple[str | None, list[str], str]:
    """(command, files, "") from ``folder``'s marker, or (None, [], why not)."""
    path = Path(folder) / MARKER
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, [], f"it has no {MARKER}"
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MARKER_BYTES:
        return None, [], f"its {MARKER} is not a gx1 marker"
    try:
        value = json.loads(path.read_bytes().decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, [], f"its {MARKER} is not a gx1 marker"
    if not isinstance(value, dict) or set(value) != {"command", "files"} or not isinstance(value["command"], str) \
            or not isinstance(value["files"], list) or not all(isinstance(f, str) for f in value["files"]):
        return None, [], f"its {MARKER} is not a gx1 marker"
    return value["command"], value["files"], ""


def dvc_cache_of(folder: Path) -> Path | None:
    """The md5 file cache (``.dvc/cache/files/md5``, DVC 3's layout) of the DVC repository holding ``folder``."""
    for parent in Path(folder).resolve().parents:
        if (parent / ".dvc").is_dir():
            return parent / ".dvc" / "cache" / "files" / "md5"
    return None


def _md5_of_regular_file(path: Path) -> str | None:
    """md5 of ``path`` (a link is followed) when it is a regular file, else None."""
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:  # fstat on the descriptor first: a directory cannot become a file object
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return hashlib.file_digest(handle, "md5").hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def restorable_by_dvc(folder: Path) -> bool:
    """True when ``folder`` holds files only, each a copy of a file in its repository's DVC cache (what ``dvc pull``
    or ``dvc checkout`` restored): replacing it loses nothing ``dvc checkout`` cannot bring back. Stops at the
    first file that is not."""
    cache = dvc_cache_of(folder)
    if cache is None or not cache.is_dir():
        return False
    for name in _entries(folder)[0]:
        digest = _md5_of_regular_file(Path(folder) / name)
        if digest is None or not (cache / digest[:2] / digest[2:]).is_file():
            return False
    return True


def folder_problem(folder: str | os.PathLike, command: str, fallback: Callable[[Path], bool] | None = None) -> str | None:
    """Why ``command`` may not replace ``folder`` (None: absent, empty, its own earlier output, or with no marker at
    all a folder ``restorable_by_dvc``). ``fallback`` is a content signature also accepted when the folder has no
    marker (a bundle's manifest: a bundle copied by hand)."""
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return f"{folder} exists and is not a directory: remove it or choose another path"
    if not folder.exists():
        return None
    files, folders = _entries(folder)
    if not files and not folders:
        return None
    owner, listed, why = read_marker(folder)
    fix = "remove it or choose another path"
    if owner is None and not (folder / MARKER).exists() and (
            (fallback is not None and fallback(folder)) or restorable_by_dvc(folder)):
        return None
    if owner != command:
        first = next((f for f in files if f != MARKER), None) or (folders[0] if folders else MARKER)
        whose = f"it is the output of {owner}" if owner else why
        return f"refusing to replace {folder}: it holds {first}, which {command} did not write ({whose}); {fix}"
    listed_set = set(listed)
    for name in files:
        if name != MARKER and name not in listed_set:
            return f"refusing to replace {folder}: it holds {name}, which {command} did not write there; {fix}"
    parents = {parent.as_posix() for name in listed for parent in Path(name).parents}
    for name in folders:
        if name not in parents:
            return f"refusing to replace {folder}: it holds the folder {name}, which {command} did not write; {fix}"
    return None


def check_folder(folder: str | os.PathLike, command: str, fallback: Callable[[Path], bool] | None = None) -> Path:
    """InputError unless ``command`` may replace ``folder`` (``folder_problem``)."""
    problem = folder_problem(folder, command, fallback)
    if problem:
        raise InputError(problem)
    return Path(folder)


def write_marker(folder: Path, command: str, also: Iterable[str] = ()) -> None:
    """The marker listing every file now in ``folder`` (a staging folder, just before it is swapped in) and the
    names ``also`` (files the command writes there later, e.g. a next run's partial log)."""
    files, _ = _entries(Path(folder))
    atomic_write_bytes(Path(folder) / MARKER, marker_bytes(command, [*(f for f in files if f != MARKER), *also]))


def claim(folder: str | os.PathLike, names: Iterable[str], command: str,
          fallback: Callable[[Path], bool] | None = None) -> None:
    """Record ``names`` as ``command``'s files in ``folder`` (created if absent; else it must be ``command``'s,
    ``check_folder``) before writing them there directly. The marker is rewritten only when it lacks a name."""
    folder, names = check_folder(folder, command, fallback), list(names)
    folder.mkdir(parents=True, exist_ok=True)
    owner, listed, _ = read_marker(folder)
    if owner is None:  # empty, or accepted by ``fallback``: what is there is the command's
        listed = [name for name in _entries(folder)[0] if name != MARKER]
    if owner != command or not set(names) <= set(listed):
        atomic_write_bytes(folder / MARKER, marker_bytes(command, [*listed, *names]))


def swap_in_folder(final: str | os.PathLike, fill: Callable[[Path], Any], command: str,
                   fallback: Callable[[Path], bool] | None = None, also: Iterable[str] = ()) -> Any:
    """``fill(staging)``, the marker (``write_marker``: the files, and ``also``), then the staging folder swapped in as
    ``final`` (``common.replace_dir``): only when ``final`` is absent, empty or ``command``'s own (checked before
    and again at the swap; ``fallback`` as in ``folder_problem``). Any failure removes the staging folder and
    leaves ``final`` as it was. Returns what ``fill`` returns."""
    final = check_folder(final, command, fallback)
    staging = staging_dir(final)
    try:
        result = fill(staging)
        write_marker(staging, command, also)
        replace_dir(staging, final, lambda path: folder_problem(path, command, fallback) is None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``path`` (resolved: symlinks followed) is ``folder`` or lies under it."""
    resolved, base = Path(path).resolve(), Path(folder).resolve()
    return resolved == base or base in resolved.parents


def check_inputs_outside(folder: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike | None]]) -> None:
    """InputError when an input (what, path) lies inside an output ``folder`` that is replaced whole."""
    for what, path in inputs:
        if path and inside(path, folder):
            raise InputError(f"{what} {printable(path)} lies inside the output folder {folder}, which is replaced whole: "
                             "move it out or choose another output folder")


# ----------------------------------------------------------------------------- single files


@dataclass(frozen=True)
class Kind:
    """A content signature: ``matches(path)`` is True for a file gx1 writes as ``what``."""

    what: str
    matches: Callable[[Path], bool]


def _regular_bytes(path: Path, limit: int) -> bytes | None:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError:
        return None


def json_kind(what: str, keys: tuple[str, ...] = (), check: Callable[[dict], bool] | None = None) -> Kind:
    """A JSON object in gx1's byte form (``pretty_json``) with ``keys`` (and passing ``check``)."""
    def matches(path: Path) -> bool:
        data = _regular_bytes(path, MAX_SIGNATURE_BYTES)
        try:
            value = json.loads(data.decode("ascii")) if data is not None else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False
        return (isinstance(value, dict) and all(k in value for k in keys) and (check is None or check(value))
                and pretty_json(value).encode("ascii") == data)
    return Kind(what, matches)


def tsv_kind(what: str, header: str) -> Kind:
    def matches(path: Path) -> bool:
        data = _regular_bytes(path, 1 << 30)
        return data is not None and data.split(b"\n", 1)[0] == header.encode()
    return Kind(what, matches)


def parquet_kind(what: str, check: Callable[[Any], bool]) -> Kind:
    """A parquet file whose arrow schema passes ``check`` (gx1's columns, or gx1's schema metadata)."""
    def matches(path: Path) -> bool:
        import pyarrow as pa
        import pyarrow.parquet as pq
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return False
            return bool(check(pq.read_schema(path)))
        except (OSError, pa.ArrowException):
            return False
    return Kind(what, matches)


def _same_file(a: str | os.PathLike, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # symlinks followed, hard links compared by device and inode
    except OSError:
        return False


def _files_of(folder: Path) -> list[Path]:
    try:
        files, _ = _entries(folder)
    except (OSError, InputError):
        return []
    return [folder / name for name in files]


def check_file(path: str | os.PathLike, kind: Kind, inputs: Iterable[str | os.PathLike | None] = (),
               protect: Iterable[str | os.PathLike | None] = ()) -> Path:
    """InputError unless ``path`` may be written: not an input, not in (or linked into) a ``protect`` folder, and
    absent or a file of ``kind``. Structural checks (a directory, a device, a parent that is a file) first."""
    final = check_output_file(path)
    for source in inputs:
        if source and (final.exists() or final.is_symlink()) and _same_file(source, final):
            raise InputError(f"output {final} is the input {printable(source)}: choose another output path")
    for folder in protect:
        if not folder or not Path(folder).is_dir():
            continue
        if inside(final.parent, folder) or inside(final, folder):
            raise InputError(f"output {final} lies inside {folder}, which this command reads: choose a path outside it")
        if final.exists():
            for member in _files_of(Path(folder)):
                if _same_file(member, final):
                    raise InputError(f"output {final} is the same file as {member}, which this command reads: "
                                     "choose another output path")
    if (final.exists() or final.is_symlink()) and not kind.matches(final):
        raise InputError(f"refusing to overwrite {final}: it is not a {kind.what} gx1 wrote; remove it or choose another "
                         "path")
    return final


def write_set(directory: str | os.PathLike, files: dict[str, bytes], last: str) -> None:
    """Write ``files`` into ``directory`` as one set (module docstring); ``last`` is a key of ``files``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(directory / last)
    order = [name for name in files if name != last] + [last]
    moved: list[str] = []      # old files moved into staging/old/
    placed: list[str] = []     # new files put in place
    try:
        for name in order:
            atomic_write_bytes(staging / name, files[name])
        (staging / "old").mkdir()
        try:
            for name in [last] + order[:-1]:  # the old `last` goes first: from here on no old set is visible
                if (directory / name).exists():
                    os.replace(directory / name, staging / "old" / name)
                    moved.append(name)
            for name in order:
                os.replace(staging / name, directory / name)
                placed.append(name)
        except BaseException:
            for name in placed:
                if name not in moved:
                    (directory / name).unlink(missing_ok=True)
            for name in moved:
                os.replace(staging / "old" / name, directory / name)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
