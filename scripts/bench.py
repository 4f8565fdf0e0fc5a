"""Benchmarks: prints one table next to the plan's figures and writes bench.json.

Run (on a quiet machine; figures are medians over several measured runs):
    python3 scripts/bench.py                       # everything, ~3 min (includes a one-epoch full-year training run)
    python3 scripts/bench.py --fullyear_epochs 5   # the plan's five full-year epochs, measured end to end
    python3 scripts/bench.py --quick               # no full-year run (replay uses a small bundle)
    python3 scripts/bench.py --scaling_only        # the instruments x years table only (~3 min)
    python3 scripts/bench.py --modes_only          # portable vs native mode only: single-run samples/s and their ratio
    python3 scripts/bench.py --planted_only        # the learning check with a known answer only (--planted_runs seeds)

Measures on the embedded default year (70,217 M5 bars), all in a temporary directory:
  dataset build       load bars + features/labels/eligibility + write parquet (median of --repeats)
  train throughput    samples/s of the real training step (batch 64, seq_len 30), median over measured
                      windows after warm-up; FLOPs per sample (3x forward: forward + backward);
                      torch's matmul peak on the same threads; model FLOP utilisation (MFU) = each window's
                      FLOP/s over the mean of short matmul peaks measured just before and after it, median
                      over the windows (so the machine's drift between the two measurements cancels out)
  fused MLP           the fused ReLU MLP (gx1/models/entry_v10/fused_ops.py) against the stock modules: two
                      runs in one process taking turns step by step (--fusion_pairs), the median of the
                      per-pair speed ratios, and whether their weights are byte-identical
  full-year run       the training command as a subprocess: peak memory (max RSS), wall clock, projection
                      for five epochs; direction AUC on a validation window (--val_days)
  replay              one-week replay, bundle load and verification included (median of --repeats)
  planted signal      the learning check of gx1/planted.py (--planted_runs training seeds, one training each):
                      achievable direction AUC, the two one-bar linear baselines, the model's held-out AUC and
                      its share of the achievable lift (median and lowest over the seeds), seconds per check
  dvc status          on this repo's pipeline, when its outputs are present and up to date
  scaling             1, 6 and 30 instrument-years of M5 bars (--scaling_only for just this): dataset build and
                      contract time (medians), training samples/s on the first --scaling_samples rows (the whole
                      table read and scaled), and each command's peak RSS (its own, from wait4)
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import gx1  # noqa: E402,F401  (first: pins numpy's and torch's code paths before they load)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gx1.bars import load_bars, write_bars_parquet  # noqa: E402
from gx1.common import ArgumentParser, read_json, run_cli, write_json  # noqa: E402
from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, load_scaler  # noqa: E402
from gx1.contract import main as contract_main  # noqa: E402
from gx1.dataset import build_dataset, read_dataset, write_dataset  # noqa: E402
from gx1.features import LabelConfig  # noqa: E402
from gx1.models.entry_v10 import fused_ops  # noqa: E402
from gx1.models.entry_v10.inputs import build_model_inputs, epoch_order  # noqa: E402
from gx1.models.entry_v10.model import EntryV10Model, forward_flops_per_sample  # noqa: E402
from gx1.training.config import knob_defaults  # noqa: E402
from gx1.training.run import make_optimizer, model_config_for, train_step  # noqa: E402
from gx1.planted import Training as PlantedTraining, learning_check  # noqa: E402
from gx1.replay import replay, write_outputs  # noqa: E402
from gx1.replay_config import ReplayConfig  # noqa: E402
from gx1.synth import generate_gold_bars  # noqa: E402

PLAN = {"smoke_samples_per_s": 4713 / 190, "five_epochs_s": 222 * 60, "peak_memory_gb": "2-4"}
TRAIN_MODULE = "gx1.models.entry_v10.entry_v10_ctx_train"
KNOBS = knob_defaults()  # the trainer's defaults (gx1/training/config.py): batch, seq_len, seed, optimizer, clipping


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_dataset(work: Path, repeats: int) -> float:
    write_bars_parquet(generate_gold_bars(2025), work / "bars.parquet")

    def build():
        write_dataset(build_dataset(load_bars(work / "bars.parquet"), LabelConfig(), "XAUUSD"), str(work / "data.parquet"),
                      LabelConfig())
    seconds = median_seconds(build, repeats)
    contract_main(["--data", str(work / "data.parquet"), "--out_dir", str(work / "contract")])
    return seconds


def matmul_peak_gflops(repeats: int = 5) -> tuple[float, int]:
    """torch's float32 matmul throughput on the current threads: (the best size's median, that size)."""
    best, best_n = 0.0, 0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(3):
            a @ b
        calls = max(2, int(2e10 / (2 * n**3)))
        gflops = 2 * n**3 * calls / median_seconds(lambda: [a @ b for _ in range(calls)], repeats) / 1e9
        if gflops > best:
            best, best_n = gflops, n
    return best, best_n


def matmul_probe(n: int, seconds: float = 0.25):
    """A short peak measurement of n x n matmuls (best of three bursts of about ``seconds``), for pairing with
    each training window: this shared machine's speed drifts by a third within minutes, so a peak measured
    once, minutes away from the window it divides, makes the utilisation swing as much."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    calls = max(1, int(seconds * 1e11 / (2 * n**3)))

    def probe() -> float:
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                a @ b
            best = max(best, 2 * n**3 * calls / (time.perf_counter() - start) / 1e9)
        return best
    return probe


