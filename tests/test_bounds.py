"""The hostile cases' time and memory bound (tests/bounds.py) sees what it must: an allocation inside the case, a
child's peak, a child that runs past its timeout. Run: python3 -m pytest -q tests/test_bounds.py"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from bounds import InProcessBound, run_bounded


def test_in_process_bound_sees_an_allocation_inside_the_case_only():
    before = np.ones(40 * 2**20, dtype=np.uint8)  # resident before the case: not the case's
    with InProcessBound() as bound:
        block = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MB touched
        del block
    assert 280 < bound.peak_growth_mb < 400, bound.peak_growth_mb
    with pytest.raises(AssertionError, match="peak memory grew by"):
        bound.check(max_mb=200)
    bound.check(max_mb=500)
    del before


def test_run_bounded_measures_the_commands_peak_not_the_tests_and_kills_it_past_its_timeout():
    """The test process holds 700 MB: a direct child's ru_maxrss would report them (exec keeps the old peak)."""
    held = np.ones(700 * 2**20, dtype=np.uint8)
    allocate = [sys.executable, "-c", "import numpy as np; a = np.ones(300 * 2**20, dtype=np.uint8); print(a[-1])"]
    result = run_bounded(allocate)
    assert result.returncode == 0 and result.stdout.strip() == "1" and 300 < result.peak_rss_mb < 600, result
    del held
    with pytest.raises(AssertionError, match="peak RSS"):
        result.check(max_mb=250)
    hang = run_bounded([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    assert hang.returncode == -9 and 1 <= hang.wall_s < 10
    with pytest.raises(AssertionError, match="took"):
        hang.check(max_seconds=1)
