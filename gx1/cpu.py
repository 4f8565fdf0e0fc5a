"""How gx1 uses the CPU: one numeric code path on every x86-64 CPU (portable mode), set before torch loads.

Imported by ``gx1/__init__.py``, so it runs before any gx1 module imports torch:

    GX1_REPRODUCIBILITY=portable  (default) pin ATen, MKL and oneDNN to the AVX2 code path with MKL's strict
                                  conditional numerical reproducibility: the same bytes at any thread count
                                  and on any Intel CPU with AVX2 (AVX-512 or not). MKL honours the branch
                                  pin on Intel CPUs only: AMD CPUs take its AUTO path, and an Intel Xeon
                                  and an AMD EPYC gave different weights (README "Reproducibility")
    GX1_REPRODUCIBILITY=native    leave every library on its fastest path for this CPU (bytes may differ
                                  between CPU models)

The DVC stages pass the ``reproducibility`` param through this variable. A pin the user already set
in the environment is kept and recorded. Torch imported before gx1 cannot be pinned any more; that
is recorded too (``pins_applied: false``).

Threads beside other runs: OpenMP worker threads spin while they wait, and the spinning threads of
two processes steal each other's cores. So when this process starts beside other gx1 trainings (or
inside a DVC queue with several workers), it sets ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead
of spinning) and, where the thread count is automatic, takes its share of the cores
(``auto_threads``). Alone it keeps OpenMP's default (fastest). The weights do not depend on either
(portable mode is thread-count invariant), and ``thread_facts()`` goes into the run's metrics.
"""
from __future__ import annotations

import os
import sys

MODE_ENV = "GX1_REPRODUCIBILITY"
MODES = ("portable", "native")
PORTABLE_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}

TRAINING_MARKERS = ("gx1.models.entry_v10.entry_v10_ctx_train", "gx1-train", "gx1.cli:train")
QUEUE_WORKER_MARKER = "queue-worker"

_state: dict = {}


def _ancestors() -> set[int]:
    """This process and its parents (a shell that runs the training command line is not another run)."""
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                pid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def _command_lines(exclude: set[int]) -> dict[int, str]:
    """{pid: command line} of the processes not in ``exclude`` (Linux /proc; empty elsewhere)."""
    lines = {}
    own = exclude
    try:
        entries = os.listdir("/proc")
    except OSError:
        return lines
    for entry in entries:
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                lines[int(entry)] = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
    return lines


def parallel_runs() -> int:
    """How many gx1 trainings share this machine now, this one included: other training processes, or the
    number of DVC queue workers (each runs one experiment at a time), whichever is larger."""
    ancestors = _ancestors()
    lines = _command_lines(exclude={os.getpid()})
    trainings = sum(1 for pid, line in lines.items()
                    if pid not in ancestors and any(m in line for m in TRAINING_MARKERS) and "python" in line)
    workers = sum(1 for line in lines.values() if QUEUE_WORKER_MARKER in line and "dvc" in line)  # ours included
    return max(trainings + 1, workers, 1)


def reproducibility_mode() -> str:
    mode = os.environ.get(MODE_ENV, "portable").strip().lower() or "portable"
    if mode not in MODES:
        from gx1.common import InputError
        raise InputError(f"{MODE_ENV}={os.environ[MODE_ENV]!r}: use portable (same bytes on every x86-64 CPU) or native")
    return mode


def configure() -> None:
    """Apply the mode's pins to this process's environment (before torch is imported). Idempotent."""
    if _state:
        return
    mode = os.environ.get(MODE_ENV, "portable").strip().lower()
    _state["torch_imported_first"] = "torch" in sys.modules
    if mode in ("", "portable"):
        for key, value in PORTABLE_PINS.items():
            os.environ.setdefault(key, value)
    _state["parallel_runs"] = parallel_runs() if _is_training() else 1
    if _state["parallel_runs"] > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _state["configured"] = True


def _is_training() -> bool:
    """This process is a training (its command line, read from /proc: under ``python -m`` sys.argv[0] is
    still "-m" while gx1 is first imported)."""
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            line = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        line = " ".join(sys.argv)
    return any(m in line for m in TRAINING_MARKERS) or sys.argv[0].endswith("entry_v10_ctx_train.py")


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def auto_threads() -> int:
    """Threads for ``num_threads: 0``: the cores this process may use, shared with the other runs seen at start."""
    return max(1, usable_cores() // _state.get("parallel_runs", 1))


def thread_facts() -> dict:
    """How this run's threads behave (for metrics.json; never part of a bundle)."""
    return {"parallel_runs_seen": _state.get("parallel_runs", 1), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            "usable_cores": usable_cores()}


def pinned_values() -> dict:
    """The code-path variables as this process sees them."""
    return {key: os.environ.get(key) for key in PORTABLE_PINS}


def reproducibility_facts(threads: int) -> dict:
    """What a bundle records about how its bytes were computed. Portable mode: the mode and the pins (the
    bytes do not depend on the CPU model or the thread count); native mode: also the CPU code path and threads."""
    import torch
    facts = {"reproducibility": reproducibility_mode(), "cpu_pins": pinned_values(),
             "pins_applied": not _state.get("torch_imported_first", False)}
    if facts["reproducibility"] == "native":
        facts.update(cpu_capability=torch.backends.cpu.get_cpu_capability(), num_threads=threads)
    return facts


def machine_facts() -> dict:
    """This machine's CPU as torch sees it (for reports and verify's environment comparison; never in a bundle)."""
    import platform

    import torch
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "num_threads": torch.get_num_threads(),
            "machine": platform.machine(), **thread_facts()}
