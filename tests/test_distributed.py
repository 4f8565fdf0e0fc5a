"""DDP training under torchrun with 2 CPU processes (gloo, loopback only): the bundle verifies, the world
size is recorded, and a second run, killed and resumed, equals the first byte for byte.

Run: python3 -m pytest -q tests/test_distributed.py      (about a minute on 2 CPU cores)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import TRAIN_MODULE, train_argv

pytestmark = pytest.mark.slow

WEIGHTS = "model_state_dict.pt"
KILL = {"GX1_FAULT_KILL_AFTER_EPOCH": "1"}


def torchrun(argv: list[str], extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """The trainer under torchrun (--standalone: a free loopback port, so runs side by side never clash)."""
    env = {**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", TRAIN_MODULE, *argv], capture_output=True, text=True, env=env, timeout=600)


def ddp_argv(pipeline: dict, out_dir) -> list[str]:
    # one thread per process: 2 processes x 1 thread on the 2 cores; --limit_samples 1201 leaves 767
    # training rows, a last global batch of 63, so the two shards differ in size
    argv = train_argv(pipeline, out_dir, "--num_threads", "1")
    argv[argv.index("--limit_samples") + 1] = "1201"
    return argv


@pytest.fixture(scope="module")
def ddp_run(small_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "run"
    result = torchrun(ddp_argv(small_pipeline, out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return out, result


def test_two_processes_train_a_bundle_that_verifies(ddp_run, trained_run, small_pipeline):
    out, result = ddp_run
    assert "2 processes (DDP)" in result.stdout and result.stdout.count("entry_v10 training |") == 1  # rank 0 logs alone
    environment = json.loads((out / "bundle_metadata.json").read_text())["environment"]
    assert environment["world_size"] == 2
    assert json.loads((trained_run[0] / "bundle_metadata.json").read_text())["environment"]["world_size"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    epoch = metrics["per_epoch"][0]
    assert epoch["samples"] == metrics["dataset_len"] and epoch["samples"] % 64, "the last global batch must be partial"
    assert epoch["steps"] == -(-epoch["samples"] // 64)  # global batches of 64, as in one process
    assert len((out / "train_steps.tsv").read_text().splitlines()) == 1 + 2 * epoch["steps"]
    verify = subprocess.run([sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", str(out),
                             "--feature_meta_path", str(small_pipeline["meta"])], capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_killed_then_resumed_rerun_is_byte_identical(ddp_run, small_pipeline, tmp_path):
    """A second run, killed after epoch 1 and resumed, ends with the uninterrupted run's bytes: a rerun is
    byte-identical and so is a resume. The resume goes through the plain command's --nproc_per_node 2, which
    hands itself to torchrun."""
    out, _ = ddp_run
    killed = torchrun(ddp_argv(small_pipeline, tmp_path / "resumed"), extra_env=KILL)
    assert killed.returncode != 0 and "fault injection" in killed.stdout, killed.stdout[-2000:]
    assert not (tmp_path / "resumed" / WEIGHTS).exists()
    assert list((tmp_path / "resumed.checkpoints").glob("*.pt")), "rank 0 saved the checkpoint before the kill"
    resumed = subprocess.run([sys.executable, "-m", TRAIN_MODULE, *ddp_argv(small_pipeline, tmp_path / "resumed"),
                              "--nproc_per_node", "2"], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"})
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "2 processes (DDP)" in resumed.stdout and "resumed from" in resumed.stdout, resumed.stdout[-2000:]
    for name in (WEIGHTS, "train_steps.tsv", "reproducible_metrics.json"):
        assert (tmp_path / "resumed" / name).read_bytes() == (out / name).read_bytes(), name
