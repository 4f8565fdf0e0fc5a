"""Shared test fixtures: small deterministic bars tables built without the code under test, a small
pipeline (bars -> dataset -> contract) and one trained run shared by the training, bundle and replay tests.

The suite runs on pytest-xdist workers (pyproject.toml addopts): one per core this process may use, at
most 3 (the DVC workflow files, the longest, set the wall time beyond that), the longest files
first. Beside other workers, OpenMP threads wait passively (OMP_WAIT_POLICY, read when torch loads,
which is after this file): spinning threads of two processes steal each other's cores (gx1/cpu.py).
None of this changes a result: portable-mode training gives the same bytes at any thread count.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import gx1  # noqa: F401  (first: pins numpy's and torch's code paths before they load, gx1/cpu.py)
import numpy as np
import pytest

TRAIN_MODULE = "gx1.models.entry_v10.entry_v10_ctx_train"
MAX_WORKERS = 3
LONGEST_FILES_FIRST = ("test_planted_signal.py", "test_doc_commands.py", "test_dvc_experiments.py", "test_dvc_workflow.py",
                       "test_train.py", "test_distributed.py", "test_hostile_inputs.py", "test_instruments.py",
                       "test_contract.py", "test_bundle_verify.py")

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: the cores this process may use, at most MAX_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # Linux / elsewhere
    return max(1, min(MAX_WORKERS, cores))


def pytest_collection_modifyitems(session, config, items) -> None:
    """The longest files first (in LONGEST_FILES_FIRST order), so that no worker starts one near the end;
    within a file, the file's own order (the DVC workflow tests rely on it)."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def make_bars(n: int = 2000, seed: int = 0, interval_minutes: int = 5, gap_every: int = 0) -> dict:
    """A random-walk OHLCV table; every ``gap_every`` bars the clock jumps by 2 hours."""
    rng = np.random.default_rng(seed)
    steps = np.full(n, interval_minutes * 60, dtype=np.int64)
    if gap_every:
        steps[gap_every::gap_every] = 2 * 3600
    seconds = np.cumsum(steps) - steps[0] + 1_735_776_000  # 2025-01-02 00:00 UTC
    time = (seconds * 1_000_000_000).astype("datetime64[ns]")
    close = 2600.0 * np.exp(np.cumsum(rng.standard_t(4, n) * 4e-4))
    open_ = np.concatenate(([close[0]], close[:-1])) + rng.normal(0, 0.05, n)
    high = np.maximum(open_, close) + np.abs(rng.normal(0, 0.6, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0, 0.6, n))
    return {
        "time": time,
        "open": np.round(open_, 2), "high": np.round(high, 2) + 0.01, "low": np.round(low, 2) - 0.01,
        "close": np.round(close, 2),
        "volume": rng.integers(50, 500, n).astype(np.float64),
        "spread": np.round(rng.uniform(0.15, 0.4, n), 2),
    }


@pytest.fixture
def bars_factory():
    return make_bars


SMALL_BARS = 3500  # about two and a half weeks of M5 bars: fast, yet past every warm-up window


@pytest.fixture(scope="session")
def small_pipeline(tmp_path_factory):
    """Bars -> dataset -> contract on the first SMALL_BARS synthetic bars, through the stage CLIs."""
    from gx1 import contract, dataset
    from gx1.bars import write_bars_parquet
    from gx1.synth import generate_gold_bars

    root = tmp_path_factory.mktemp("pipeline")
    bars = {k: v[:SMALL_BARS] for k, v in generate_gold_bars(2025, seed=7).items()}
    write_bars_parquet(bars, root / "bars.parquet")
    assert dataset.main(["--bars", "XAUUSD=" + str(root / "bars.parquet"), "--out", str(root / "data.parquet"),
                         "--stats", str(root / "dataset.json")]) == 0
    assert contract.main(["--data", str(root / "data.parquet"), "--out_dir", str(root / "contract")]) == 0
    return {
        "root": root,
        "bars": root / "bars.parquet",
        "data": root / "data.parquet",
        "meta": root / "contract" / "entry_v9_feature_meta.json",
        "seq_scaler": root / "contract" / "seq_scaler.joblib",
        "snap_scaler": root / "contract" / "snap_scaler.joblib",
    }


def train_argv(pipeline: dict, out_dir, *extra: str) -> list[str]:
    """The plan's flags, at test size."""
    return ["--data", str(pipeline["data"]), "--out_dir", str(out_dir),
            "--feature_meta_path", str(pipeline["meta"]), "--seq_scaler_path", str(pipeline["seq_scaler"]),
            "--snap_scaler_path", str(pipeline["snap_scaler"]), "--seq_len", "30", "--batch_size", "64",
            "--epochs", "2", "--num_workers", "0", "--device", "cpu", "--seed", "1337", "--log_every", "10",
            "--learning_rate", "1e-4", "--limit_samples", "1200", "--num_threads", "2", *extra]


def run_train(argv, context: str | None = "true", extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """The training CLI in a subprocess, as the plan runs it (ENTRY_CONTEXT_FEATURES_ENABLED=context, None = unset)."""
    env = {**os.environ, **(extra_env or {})}
    env.pop("ENTRY_CONTEXT_FEATURES_ENABLED", None)
    if context is not None:
        env["ENTRY_CONTEXT_FEATURES_ENABLED"] = context
    return subprocess.run([sys.executable, "-m", TRAIN_MODULE, *argv], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="session")
def trained_run(small_pipeline, tmp_path_factory):
    """One training out_dir made by the plan's flags at test size, shared by every module: (out_dir, result, hash)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    result = run_train(train_argv(small_pipeline, out))
    assert result.returncode == 0, result.stderr
    printed = re.search(r"feature contract hash ([0-9a-f]{16})", result.stdout)
    assert printed, result.stdout
    return out, result, printed.group(1)


def dataset_with_label_config(data_path, out_path, **changes):
    """A copy of a dataset parquet whose recorded label config differs (as if built with other knobs)."""
    import json

    import pyarrow.parquet as pq
    table = pq.read_table(data_path)
    metadata = dict(table.schema.metadata)
    label_config = {**json.loads(metadata[b"gx1.label_config"]), **changes}
    metadata[b"gx1.label_config"] = json.dumps(label_config).encode()
    pq.write_table(table.replace_schema_metadata(metadata), out_path)
    return out_path
