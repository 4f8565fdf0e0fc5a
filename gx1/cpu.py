"""How gx1 uses the CPU: every float code path pinned (portable mode), set before numpy and torch load.

Imported by ``gx1/__init__.py``, so it runs before any gx1 module imports numpy or torch:

    GX1_REPRODUCIBILITY=portable  (default) numpy's SIMD dispatch capped at AVX2 (NPY_DISABLE_CPU_FEATURES),
                                  numpy's OpenBLAS on its Haswell kernels and one thread (OPENBLAS_CORETYPE,
                                  OPENBLAS_NUM_THREADS): the data, dataset and contract bytes are the same on
                                  every x86-64 CPU with AVX2, Intel or AMD, AVX-512 or not. ATen's kernels and
                                  oneDNN at AVX2, MKL on its AVX2 branch with strict conditional numerical
                                  reproducibility (MKL_CBWR=AVX2,STRICT): training bytes the same at any thread
                                  count, on Intel CPUs with AVX2; MKL honours that branch on Intel only, so AMD
                                  CPUs (its AUTO path) give other training bytes. MKL's vendor-neutral branch
                                  (MKL_CBWR=COMPATIBLE,STRICT, set by hand) is not the default: it is a third of
                                  the speed and not thread-invariant (addmm 1860x15 . 15x128 differs at 1 and 2 threads)
    GX1_REPRODUCIBILITY=native    leave every library on its fastest path for this CPU (bytes may differ
                                  between CPU models and thread counts)

The DVC stages pass the ``reproducibility`` param through this variable. A pin the user already set
in the environment is kept and recorded. numpy or torch imported before gx1 cannot be pinned any
more; that is recorded too (``pins_applied: false``). ``gx1.doctor`` checks a machine's arithmetic
against a recorded fingerprint in seconds.

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
# Every variable that selects a float code path, with its portable value. numpy 2.4's dispatch targets above
# AVX2 are X86_V4, AVX512_ICL and AVX512_SPR (``numpy._core._multiarray_umath.__cpu_dispatch__``).
PORTABLE_PINS = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell",
                 "OPENBLAS_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT",
                 "ONEDNN_MAX_CPU_ISA": "AVX2"}
NATIVE_DEFAULTS = {"MKL_CBWR": "AUTO,STRICT"}  # native mode: bitwise-reproducible MKL for a fixed CPU and thread count
PINNED_MODULES = ("numpy", "torch")  # a module loaded before configure() has read its variables already

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
    _state["imported_first"] = [name for name in PINNED_MODULES if name in sys.modules]
    for key, value in (PORTABLE_PINS if mode in ("", "portable") else NATIVE_DEFAULTS).items():
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


def pins_applied() -> bool:
    """False when numpy or torch was imported before gx1 (their code paths were chosen before the pins)."""
    return not _state.get("imported_first")


def reproducibility_facts(threads: int) -> dict:
    """What a bundle records about how its bytes were computed. Portable mode: the mode, every pin and the CPU
    class the bytes hold on (they do not depend on the CPU model, its vendor or the thread count, so the
    machine that made them is not named: a bundle stays byte-identical on every machine); native mode: also
    the CPU (vendor, model, ISA level), ATen's code path and the thread count, which the bytes depend on."""
    import torch
    facts = {"reproducibility": reproducibility_mode(), "cpu_pins": pinned_values(), "pins_applied": pins_applied()}
    if facts["reproducibility"] == "native":
        facts.update(cpu=cpu_identity(), cpu_capability=torch.backends.cpu.get_cpu_capability(), num_threads=threads)
    else:
        facts.update(cpu_class=PORTABLE_CPU_CLASS)
    return facts


PORTABLE_CPU_CLASS = "x86-64 with AVX2 and FMA (x86-64-v3 or above), any thread count; training bytes per MKL vendor path (Intel / AMD)"
ISA_LEVELS = (("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
              ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe"}),
              ("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}))


def isa_level(flags: set[str]) -> str:
    """The highest x86-64 micro-architecture level whose features are all in ``flags`` (/proc/cpuinfo names;
    each level requires the ones below it)."""
    for index, (level, required) in enumerate(ISA_LEVELS):
        if all(required <= flags for _, required in ISA_LEVELS[index:]):
            return level
    return "x86-64"


def cpu_identity(cpuinfo: str | None = None) -> dict:
    """This CPU's vendor, model name and ISA level, from /proc/cpuinfo (Linux; "unknown" elsewhere)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                cpuinfo = fh.read(1 << 20)
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block describes the CPU
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"vendor": fields.get("vendor_id", "unknown"), "model": fields.get("model name", "unknown"),
            "isa_level": isa_level(flags) if flags else "unknown"}


def machine_facts() -> dict:
    """This machine's CPU as torch sees it (for reports and verify's environment comparison; never in a bundle)."""
    import platform

    import torch
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "num_threads": torch.get_num_threads(),
            "machine": platform.machine(), "cpu": cpu_identity(), **thread_facts()}
