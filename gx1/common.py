"""Shared helpers: exit-code conventions, atomic writes, canonical JSON, hashing.

Exit codes (DESIGN.md): 0 success, 1 a check failed, 2 bad input or usage.
Errors are one line on stderr naming the problem and the fix.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
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


def write_tsv(path: str | os.PathLike, columns: dict[str, Any]) -> None:
    """A tab-separated table (header = the keys, one line per row) for `dvc plots`, written atomically."""
    import numpy as np
    header = "\t".join(columns)
    body = ["\t".join(fields) for fields in zip(*(np.asarray(v, dtype=str) for v in columns.values()))]
    atomic_write_text(path, "\n".join([header] + body) + "\n")


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run ``main(argv)`` and turn gx1 exceptions into the documented exit codes."""
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CHECK_FAILED)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    sys.exit(code or EXIT_OK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place, on error delete it."""
    final = Path(path)
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


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found: {p}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} {p} is not valid JSON: {exc}") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