class TrainingSteps:
    """The trainer's step (``gx1.training.run.train_step``) on the embedded year with the trainer's default knobs
    (``KNOBS``), run ``count`` steps at a time."""

    batch = KNOBS["batch_size"]

    def __init__(self, work: Path):
        data = read_dataset(str(work / "data.parquet"))
        meta = read_json(work / "contract" / META_NAME)
        contract = meta["contract"]
        self.inputs = build_model_inputs(
            data, contract, load_scaler(work / "contract" / SEQ_SCALER_NAME, meta["scalers"]["seq"]["sha256"], "seq"),
            load_scaler(work / "contract" / SNAP_SCALER_NAME, meta["scalers"]["snap"]["sha256"], "snap"), KNOBS["seq_len"])
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(KNOBS["seed"])
        self.cfg = model_config_for(contract, seq_len=KNOBS["seq_len"], use_context=True)
        self.model = EntryV10Model(self.cfg)
        self.optimizer = make_optimizer(self.model, KNOBS["learning_rate"], KNOBS["weight_decay"])
        self.order = torch.from_numpy(epoch_order(np.flatnonzero(data["eligible"]), KNOBS["seed"], 0))
        self.step = 0

    def run(self, count: int) -> float:
        """Run ``count`` steps; return their samples/s."""
        start = time.perf_counter()
        for _ in range(count):
            rows = self.order[(self.step * self.batch) % (len(self.order) - self.batch):][:self.batch]
            train_step(self.model, self.optimizer, self.inputs, rows, KNOBS["grad_clip"], self.step)
            self.step += 1
        return count * self.batch / (time.perf_counter() - start)

    def step_seconds(self) -> float:
        """Run one step; return its wall time."""
        return self.batch / self.run(1)


def bench_training(work: Path, windows: int, steps_per_window: int, peak_probe, warmup_steps: int = 30) -> dict:
    """Median samples/s of the training step on the real data path, batch 64, seq_len 30, and the model FLOP
    utilisation of each window against the matmul peak measured just before and just after it (``peak_probe``)."""
    steps = TrainingSteps(work)
    steps.run(warmup_steps)
    flops = 3 * forward_flops_per_sample(steps.cfg)
    rates, peaks, mfus = [], [peak_probe()], []
    for _ in range(windows):
        rates.append(steps.run(steps_per_window))
        peaks.append(peak_probe())
        mfus.append(rates[-1] * flops / 1e9 / ((peaks[-2] + peaks[-1]) / 2))
    return {"samples_per_s_median": statistics.median(rates), "samples_per_s_windows": rates,
            "train_flops_per_sample": flops, "params": sum(p.numel() for p in steps.model.parameters()),
            "paired_peak_gflops": peaks, "mfu_windows": mfus, "mfu_median": statistics.median(mfus)}


