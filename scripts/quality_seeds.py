#!/usr/bin/env python3
"""Does the full-year model learn more than the smoke model? Out-of-sample direction AUC over seeds.

Run from the repository root after `dvc repro contract` (it reads the pipeline's dataset and contract):
    python3 scripts/quality_seeds.py --seeds 1 2 3 --jobs 2 --json reports/quality_seeds.json

For each seed it trains the smoke run (`--limit_samples 5000 --epochs 1`) and the full-year run
(`--epochs 5`), both holding out the last `--holdout_days` (the replay week, with the label-horizon
embargo), replays that week with each bundle, and prints per configuration the mean ± std over seeds
of the replay week's direction AUC, early-move AUC and quality correlation, beside the one-feature
baseline (`ema_slope_12_atr`) on the same bars. Runs go `--jobs` at a time, one thread each (the
weights do not depend on the thread count).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gx1 import seed_summary  # noqa: E402
from gx1.common import ArgumentParser, number_in, run_cli, write_json  # noqa: E402

CONTRACT = "gx1/models/entry_v9/nextgen_2020_2025_clean"
CONFIGS = {"smoke": ["--limit_samples", "5000", "--epochs", "1"], "fullyear": ["--limit_samples", "0", "--epochs", "5"]}
FIGURES = ("direction_auc", "early_move_auc", "quality_corr", "baseline_direction_auc")


def train_and_replay(work: Path, config: str, seed: int, holdout_days: float) -> dict:
    out = work / f"{config}-{seed}"
    env = {**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"}
    subprocess.run([sys.executable, "-m", "gx1.models.entry_v10.entry_v10_ctx_train", "--data", "data/entry_v9/full_2025.parquet",
                    "--out_dir", str(out), "--feature_meta_path", f"{CONTRACT}/entry_v9_feature_meta.json",
                    "--seq_scaler_path", f"{CONTRACT}/seq_scaler.joblib", "--snap_scaler_path", f"{CONTRACT}/snap_scaler.joblib",
                    "--seed", str(seed), "--holdout_days", str(holdout_days), "--num_threads", "1", "--log_every", "100000",
                    *CONFIGS[config]], cwd=REPO, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "gx1.replay", "--bundle_dir", str(out), "--data", "data/entry_v9/full_2025.parquet",
                    "--out_dir", str(out) + ".replay", "--days", str(holdout_days)], cwd=REPO, check=True, capture_output=True)
    quality = json.loads((Path(str(out) + ".replay") / "replay.json").read_text())["model_quality"]
    return {"config": config, "seed": seed, **{k: quality[k] for k in FIGURES}, "rows": quality["rows"]}


def summarise(runs: list[dict]) -> dict:
    """Per configuration and figure: mean and std over the seeds (ddof=1; 0 for one seed), by gx1.seed_summary."""
    table = {}
    for config in CONFIGS:
        stats = seed_summary.summarise({f"seed {r['seed']}": {k: r[k] for k in FIGURES} for r in runs if r["config"] == config})
        table[config] = {k: {"mean": stats[k]["mean"], "std": stats[k]["std"]} for k in FIGURES}
    return table


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 scripts/quality_seeds.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=number_in(int, 1, 64), default=2, help="runs at once (default 2)")
    parser.add_argument("--holdout_days", type=float, default=7.0)
    parser.add_argument("--fullyear_epochs", type=number_in(int, 1, 100), default=5, help="epochs of the full-year run (the plan: 5)")
    parser.add_argument("--json", help="write the runs and the summary here")
    args = parser.parse_args(argv)
    CONFIGS["fullyear"][-1] = str(args.fullyear_epochs)
    with tempfile.TemporaryDirectory(prefix="gx1-quality-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        jobs = [(config, seed) for seed in args.seeds for config in ("fullyear", "smoke")]
        runs = list(pool.map(lambda job: train_and_replay(Path(tmp), *job, args.holdout_days), jobs))
    table = summarise(runs)
    print(f"{'config':<10} " + " ".join(f"{k:>24}" for k in FIGURES))
    for config, figures in table.items():
        print(f"{config:<10} " + " ".join(f"{v['mean']:>15.4f} ± {v['std']:.4f}" for v in figures.values()))
    for run in runs:
        print(f"  {run['config']:<8} seed {run['seed']}: " + ", ".join(f"{k} {run[k]:.4f}" for k in FIGURES))
    if args.json:
        write_json(args.json, {"runs": runs, "summary": table})
    return 0


if __name__ == "__main__":
    run_cli(main)
