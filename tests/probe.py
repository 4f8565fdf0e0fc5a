"""Run gx1 command lines in forked children of one warm process, measuring each one's wall time and peak RSS.

A fresh `python3 -m gx1.verify` spends about 3 s importing torch; the hostile-input tests run hundreds of
command lines, so a server process imports gx1 (and torch) once, runs no torch operation itself, and forks a
child per command line. Each child starts from the server's memory, as a fresh process would after its
imports, so its peak RSS (``os.wait4``) is what the command costs, imports included.

    with Probe() as probe:
        result = probe.run("gx1.verify", ["--bundle_dir", "b"], timeout=30)
        result.code, result.out, result.err, result.wall_s, result.peak_rss_mb

Protocol (stdin/stdout of ``python3 tests/probe.py``): one JSON request per line
``{"module": ..., "argv": [...], "timeout": s}``, one JSON answer per line. A child that runs past its
timeout is killed (``code`` -9). Nothing here is part of gx1.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("gx1.verify", "gx1.replay", "gx1.bundle")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    wall_s: float
    peak_rss_mb: float


class Probe:
    """The server as a context manager (one per test module)."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self._process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, cwd=REPO, env=env)
        ready = self._process.stdout.readline()
        if ready.strip() != "ready":
            raise RuntimeError(f"probe server did not start: {ready!r}")

    def run(self, module: str, argv: list[str], timeout: float = 60) -> Result:
        self._process.stdin.write(json.dumps({"module": module, "argv": argv, "timeout": timeout}) + "\n")
        self._process.stdin.flush()
        return Result(**json.loads(self._process.stdout.readline()))

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


def _child(module: str, argv: list[str], out_path: str, err_path: str) -> None:
    """In the forked child: stdout/stderr to files, run the command line as ``python3 -m module`` would."""
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    code = 70
    try:
        from gx1.common import run_cli
        run_cli(importlib.import_module(module).main, argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is what the tests look for; print it like Python would
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    for module in MODULES:  # imports only: no torch operation runs here, so a forked child starts clean
        importlib.import_module(module)
    for module in ("gx1.bundle.load", "gx1.bundle.checks"):  # torch and the bundle code, loaded once
        importlib.import_module(module)
    print("ready", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="gx1-probe-"))
    for line in sys.stdin:
        request = json.loads(line)
        out_path, err_path = scratch / "out", scratch / "err"
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _child(request["module"], request["argv"], str(out_path), str(err_path))
        deadline = started + request["timeout"]
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() > deadline:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        answer = {"code": code, "out": out_path.read_text(errors="replace"), "err": err_path.read_text(errors="replace"),
                  "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
