"""gx1: reproducible intraday entry-model pipeline (bars -> dataset -> contract -> train -> bundle -> verify -> replay).

Every stage is a module runnable as ``python -m gx1.<module> --help``.
"""
import os as _os

# Bitwise-reproducible MKL results for a fixed thread count, whatever the memory alignment.
# Must be set before torch (and so MKL) is first imported.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
