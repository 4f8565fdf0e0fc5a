#!/usr/bin/env python3
"""The plan's bundle verification command: a thin wrapper over gx1.verify.

Run from the repository root:
    python3 scripts/verify_entry_v10_ctx_bundle.py --bundle_dir models/entry_v10_ctx/bundle \
        --expected_hash <the hash training printed> [--report reports/verify.json]

Exit 0 all checks passed, 1 a check failed, 2 bad usage or an unreadable bundle.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, so `gx1` imports

from gx1.common import run_cli  # noqa: E402
from gx1.verify import main  # noqa: E402

if __name__ == "__main__":
    run_cli(main)