def bench_fusion(work: Path, pairs: int, warmup_steps: int = 10) -> dict:
    """The fused ReLU MLP (``fused_ops``) against the stock modules: two identical runs that take turns step by
    step (which goes first alternates), so the machine's drift hits both alike; the median of the per-pair speed
    ratios, and whether the two runs' weights are byte-identical at the end."""
    fused, stock = TrainingSteps(work), TrainingSteps(work)

    def stock_step() -> float:
        with fused_ops.unfused():
            return stock.step_seconds()
    for _ in range(warmup_steps):
        fused.step_seconds()
        stock_step()
    times: dict[str, list[float]] = {"fused": [], "stock": []}
    for pair in range(pairs):
        turns = (("fused", fused.step_seconds), ("stock", stock_step))
        for name, step in turns if pair % 2 == 0 else turns[::-1]:
            times[name].append(step())
    identical = all(torch.equal(a, b) for a, b in zip(fused.model.state_dict().values(), stock.model.state_dict().values()))
    return {"fused_step_ms": 1e3 * statistics.median(times["fused"]), "stock_step_ms": 1e3 * statistics.median(times["stock"]),
            "speedup_median": statistics.median(s / f for f, s in zip(times["fused"], times["stock"])),
            "pairs": pairs, "identical_weights": identical, "steps": fused.step}


