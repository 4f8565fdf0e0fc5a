"""ReplayConfig: every argument of a replay, and the policy's flags (type, range, help), in one place.

    from gx1.replay_config import POLICY_FLAGS, ReplayConfig
    cfg = ReplayConfig(bundle_dir="models/entry_v10_ctx/bundle", data="data/entry_v9/full_2025.parquet", days=7.0)

``gx1.replay`` makes its policy flags from ``POLICY_FLAGS`` with ReplayConfig's defaults; ``gx1.walkforward`` passes
the same flags on to each fold's replay. Plain dataclass: importing it loads neither torch nor the bundle code.
"""
from __future__ import annotations

from dataclasses import dataclass

from gx1.common import number_in


@dataclass
class ReplayConfig:
    """Every argument of a replay; the policy part is written into replay.json."""

    bundle_dir: str
    out_dir: str = ""
    data: str = ""                # dataset parquet (gx1.dataset) ...
    bars: str = ""                # ... or a bars file (parquet/CSV), featurised with the bundle's label config
    instrument: str = ""          # the instrument to replay ("" = the only one the data holds)
    any_instrument: bool = False  # replay an instrument the bundle was not trained on
    days: float | None = None     # window = the last N days of the data (default 7 when no --start/--end)
    start: str = ""               # window start, inclusive (ISO, UTC)
    end: str = ""                 # window end, exclusive (ISO, UTC)
    dir_threshold: float = 0.55   # long if p_dir >= this, short if p_dir <= 1 - this
    early_threshold: float = 0.5  # p_early must be >= this
    cooldown_bars: int = 6        # bars after a time exit in which no trade opens
    hold_bars: int = 0            # time exit after this many bars (0 = the bundle's label horizon)
    mae_mfe_bars: int = 6         # entry-quality window t+1..t+N
    commission_bps: float = 0.0   # commission per round trip, bps of the entry price (the spread is charged too)


POLICY_FLAGS = {  # the policy's flags: (type with its range, help); defaults from ReplayConfig
    "dir_threshold": (number_in(float, 0.5, 1.0), "long if p_dir >= this, short if p_dir <= 1 - this"),
    "early_threshold": (number_in(float, 0.0, 1.0), "candidate only if p_early >= this"),
    "cooldown_bars": (number_in(int, 0, 10**6), "bars after a time exit in which no trade opens"),
    "hold_bars": (number_in(int, 0, 10**6), "time exit after N bars (0 = the bundle's label horizon)"),
    "mae_mfe_bars": (number_in(int, 1, 10**6), "entry-quality window: bars t+1..t+N"),
    "commission_bps": (number_in(float, 0, 10**4), "commission per round trip in bps of the entry price (>= 0; "
                                                    "the entry bar's spread is charged besides)"),
}
