"""Shared helpers: exit-code conventions, atomic writes, canonical JSON, hashing.

Exit codes: 0 success, 1 a check failed, 2 bad input or usage.
Errors are one line on stderr naming the problem and the fix.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

UMASK = os.umask(0)  # the process umask (read once): temp files and folders get ordinary permissions
os.umask(UMASK)


class InputError(Exception):
    """Bad input or usage: the CLI prints one line and exits 2."""


class CheckFailed(Exception):
    """A check (verification, success criterion, training guard) failed: exit 1."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's error convention: one line on stderr, exit 2 (unknown flags rejected)."""

    def error(self, message: str):
        raise InputError(f"{message} (see --help)")


def number_in(kind: type, low: float, high: float, low_open: bool = False) -> Callable[[str], Any]:
    """argparse ``type=``: a ``kind`` (int or float) within [low, high] (or (low, high] when ``low_open``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if not (low < value if low_open else low <= value) or not value <= high:
            raise argparse.ArgumentTypeError(f"must be in {'(' if low_open else '['}{low}, {high}], got {text}")
        return value
    return parse


class LazyModule:
    """A module imported at its first attribute access: a command line answers ``--help`` and argument
    errors before torch (seconds to import) loads. ``checks = LazyModule("gx1.bundle.checks")``."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        import importlib
        return getattr(importlib.import_module(self._name), attribute)


def tsv_bytes(columns: dict[str, Any]) -> bytes:
    """A tab-separated table (header = the keys, one line per row) for `dvc plots`."""
    import numpy as np
    header = "\t".join(columns)
    body = ["\t".join(fields) for fields in zip(*(np.asarray(v, dtype=str) for v in columns.values()))]
    return ("\n".join([header] + body) + "\n").encode("utf-8")


def write_tsv(path: str | os.PathLike, columns: dict[str, Any]) -> None:
    """``tsv_bytes(columns)`` written atomically."""
    atomic_write_bytes(path, tsv_bytes(columns))


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def utc_time(text: str) -> str:
    """argparse ``type=``: an ISO date or time in UTC (2025-11-01, 2025-11-01T06:00) as canonical seconds text
    ("" stays "": no limit)."""
    if not text.strip():
        return ""
    import numpy as np  # imported when used: --help answers at once
    try:
        value = np.datetime64(text.strip().removesuffix("Z"), "s")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time (UTC), e.g. 2025-11-01: {text!r}") from None
    if np.isnat(value) or not np.datetime64("1971-01-01") <= value < np.datetime64("2262-01-01"):
        raise argparse.ArgumentTypeError(f"must be a date in 1971..2261: {text!r}")
    return str(value)


