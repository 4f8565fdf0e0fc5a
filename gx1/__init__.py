"""gx1: reproducible intraday entry-model pipeline (bars -> dataset -> contract -> train -> bundle -> verify -> replay).

Every stage is a module runnable as ``python -m gx1.<module> --help``. Importing gx1 pins the CPU
code path (``gx1.cpu``, before numpy and torch load) and makes cuBLAS deterministic on CUDA.
"""
import os as _os

from gx1 import cpu as _cpu

_cpu.configure()
_os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (torch.use_deterministic_algorithms)

__version__ = "0.2.0"
