"""The time and memory bound every hostile case asserts (issue 28): a bad input is refused within
``MAX_SECONDS`` of wall time (``MAX_COMMAND_SECONDS`` for a command line, whose interpreter starts and imports
within it) and ``MAX_RSS_MB`` of peak memory.

In-process (a command's ``main`` called by the test)::

    with InProcessBound() as bound:
        run_cli(main, argv)
    bound.check()          # AssertionError naming the wall time or the peak growth over the bound

The peak is the process's resident high-water mark (``VmHWM``), reset just before the case by writing 5 to
``/proc/self/clear_refs`` (Linux 4.0+), minus the resident size before it: what the case itself added. Where the
reset is not allowed the growth of ``ru_maxrss`` is used instead, which can only under-report.

In a child process (a command line)::

    result = run_bounded([sys.executable, "-m", "gx1.sources", ...], cwd=REPO, env=...)
    result.returncode, result.stdout, result.stderr, result.wall_s, result.peak_rss_mb
    result.check()

The command's peak is its own ``ru_maxrss`` (``os.wait4`` in a small launcher process, see ``LAUNCHER``),
interpreter and imports included; a command that runs past ``timeout`` is killed and fails the check.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

MAX_SECONDS, MAX_RSS_MB = 10.0, 1024.0
MAX_COMMAND_SECONDS = 30.0  # a fresh interpreter: its imports (torch alone takes seconds on a busy machine) count too


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class InProcessBound:
    """Wall time and peak resident growth of the code run inside the ``with`` block."""

    def __enter__(self) -> "InProcessBound":
        self.rss_before_kb = _status_kb("VmRSS")
        self.maxrss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.reset = _reset_peak()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_s = time.perf_counter() - self.started
        if self.reset:
            self.peak_growth_mb = (_status_kb("VmHWM") - self.rss_before_kb) / 1024.0
        else:
            self.peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.maxrss_before_kb) / 1024.0

    def check(self, max_seconds: float = MAX_SECONDS, max_mb: float = MAX_RSS_MB) -> None:
        assert self.wall_s < max_seconds, f"took {self.wall_s:.1f} s (bound {max_seconds:g} s)"
        assert self.peak_growth_mb < max_mb, f"peak memory grew by {self.peak_growth_mb:.0f} MB (bound {max_mb:g} MB)"


@dataclass(frozen=True)
class BoundedRun:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mb: float

    def check(self, max_seconds: float = MAX_COMMAND_SECONDS, max_mb: float = MAX_RSS_MB) -> None:
        assert self.wall_s < max_seconds, f"took {self.wall_s:.1f} s (bound {max_seconds:g} s): {self.stderr[-500:]}"
        assert self.peak_rss_mb < max_mb, f"peak RSS {self.peak_rss_mb:.0f} MB (bound {max_mb:g} MB)"


# The command runs as the grandchild of the test: a process that exec()s records its old address space's peak in its
# own ru_maxrss, so a direct child of a large test process would report the test's peak. The launcher is small, and
# the grandchild it forks starts its count there; the launcher writes the grandchild's ru_maxrss (KiB) to a file and
# exits with the grandchild's status (a signal is passed on as the same signal).
LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_bounded(command: list[str], timeout: float = 60.0, **popen) -> BoundedRun:
    """Run ``command`` (stdout and stderr captured as text), its own wall time and peak RSS measured; past
    ``timeout`` it is killed (returncode -9)."""
    with tempfile.TemporaryDirectory(prefix="gx1-bound-") as scratch:
        out_path, err_path, report = (os.path.join(scratch, name) for name in ("out", "err", "maxrss"))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-c", LAUNCHER, report, *command], stdout=out, stderr=err,
                                       stdin=subprocess.DEVNULL, start_new_session=True, **popen)
            try:
                returncode = process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                returncode = -signal.SIGKILL
            wall = time.perf_counter() - started
        peak_kb = int(open(report).read() or 0) if os.path.exists(report) else 0
        return BoundedRun(returncode, open(out_path, errors="replace").read(), open(err_path, errors="replace").read(),
                          wall, peak_kb / 1024.0)
