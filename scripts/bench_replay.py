"""Benchmark: a one-week replay, bundle load included, timed in-process (median of N runs).

Run:
    ENTRY_CONTEXT_FEATURES_ENABLED=true python3 scripts/bench_replay.py \
        --bundle_dir models/entry_v10_ctx/bundle --data data/entry_v9/full_2025.parquet --runs 5

Each run calls ``gx1.replay.replay`` (bundle load and verification, data read, contract check,
scoring, policy, entry quality) and ``write_outputs`` into a temporary directory; interpreter start-up
and imports are not included. Prints every run, the median, and whether it meets the target (2 s).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from gx1.common import ArgumentParser, run_cli  # noqa: E402
from gx1.models.entry_v10.entry_v10_ctx_train import context_enabled_from_env  # noqa: E402
from gx1.replay import ReplayConfig, replay, write_outputs  # noqa: E402

TARGET_SECONDS = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 scripts/bench_replay.py", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle_dir", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", default="")
    source.add_argument("--bars", default="")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--num_threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    cfg = ReplayConfig(bundle_dir=args.bundle_dir, data=args.data, bars=args.bars, days=args.days)
    context_enabled = context_enabled_from_env()
    seconds = []
    load_before = os.getloadavg()[0]  # other work on the machine slows torch's thread pool a lot: report it
    with tempfile.TemporaryDirectory() as out_dir:
        for run in range(args.runs):
            start = time.perf_counter()
            result = replay(cfg, context_enabled)
            write_outputs(result, out_dir)
            seconds.append(time.perf_counter() - start)
            print(f"run {run + 1}: {seconds[-1]:.3f}s ({result.summary['bars_replayed']} bars, "
                  f"{result.summary['eligible_bars']} eligible)", flush=True)
    median = statistics.median(seconds)
    verdict = "meets" if median <= TARGET_SECONDS else "MISSES"
    print(f"median {median:.3f}s over {args.runs} runs ({torch.get_num_threads()} torch threads) "
          f"{verdict} the {TARGET_SECONDS:.0f} s target; load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
