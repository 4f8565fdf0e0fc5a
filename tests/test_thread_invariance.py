"""Portable mode: training gives the same weight bytes at 1, 2 and 4 torch threads (issue 11, item 2).

Each run is its own process with the environment set before torch is imported: portable pins
(MKL_CBWR=COMPATIBLE,STRICT ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2), with and without
MKL_ENABLE_INSTRUCTIONS=AVX2 (an AVX2-only CPU). A run builds EntryV10Model (the plan's widths:
15 seq + 16 snap features, 5 + 2 context features) and takes a few training steps on a small
synthetic batch exactly as the trainer does (forward, losses, backward, clip_grad_norm_, fused
AdamW); the sha256 of its state_dict bytes must be one value for every thread count.

Each process also trains once more with the stock kernels (``invariant_ops.use_stock_kernels``): those
bytes differ between 1 and 2 threads (layer norm's weight/bias gradients), which shows the test can
fail. ``scripts/probe_threads.py`` finds the operation that differs when it does (on this project's
AVX2-only CI host, native mode gives the same bytes as portable mode; the probe shows both).
The six processes run two at a time: most of their time is importing torch (and torch._dynamo,
which building any torch.optim optimizer imports).
"""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gx1.cpu import PORTABLE_PINS

REPO = Path(__file__).resolve().parents[1]
PORTABLE = {"GX1_REPRODUCIBILITY": "portable", **PORTABLE_PINS}  # MKL_CBWR=COMPATIBLE,STRICT, ATen and oneDNN AVX2
CLEARED = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "GX1_REPRODUCIBILITY",
           "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# batch 16 x seq_len 30: the bias gradients of the 384- and 512-wide layers (480 x 384, 480 x 512) stay above
# ATen's 32768-element threshold for parallel reductions, and a run stays well under a second of compute.
TRAIN = r"""
import contextlib, hashlib, os, sys
import gx1  # applies gx1's CPU pins (setdefault) before torch loads
import numpy as np
import torch
from gx1.models.entry_v10 import invariant_ops
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.use_deterministic_algorithms(True)
cards, batch, length = [4, 3, 3, 7, 3], 16, 30


def train(context) -> str:
    torch.manual_seed(1337)
    model = EntryV10Model(EntryV10Config(n_seq_features=15, n_snap_features=16, seq_len=length,
                                         ctx_cat_cardinalities=cards, n_ctx_cont=2))
    model.ctx_cont_mean.fill_(0.25)
    model.ctx_cont_std.fill_(1.5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=True)  # as the trainer
    rng = np.random.default_rng(7)
    with context:
        for step in range(3):
            seq = torch.from_numpy(rng.standard_normal((batch, length, 15), dtype=np.float32))
            snap = torch.from_numpy(rng.standard_normal((batch, 16), dtype=np.float32))
            ctx_cat = torch.from_numpy(np.stack([rng.integers(0, c, batch) for c in cards], 1))
            ctx_cont = torch.from_numpy(rng.standard_normal((batch, 2), dtype=np.float32))
            labels = torch.from_numpy(rng.integers(0, 2, (batch, 3)).astype(np.float32))
            losses = model.losses(model(seq, snap, ctx_cat, ctx_cont), labels[:, 0], labels[:, 1], labels[:, 2])
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as the trainer
            optimizer.step()
    assert torch.get_num_threads() == threads
    return hashlib.sha256(b"".join(v.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                                   for v in model.state_dict().values())).hexdigest()


print(train(contextlib.nullcontext()), train(invariant_ops.use_stock_kernels()), flush=True)
os._exit(0)  # skip torch's slow interpreter teardown (about a second per process)
"""


def train_shas(threads: int, env_update: dict) -> tuple[str, str]:
    """(sha256 of the state_dict with the invariant kernels, with the stock kernels) after 3 steps."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(env_update)
    env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), MKL_DYNAMIC="FALSE", OMP_DYNAMIC="FALSE")
    result = subprocess.run([sys.executable, "-c", TRAIN, str(threads)], check=False, env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    invariant, stock = result.stdout.split()
    return invariant, stock


@pytest.mark.slow  # six subprocesses with torch
def test_portable_training_weights_do_not_depend_on_thread_count():
    runs = {f"{label} {threads} threads": (threads, env)
            for label, env in (("portable", PORTABLE), ("portable+avx2-only", {**PORTABLE, "MKL_ENABLE_INSTRUCTIONS": "AVX2"}))
            for threads in (1, 2, 4)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        shas = dict(zip(runs, pool.map(lambda run: train_shas(*run), runs.values())))
    report = "\n".join(f"{k}: invariant {v[0][:16]} stock {v[1][:16]}" for k, v in shas.items())
    assert len({invariant for invariant, _ in shas.values()}) == 1, report
    # the control: the stock kernels give other bytes at 2 threads than at 1, so the assertion above can fail
    assert shas["portable 1 threads"][1] != shas["portable 2 threads"][1], report
