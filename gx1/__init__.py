"""gx1: reproducible intraday entry-model pipeline (bars -> dataset -> contract -> train -> bundle -> verify -> replay).

Every stage is a module runnable as ``python -m gx1.<module> --help``.
"""
import os as _os

# Bitwise-reproducible MKL results for a fixed thread count, whatever the memory alignment.
# Must be set before torch (and so MKL) is first imported.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
# Deterministic cuBLAS on CUDA (needed by torch.use_deterministic_algorithms).
_os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

__version__ = "0.1.0"