def printable(text: object) -> str:
    """``text`` on one line: control characters (newlines included) shown as escapes, so a name read from a
    file can never forge an extra output line."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def os_error_message(exc: OSError) -> str:
    """One line for an OS error on a path the user gave, with the usual fix."""
    where = f" {exc.filename}" if exc.filename else ""
    fixes = {errno.ENOSPC: "free disk space", errno.EDQUOT: "free disk space", errno.EACCES: "check its permissions",
             errno.EPERM: "check its permissions", errno.EROFS: "choose a writable location",
             errno.EISDIR: "give a file path, not a directory", errno.ENOTDIR: "a parent of the path is a file: fix the path",
             errno.ENOENT: "check the path", errno.ENAMETOOLONG: "use a shorter path"}
    return f"{exc.strerror or exc}:{where} ({fixes.get(exc.errno, 'check the path and the disk')})"


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run ``main(argv)`` and turn gx1 exceptions into the documented exit codes (one escaped line on stderr).

    OS errors (a full or read-only disk, a path that is a directory or lies under a file) are bad input: exit 2.
    Any other exception is a bug and keeps its traceback.
    """
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    except CheckFailed as exc:
        print(f"FAILED: {printable(exc)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CHECK_FAILED)
    except OSError as exc:
        print(f"error: {printable(os_error_message(exc))}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    sys.exit(code or EXIT_OK)


def check_output_file(path: str | os.PathLike, *inputs: str | os.PathLike | None) -> Path:
    """Refuse an output path that is one of the ``inputs`` or exists as something other than a regular file
    (a directory, a device, a pipe, a symlink to one): writing there would destroy what is not ours."""
    final = Path(path)
    for source in inputs:
        if source and Path(source).exists() and final.exists() and os.path.samefile(source, final):
            raise InputError(f"output {final} is the input {source}: choose another output path")
    if final.exists() or final.is_symlink():
        mode = os.stat(final).st_mode if final.exists() else 0
        if not stat.S_ISREG(mode):
            raise InputError(f"output {final} exists and is not a regular file: choose another path")
    for parent in final.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"output {final}: {parent} is not a directory: fix the path")
            break
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place, on error delete it.

    Only a regular file (or nothing) is ever replaced (``check_output_file``)."""
    final = check_output_file(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def pretty_json(obj: Any) -> str:
    """Stable human-readable JSON (sorted keys, trailing newline)."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, pretty_json(obj))


MAX_JSON_BYTES = 16 << 20  # no JSON file gx1 reads is anywhere near this


def read_regular_file(path: str | os.PathLike, what: str, max_bytes: int, follow_symlinks: bool = False) -> bytes:
    """The bytes of a regular file (never a device or pipe; a symlink only with ``follow_symlinks``), at most
    ``max_bytes``, else InputError."""
    p = Path(path)
    nofollow = 0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, os.O_RDONLY | nofollow | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{what} not found: {p}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{what} {p} is a symbolic link: gx1 reads only regular files") from None
        raise
    try:  # fstat before fdopen: a directory cannot be opened as a file object
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{what} {p} is {_mode_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"{what} {p} is {info.st_size} bytes, more than the {max_bytes} allowed")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputError(f"{what} {p} grew past {max_bytes} bytes while read")
    return data


def file_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` is a regular file (a symlink to one counts); else what it is instead, as words that follow
    the path: "not found", "is a directory, not a regular file", "is a named pipe (FIFO), ..." (a reader would
    block on a pipe), "is a device, ..."."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "not found"
    return None if stat.S_ISREG(mode) else f"is {_mode_kind(mode)}, not a regular file"


def _mode_kind(mode: int) -> str:
    return ("a regular file" if stat.S_ISREG(mode) else "a directory" if stat.S_ISDIR(mode)
            else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a special file")


def require_regular_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` when it is a regular file (``file_problem``), else InputError: "<what> not found: <path>" or
    "<what> <path> is a directory, not a regular file" (never a read that blocks on a pipe)."""
    problem = file_problem(path)
    if problem == "not found":
        raise InputError(f"{what} not found: {path}")
    if problem:
        raise InputError(f"{what} {path} {problem}: give the path of a file")
    return Path(path)


def parse_json_bytes(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{what} is not valid JSON: {printable(exc)}") from None


def read_json(path: str | os.PathLike, what: str = "JSON file", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON file (regular file, bounded size) or InputError naming it."""
    return parse_json_bytes(read_regular_file(path, what, max_bytes), f"{what} {path}")


def read_json_object(path: str | os.PathLike, what: str, keys: tuple[str, ...] = ()) -> dict:
    """A JSON object holding at least ``keys``, else InputError naming the file and what is missing."""
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise InputError(f"{what} {path} is not a JSON object")
    missing = [k for k in keys if k not in value]
    if missing:
        raise InputError(f"{what} {path} lacks {missing}")
    return value


def replace_dir(staging: Path, final: Path, owned: Callable[[Path], bool]) -> None:
    """Swap a completed ``staging`` folder in as ``final``: a reader sees the old set or the new one, never a mix.

    An existing ``final`` is replaced only when ``owned(final)`` says it is this tool's earlier output; it is
    renamed aside first and deleted once the new folder is in place."""
    staging, final = Path(staging), Path(final)
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise InputError(f"{final} exists and is not a directory: remove it or choose another path")
    if not final.exists():
        os.rename(staging, final)
        return
    if not owned(final):
        raise InputError(f"refusing to replace {final}: it holds files gx1 did not write; remove it or choose another path")
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    os.rename(final, old / final.name)
    try:
        os.rename(staging, final)
    except BaseException:
        os.rename(old / final.name, final)  # put the old folder back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


MAX_PARAMS_BYTES = 1 << 20
MAX_PARAMS_DEPTH = 32  # params.yaml nests three levels (walkforward.folds.<name>.start)


def read_params_yaml(path: str | os.PathLike, section: str) -> dict:
    """``section`` of a params.yaml as a dict ({} when absent); one line for a missing, oversized or malformed file
    (``read_params_file``)."""
    return read_params_file(path).get(section) or {}


def read_params_file(path: str | os.PathLike) -> dict:
    """A whole params.yaml as a dict; one line for a missing, oversized or malformed file.

    Read bounded (PyYAML, installed with DVC, imported when used): a regular file of at most MAX_PARAMS_BYTES,
    nesting at most MAX_PARAMS_DEPTH deep, no aliases (``*name``: they multiply what a few bytes say) and no
    key twice in one mapping (YAML would keep the last silently)."""
    import yaml
    text = read_regular_file(path, "params file", MAX_PARAMS_BYTES, follow_symlinks=True)
    try:
        params = yaml.load(text.decode("utf-8"), Loader=_bounded_yaml_loader()) or {}  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        first = printable(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not valid YAML: {first[:200]}") from None
    except _ParamsRefused as exc:
        raise InputError(f"{path}: {exc}") from None
    if not isinstance(params, dict):
        raise InputError(f"{path} is not a mapping of params")
    return params


class _ParamsRefused(Exception):
    """A params file that YAML would read but gx1 does not: an alias, too deep, a key twice."""


def _bounded_yaml_loader():
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise _ParamsRefused(f"line {mark.line + 1}: YAML aliases (*name) are not accepted: write the value out")
            self.depth = getattr(self, "depth", 0) + 1
            try:
                if self.depth > MAX_PARAMS_DEPTH:
                    mark = self.peek_event().start_mark
                    raise _ParamsRefused(f"line {mark.line + 1}: nested more than {MAX_PARAMS_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool, type(None))):
                    raise _ParamsRefused(f"line {key_node.start_mark.line + 1}: a key must be a plain value")
                if key in seen:  # as a dict compares keys: 1, 1.0 and true are one key
                    raise _ParamsRefused(f"line {key_node.start_mark.line + 1}: key {printable(repr(key))[:60]} appears "
                                         "twice in one mapping (YAML would keep only the last): keep one")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return BoundedLoader


def staging_dir(final: Path) -> Path:
    """A new hidden folder beside ``final`` to build its next content in (ordinary permissions).

    Its name carries this process id; folders left by a killed run (their process gone) are removed first."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.staging-"
    for stale in final.parent.glob(prefix + "*"):
        pid = stale.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=final.parent))
    os.chmod(path, 0o777 & ~UMASK)  # mkdtemp creates 0700
    return path


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
