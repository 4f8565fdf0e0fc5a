"""How gx1 uses the CPU: one numeric code path on every x86-64 CPU (portable mode), set before torch loads.

Imported by ``gx1/__init__.py``, so it runs before any gx1 module imports torch:

    GX1_REPRODUCIBILITY=portable  (default) pin ATen, MKL and oneDNN to the AVX2 code path with MKL's strict
                                  conditional numerical reproducibility: the same bytes on any x86-64 CPU
                                  with AVX2 (Intel or AMD, AVX-512 or not)
    GX1_REPRODUCIBILITY=native    leave every library on its fastest path for this CPU (bytes may differ
                                  between CPU models)

The DVC stages pass the ``reproducibility`` param through this variable. A pin the user already set
in the environment is kept and recorded. Torch imported before gx1 cannot be pinned any more; that
is recorded too (``pins_applied: false``).
"""
from __future__ import annotations

import os
import sys

MODE_ENV = "GX1_REPRODUCIBILITY"
MODES = ("portable", "native")
PORTABLE_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}

_state: dict = {}


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
    _state["configured"] = True


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
            "machine": platform.machine(), "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count()}