def bench_fullyear(work: Path, epochs: int, val_days: float, threads: int) -> dict:
    """The plan's training command on the full year, as a subprocess: memory, time, validation AUC."""
    out = work / "fullyear"
    command = [sys.executable, "-m", TRAIN_MODULE, "--data", str(work / "data.parquet"), "--out_dir", str(out),
               "--feature_meta_path", str(work / "contract" / META_NAME),
               "--seq_scaler_path", str(work / "contract" / SEQ_SCALER_NAME),
               "--snap_scaler_path", str(work / "contract" / SNAP_SCALER_NAME), "--seq_len", "30", "--batch_size", "64",
               "--epochs", str(epochs), "--num_workers", "0", "--device", "cpu", "--seed", "1337", "--log_every", "500",
               "--learning_rate", "1e-4", "--num_threads", str(threads), "--val_days", str(val_days)]
    start = time.perf_counter()
    result = subprocess.run(command, env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"full-year training failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    metrics = read_json(out / "metrics.json")
    per_epoch = statistics.median(e["wall_clock_s"] for e in metrics["per_epoch"])
    return {"epochs": epochs, "train_samples": metrics["dataset_len"], "wall_clock_s": wall,
            "train_loop_s": metrics["train_loop_s"], "avg_samples_per_s": metrics["avg_throughput_samples_per_s"],
            "peak_memory_mb": metrics["peak_memory_mb"],
            "projected_five_epochs_s": 5 * per_epoch + (wall - metrics["train_loop_s"]),
            "val_direction_auc_per_epoch": [e.get("val_direction_auc") for e in metrics["per_epoch"]],
            "bundle": str(out)}


def small_bundle(work: Path, threads: int) -> str:
    out = work / "small"
    subprocess.run([sys.executable, "-m", TRAIN_MODULE, "--data", str(work / "data.parquet"), "--out_dir", str(out),
                    "--feature_meta_path", str(work / "contract" / META_NAME),
                    "--seq_scaler_path", str(work / "contract" / SEQ_SCALER_NAME),
                    "--snap_scaler_path", str(work / "contract" / SNAP_SCALER_NAME), "--epochs", "1",
                    "--limit_samples", "3000", "--num_threads", str(threads)],
                   env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"}, check=True, capture_output=True)
    return str(out)


def training_command(work: Path, out: Path, samples: int, threads: int) -> list[str]:
    return [sys.executable, "-m", TRAIN_MODULE, "--data", str(work / "data.parquet"), "--out_dir", str(out),
            "--feature_meta_path", str(work / "contract" / META_NAME), "--seq_scaler_path", str(work / "contract" / SEQ_SCALER_NAME),
            "--snap_scaler_path", str(work / "contract" / SNAP_SCALER_NAME), "--epochs", "1", "--limit_samples", str(samples),
            "--log_every", "100000", "--num_threads", str(threads)]


def start_training(work: Path, out: Path, samples: int, threads: int, mode: str = "portable") -> subprocess.Popen:
    env = {**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true", "GX1_REPRODUCIBILITY": mode}
    return subprocess.Popen(training_command(work, out, samples, threads), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def finished_run(process: subprocess.Popen, out: Path) -> dict:
    """Throughput, weights sha256 and thread behaviour of a finished training subprocess."""
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"training failed ({process.returncode}): {err.strip()[-400:]}")
    metrics = read_json(out / "metrics.json")
    return {"samples": metrics["dataset_len"], "samples_per_s": metrics["avg_throughput_samples_per_s"],
            "weights_sha256": hashlib.sha256((out / "model_state_dict.pt").read_bytes()).hexdigest(),
            "threads": metrics["num_threads"], "omp_wait_policy": metrics["machine"]["omp_wait_policy"]}


def bench_modes(work: Path, samples: int, repeats: int) -> dict:
    """Single-run throughput in portable vs native mode, alternating runs on the same machine (medians)."""
    rates: dict[str, list[float]] = {"portable": [], "native": []}
    hashes: dict[str, set[str]] = {"portable": set(), "native": set()}
    for i in range(repeats):
        for mode in ("portable", "native") if i % 2 == 0 else ("native", "portable"):
            out = work / f"mode-{mode}-{i}"
            run = finished_run(start_training(work, out, samples, 0, mode), out)
            rates[mode].append(run["samples_per_s"])
            hashes[mode].add(run["weights_sha256"])
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    return {"samples": samples, "portable_samples_per_s": medians["portable"], "native_samples_per_s": medians["native"],
            "portable_over_native": medians["portable"] / medians["native"], "runs": rates,
            "identical_within_mode": all(len(h) == 1 for h in hashes.values())}


def bench_ddp(work: Path, samples: int, repeats: int) -> dict:
    """One training of ``samples`` as 1 process x C threads vs torchrun with C processes x 1 thread (DDP, gloo),
    alternating, C = the usable cores: medians of wall clock and samples/s; weights identical within each way."""
    cores = len(os.sched_getaffinity(0))
    ways = {"1_process": lambda out: training_command(work, out, samples, cores),
            "ddp": lambda out: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(cores),
                                *training_command(work, out, samples, 1)[1:]]}
    walls: dict[str, list[float]] = {way: [] for way in ways}
    rates: dict[str, list[float]] = {way: [] for way in ways}
    hashes: dict[str, set[str]] = {way: set() for way in ways}
    for i in range(repeats):
        for way in ways if i % 2 == 0 else reversed(list(ways)):
            out = work / f"ddp-{way}-{i}"
            started = time.perf_counter()
            process = subprocess.Popen(ways[way](out), env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"},
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            run = finished_run(process, out)
            walls[way].append(time.perf_counter() - started)
            rates[way].append(run["samples_per_s"])
            hashes[way].add(run["weights_sha256"])
    return {"samples": samples, "processes": cores, "wall_s": {w: statistics.median(v) for w, v in walls.items()},
            "samples_per_s": {w: statistics.median(v) for w, v in rates.items()}, "runs_samples_per_s": rates,
            "identical_within_way": all(len(h) == 1 for h in hashes.values())}


def bench_sweep(work: Path, runs: int, samples: int) -> dict:
    """`runs` trainings one after another vs all at once (what `dvc queue start -j runs` does): wall time,
    aggregate samples/s, and whether every run's weights are byte-identical (same seed, same data)."""
    start = time.perf_counter()
    sequential = [finished_run(start_training(work, work / f"seq-{i}", samples, 0), work / f"seq-{i}") for i in range(runs)]
    sequential_s = time.perf_counter() - start
    start = time.perf_counter()
    processes = [(start_training(work, work / f"par-{i}", samples, 0), work / f"par-{i}") for i in range(runs)]
    parallel = [finished_run(process, out) for process, out in processes]
    parallel_s = time.perf_counter() - start
    total = sum(r["samples"] for r in sequential)
    return {"runs": runs, "samples_per_run": samples, "sequential_s": sequential_s, "parallel_s": parallel_s,
            "sequential_samples_per_s": total / sequential_s, "parallel_samples_per_s": total / parallel_s,
            "parallel_over_sequential": sequential_s / parallel_s,
            "parallel_threads": [r["threads"] for r in parallel], "parallel_wait_policy": [r["omp_wait_policy"] for r in parallel],
            "identical_weights": len({r["weights_sha256"] for r in sequential + parallel}) == 1}


# instrument-years -> {instrument: (first year, last year)}: 1 = the default year, 6 = six instruments x 2025,
# 30 = five instruments x 2020-2025 (about 2.1 M bars)
SCALING_SOURCES = {
    1: {"XAUUSD": (2025, 2025)},
    6: {name: (2025, 2025) for name in ("XAUUSD", "XAGUSD", "EURUSD", "GBPUSD", "USDJPY", "US500")},
    30: {name: (2020, 2025) for name in ("XAUUSD", "XAGUSD", "EURUSD", "GBPUSD", "USDJPY")},
}


def bench_planted(work: Path, runs: int) -> dict:
    """The learning check once per training seed (0, 1, ...): its figures, median and lowest over the seeds."""
    checks = []
    for seed in range(runs):
        print(f"planted signal: training seed {seed} ...", flush=True)
        checks.append(learning_check(work / f"planted-{seed}", training=PlantedTraining(seed=seed)))
    models, shares = [c["model_auc"] for c in checks], [c["model_lift_share"] for c in checks]
    first = checks[0]
    return {"runs": runs, "achievable_auc": first["achievable_auc"], "baseline_auc": first["baseline_auc"],
            "model_auc_median": statistics.median(models), "model_auc_lowest": min(models),
            "model_lift_share_median": statistics.median(shares), "model_lift_share_lowest": min(shares),
            "required_share": first["required_share"], "passed": sum(c["passed"] for c in checks),
            "seconds_median": statistics.median(c["seconds"]["total"] for c in checks)}


def format_planted(p: dict) -> str:
    b = p["baseline_auc"]
    return "\n".join([
        f"{'planted signal: achievable direction AUC':<44} {p['achievable_auc']:>16.4f}   -",
        f"{'  one-bar baselines (one feature / all 31)':<44} {b['one_feature']:>7.4f} / {b['all_31_features']:.4f}   -",
        f"{'  model, median (lowest) of ' + str(p['runs']) + ' seeds':<44} {p['model_auc_median']:>7.4f} ({p['model_auc_lowest']:.4f})   "
        f"{100 * p['model_lift_share_median']:.0f}% ({100 * p['model_lift_share_lowest']:.0f}%) of the lift, needs "
        f"{100 * p['required_share']:.0f}%; passed {p['passed']}/{p['runs']}",
        f"{'  seconds per check (median)':<44} {p['seconds_median']:>14.1f} s   -"])


def timed_command(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command, its own RSS (wait4), not the largest child's so far."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({process.returncode}): {process.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def bench_scaling(work: Path, sizes: list[int], samples: int, repeats: int) -> list[dict]:
    """Per size: bars (gx1.sources), dataset build, contract, a training of ``samples`` rows spread over the table."""
    import yaml
    rows = []
    for size in sizes:
        root = work / f"scaling-{size}"
        root.mkdir()
        seeds = iter(range(101, 1000))
        sources = {name: {"file": "synthetic", "interval_minutes": 5, "year": first, "last_year": last, "seed": next(seeds)}
                   for name, (first, last) in SCALING_SOURCES[size].items()}
        (root / "params.yaml").write_text(yaml.safe_dump({"data": {"sources": sources}}))
        print(f"scaling: {size} instrument-years ...", flush=True)
        bars_s, _ = timed_command([sys.executable, "-m", "gx1.sources", "--params", str(root / "params.yaml"),
                                   "--out_dir", str(root / "bars")])
        data, contract = root / "data.parquet", root / "contract"
        builds = [timed_command([sys.executable, "-m", "gx1.dataset", "--bars", str(root / "bars"), "--out", str(data)])
                  for _ in range(repeats)]
        contracts = [timed_command([sys.executable, "-m", "gx1.contract", "--data", str(data), "--out_dir", str(contract)])
                     for _ in range(repeats)]
        table_rows = len(read_dataset(str(data), columns=["eligible"])["eligible"])
        # a training of the first `samples` rows: the trainer still reads and scales every row of the table (the memory
        # figure is the full table's), and its steps gather windows from the full-size matrices
        trainings = []
        for run in range(repeats):
            out = root / f"train-{run}"
            wall, rss = timed_command(
                [sys.executable, "-m", TRAIN_MODULE, "--data", str(data), "--out_dir", str(out),
                 "--feature_meta_path", str(contract / META_NAME), "--seq_scaler_path", str(contract / SEQ_SCALER_NAME),
                 "--snap_scaler_path", str(contract / SNAP_SCALER_NAME), "--epochs", "1", "--limit_samples", str(samples),
                 "--log_every", "100000", "--holdout_days", "0"], env={"ENTRY_CONTEXT_FEATURES_ENABLED": "true"})
            trainings.append((wall, rss, read_json(out / "metrics.json")))
        metrics = trainings[0][2]
        rows.append({"instrument_years": size, "bars": table_rows, "bars_generation_s": bars_s,
                     "dataset_build_s": statistics.median(b[0] for b in builds),
                     "dataset_peak_rss_mb": max(b[1] for b in builds),
                     "contract_s": statistics.median(c[0] for c in contracts),
                     "contract_peak_rss_mb": max(c[1] for c in contracts),
                     "train_samples": metrics["dataset_len"],
                     "train_samples_per_s": statistics.median(t[2]["avg_throughput_samples_per_s"] for t in trainings),
                     "train_samples_per_s_runs": [t[2]["avg_throughput_samples_per_s"] for t in trainings],
                     "train_wall_s": statistics.median(t[0] for t in trainings),
                     "train_peak_rss_mb": max(t[1] for t in trainings)})
        shutil.rmtree(root)
    return rows


CLI_MODULES = ("gx1.synth", "gx1.sources", "gx1.bars", "gx1.dataset", "gx1.contract", TRAIN_MODULE, "gx1.bundle", "gx1.verify",
               "gx1.replay", "gx1.compare", "gx1.seed_summary", "gx1.headline", "gx1.fold_data", "gx1.walkforward",
               "gx1.walkforward_summary")


def bench_help(repeats: int) -> dict[str, float]:
    """Median seconds of `python3 -m MODULE --help` per command line (answers before torch loads)."""
    def run(module: str):
        return lambda: subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, check=True)
    return {module: median_seconds(run(module), repeats) for module in CLI_MODULES}


def bench_replay(work: Path, bundle: str, repeats: int) -> float:
    cfg = ReplayConfig(bundle_dir=bundle, data=str(work / "data.parquet"), bars="", days=7.0)

    def run():
        write_outputs(replay(cfg, context_enabled=True), work / "replay")
    return median_seconds(run, repeats)


def bench_dvc_status(repeats: int) -> float | None:
    """Median `dvc status` time on this repo, if its pipeline outputs are present and up to date."""
    if not (REPO / "dvc.lock").is_file() or not (REPO / "models" / "entry_v10_ctx" / "bundle").is_dir():
        return None
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=REPO, capture_output=True, text=True)
    if status.returncode != 0 or json.loads(status.stdout or "{}"):
        return None
    return median_seconds(lambda: subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=REPO, capture_output=True,
                                                 check=True), repeats)


def format_scaling(rows: list[dict]) -> str:
    lines = ["instrument-years       bars  dataset s  (MB)  contract s  (MB)  train samples/s  (vs 1)  train peak MB"]
    base = rows[0]["train_samples_per_s"]
    for r in rows:
        lines.append(f"{r['instrument_years']:>16} {r['bars']:>10,} {r['dataset_build_s']:>10.2f} {r['dataset_peak_rss_mb']:>5.0f} "
                     f"{r['contract_s']:>11.2f} {r['contract_peak_rss_mb']:>5.0f} {r['train_samples_per_s']:>16.0f} "
                     f"{r['train_samples_per_s'] / base:>7.2f} {r['train_peak_rss_mb']:>14.0f}")
    return "\n".join(lines)


def format_table(r: dict) -> str:
    t = r["training"]
    lines = [f"{'figure':<44} {'gx1':>16}   plan",
             f"{'dataset build, full default year':<44} {r['dataset_build_s']:>14.2f} s   -",
             f"{'training throughput (batch 64, seq_len 30)':<44} {t['samples_per_s_median']:>10.0f} samples/s"
             f"   {PLAN['smoke_samples_per_s']:.0f} samples/s (smoke run: 4,713 in 190 s)",
             f"{'  speed-up over the plan':<44} {t['samples_per_s_median'] / PLAN['smoke_samples_per_s']:>15.0f}x   -",
             f"{'  training FLOPs per sample':<44} {t['train_flops_per_sample'] / 1e6:>11.1f} MFLOP   -",
             f"{'  matmul peak (torch, same threads)':<44} {r['matmul_peak_gflops']:>10.0f} GFLOP/s   -",
             f"{'  model FLOP utilisation (median window)':<44} {100 * r['mfu']:>15.1f}%   -",
             f"{'    range over the windows':<44} {100 * min(t['mfu_windows']):>8.1f}-{100 * max(t['mfu_windows']):.1f}%   -"]
    if r.get("fusion"):
        u = r["fusion"]
        lines += [f"{'  fused ReLU MLP vs stock (alternate steps)':<44} {u['speedup_median']:>15.3f}x   "
                  f"(median step {u['fused_step_ms']:.1f} vs {u['stock_step_ms']:.1f} ms over {u['pairs']} pairs; "
                  f"identical weights: {u['identical_weights']})"]
    if r.get("fullyear"):
        f = r["fullyear"]
        lines += [f"{'full-year run: epochs measured':<44} {f['epochs']:>16}   5",
                  f"{'  five full-year epochs (projected)':<44} {f['projected_five_epochs_s'] / 60:>14.1f} min   "
                  f"{PLAN['five_epochs_s'] / 60:.0f} min (3.7 h)",
                  f"{'  peak memory (max RSS)':<44} {f['peak_memory_mb']:>13.0f} MB   {PLAN['peak_memory_gb']} GB",
                  f"{'  validation direction AUC per epoch':<44} {', '.join(f'{a:.3f}' for a in f['val_direction_auc_per_epoch'] if a is not None):>16}   -"]
    if r.get("modes"):
        m = r["modes"]
        lines += [f"{'portable vs native, one run (' + str(m['samples']) + ' samples)':<44} "
                  f"{m['portable_samples_per_s']:>6.0f} / {m['native_samples_per_s']:.0f} samples/s = "
                  f"{100 * m['portable_over_native']:.0f}%   -"]
    for sweep in r.get("sweeps", []):
        lines += [f"{str(sweep['runs']) + ' runs of ' + str(sweep['samples_per_run']) + ' samples: one after another':<44} "
                  f"{sweep['sequential_s']:>12.1f} s   ({sweep['sequential_samples_per_s']:.0f} samples/s in aggregate)",
                  f"{'  all at once':<44} {sweep['parallel_s']:>12.1f} s   ({sweep['parallel_samples_per_s']:.0f} samples/s, "
                  f"{sweep['parallel_over_sequential']:.2f}x; threads {sweep['parallel_threads']}, "
                  f"identical weights: {sweep['identical_weights']})"]
    if r.get("ddp"):
        d = r["ddp"]
        lines += [f"{'one run of ' + str(d['samples']) + ' samples: 1 process x ' + str(d['processes']) + ' threads':<44} "
                  f"{d['samples_per_s']['1_process']:>6.0f} samples/s   ({d['wall_s']['1_process']:.1f} s wall)",
                  f"{'  torchrun ' + str(d['processes']) + ' processes x 1 thread (DDP)':<44} "
                  f"{d['samples_per_s']['ddp']:>6.0f} samples/s   ({d['wall_s']['ddp']:.1f} s wall; "
                  f"reruns identical: {d['identical_within_way']})"]
    lines.append(f"{'one-week replay, bundle load included':<44} {r['replay_s']:>14.2f} s   -")
    if r.get("help_s"):
        slowest = max(r["help_s"], key=r["help_s"].get)
        lines.append(f"{'--help, slowest of ' + str(len(r['help_s'])) + ' commands':<44} {r['help_s'][slowest]:>14.2f} s   ({slowest})")
    dvc_status = f"{r['dvc_status_s']:.2f} s" if r["dvc_status_s"] is not None else "n/a (run `dvc repro` first)"
    lines.append(f"{'dvc status, up-to-date pipeline':<44} {dvc_status:>16}   -")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 scripts/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per timed figure (median reported)")
    parser.add_argument("--windows", type=int, default=7, help="measured training windows")
    parser.add_argument("--steps_per_window", type=int, default=40)
    parser.add_argument("--num_threads", type=int, default=0, help="torch threads (0 = all cores)")
    parser.add_argument("--fullyear_epochs", type=int, default=1, help="epochs of the full-year run (the plan: 5)")
    parser.add_argument("--val_days", type=float, default=14.0, help="validation window of the full-year run")
    parser.add_argument("--quick", action="store_true", help="skip the full-year run")
    parser.add_argument("--fusion_pairs", type=int, default=200,
                        help="step pairs of the fused vs stock ReLU MLP comparison (0 = skip)")
    parser.add_argument("--sweep_samples", type=int, default=8000, help="samples per run of the parallel sweep (0 = skip)")
    parser.add_argument("--mode_repeats", type=int, default=3, help="runs per mode for portable vs native (0 = skip)")
    parser.add_argument("--ddp_repeats", type=int, default=3, help="runs per way for 1 process vs torchrun DDP (0 = skip)")
    parser.add_argument("--ddp_only", action="store_true", help="measure only 1 process vs torchrun DDP")
    parser.add_argument("--modes_only", action="store_true", help="measure only portable vs native mode (--mode_repeats runs each)")
    parser.add_argument("--scaling_sizes", type=int, nargs="*", default=[1, 6, 30], choices=sorted(SCALING_SOURCES),
                        help="instrument-years to measure (default 1 6 30; none = skip)")
    parser.add_argument("--scaling_samples", type=int, default=8000, help="training samples per scaling size")
    parser.add_argument("--scaling_only", action="store_true", help="measure only the scaling table")
    parser.add_argument("--planted_runs", type=int, default=1, help="training seeds of the planted-signal check (0 = skip)")
    parser.add_argument("--planted_only", action="store_true", help="measure only the planted-signal check")
    parser.add_argument("--json", default="bench.json")
    args = parser.parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    threads = torch.get_num_threads()
    results: dict = {"machine": {"cpu_count": os.cpu_count(), "torch_threads": threads, "torch": torch.__version__,
                                 "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
                                 "load_average_before": os.getloadavg()[0]}}
    with tempfile.TemporaryDirectory(prefix="gx1-bench-") as tmp:
        work = Path(tmp)
        if args.scaling_only:
            results["scaling"] = bench_scaling(work, args.scaling_sizes, args.scaling_samples, args.repeats)
            print(format_scaling(results["scaling"]))
            write_json(args.json, results)
            return 0
        if args.planted_only:
            results["planted"] = bench_planted(work, args.planted_runs or 1)
            print(format_planted(results["planted"]))
            write_json(args.json, results)
            return 0
        only = [(key, bench, repeats) for key, flag, bench, repeats in (
            ("modes", args.modes_only, bench_modes, args.mode_repeats), ("ddp", args.ddp_only, bench_ddp, args.ddp_repeats))
            if flag]
        if only:  # one comparison alone: the dataset and contract the runs train on, then the runs
            key, bench, repeats = only[0]
            bench_dataset(work, 1)
            results[key] = bench(work, args.sweep_samples or 8000, repeats or 3)
            print(json.dumps(results[key], indent=2))
            write_json(args.json, results)
            return 0
        print("dataset build ...", flush=True)
        results["dataset_build_s"] = bench_dataset(work, args.repeats)
        print("training throughput ...", flush=True)
        results["matmul_peak_gflops"], size = matmul_peak_gflops()
        results["training"] = bench_training(work, args.windows, args.steps_per_window, matmul_probe(size))
        # each window against the peak measured on either side of it: the machine's drift cancels out
        results["mfu"] = results["training"]["mfu_median"]
        if args.fusion_pairs:
            print("fused vs stock ReLU MLP ...", flush=True)
            results["fusion"] = bench_fusion(work, args.fusion_pairs)
        if args.quick:
            bundle = small_bundle(work, threads)
        else:
            print(f"full-year training run ({args.fullyear_epochs} epoch(s)) ...", flush=True)
            results["fullyear"] = bench_fullyear(work, args.fullyear_epochs, args.val_days, threads)
            bundle = results["fullyear"]["bundle"]
        print("replay ...", flush=True)
        results["replay_s"] = bench_replay(work, bundle, args.repeats)
        if args.mode_repeats:
            print("portable vs native ...", flush=True)
            results["modes"] = bench_modes(work, args.sweep_samples or 8000, args.mode_repeats)
        if args.ddp_repeats:
            print("1 process vs torchrun DDP ...", flush=True)
            results["ddp"] = bench_ddp(work, args.sweep_samples or 8000, args.ddp_repeats)
        if args.sweep_samples:
            cores = len(os.sched_getaffinity(0))
            results["sweeps"] = []
            for runs in (cores, 2 * cores):
                print(f"sweep: {runs} runs one after another, then at once ...", flush=True)
                results["sweeps"].append(bench_sweep(work, runs, args.sweep_samples))
        if args.planted_runs:
            results["planted"] = bench_planted(work, args.planted_runs)
        if args.scaling_sizes:
            results["scaling"] = bench_scaling(work, args.scaling_sizes, args.scaling_samples, args.repeats)
    results["dvc_status_s"] = bench_dvc_status(3)
    results["help_s"] = bench_help(args.repeats)
    results["machine"]["load_average_after"] = os.getloadavg()[0]
    print(format_table(results))
    if results.get("planted"):
        print(format_planted(results["planted"]))
    if results.get("scaling"):
        print(format_scaling(results["scaling"]))
    write_json(args.json, results)
    print(f"wrote {args.json} (load average before/after {results['machine']['load_average_before']:.2f}/"
          f"{results['machine']['load_average_after']:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    run_cli(main)
