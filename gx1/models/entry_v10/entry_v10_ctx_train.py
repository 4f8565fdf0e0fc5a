"""Train the entry_v10 entry model (context fusion when ENTRY_CONTEXT_FEATURES_ENABLED=true).

Run (the plan's command, §1):
    ENTRY_CONTEXT_FEATURES_ENABLED=true python3 -m gx1.models.entry_v10.entry_v10_ctx_train \
      --data data/entry_v9/full_2025.parquet --out_dir models/entry_v10_ctx/FULLYEAR_2025_ctxfusion \
      --feature_meta_path gx1/models/entry_v9/nextgen_2020_2025_clean/entry_v9_feature_meta.json \
      --seq_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/seq_scaler.joblib \
      --snap_scaler_path gx1/models/entry_v9/nextgen_2020_2025_clean/snap_scaler.joblib \
      --seq_len 30 --batch_size 64 --epochs 5 --num_workers 0 --device cpu --seed 1337 \
      --log_every 100 --learning_rate 1e-4

The out_dir receives a complete bundle (weights, config, metadata, contract, scalers, golden
sample, manifest) plus the reports: run_log.txt, metrics.json (every figure of the plan's §6,
wall clock and memory included), reproducible_metrics.json (the same without run-varying
figures, byte-stable: the file DVC tracks) and loss curves per step and per epoch (TSV);
``--report_dir`` puts the reports elsewhere. A checkpoint is written atomically after
every epoch; starting the same command again resumes from it and ends with byte-identical weights.
Exit 0 success, 1 a non-finite loss/gradient or a failed success criterion, 2 bad usage/input.
"""
from __future__ import annotations

import io
import math
import os
import random
import resource
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gx1.common import (
    ArgumentParser, CheckFailed, InputError, atomic_write_bytes, number_in, read_json, run_cli, sha256_file, write_json, write_tsv,
)
from gx1.contract import contract_hash, load_scaler
from gx1.dataset import read_dataset, read_label_config
from gx1.models.entry_v10 import bundle_files
from gx1.models.entry_v10.data import ModelInputs, build_model_inputs, gather_batch, predict_rows
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
from gx1.models.entry_v10.telemetry import RunLogger, StepStats, epoch_summary

CONTEXT_ENV = "ENTRY_CONTEXT_FEATURES_ENABLED"
CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainConfig:
    """Every argument of a training run; written to train_config.json."""

    data: str
    out_dir: str
    feature_meta_path: str
    seq_scaler_path: str
    snap_scaler_path: str
    seq_len: int = 30
    batch_size: int = 64
    epochs: int = 1
    num_workers: int = 0
    device: str = "cpu"
    seed: int = 1337
    log_every: int = 50
    learning_rate: float = 1e-4
    limit_samples: int = 0
    num_threads: int = 0
    val_days: float = 0.0
    holdout_days: float = 0.0
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    report_dir: str = ""
    context_features_enabled: bool = True


def context_enabled_from_env() -> bool:
    value = os.environ.get(CONTEXT_ENV)
    if value is None or value.strip().lower() in ("", "false"):
        return False
    if value.strip().lower() == "true":
        return True
    raise InputError(f"{CONTEXT_ENV}={value!r}: use true (context variant v10_ctx) or false/unset (variant v10)")


POSITIVE_INT = number_in(int, 1, 10**9)
NON_NEGATIVE_INT = number_in(int, 0, 10**9)
NON_NEGATIVE_FLOAT = number_in(float, 0.0, 1e9)
POSITIVE_FLOAT = number_in(float, 0.0, 1e9, low_open=True)


def parse_args(argv: list[str] | None) -> TrainConfig:
    parser = ArgumentParser(prog="python3 -m gx1.models.entry_v10.entry_v10_ctx_train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset parquet (gx1.dataset)")
    parser.add_argument("--out_dir", required=True, help="bundle/output directory")
    parser.add_argument("--feature_meta_path", required=True)
    parser.add_argument("--seq_scaler_path", required=True)
    parser.add_argument("--snap_scaler_path", required=True)
    parser.add_argument("--seq_len", type=POSITIVE_INT, default=30)
    parser.add_argument("--batch_size", type=POSITIVE_INT, default=64)
    parser.add_argument("--epochs", type=POSITIVE_INT, default=1)
    parser.add_argument("--num_workers", type=NON_NEGATIVE_INT, default=0,
                        help="accepted for compatibility: batches are gathered in-process by index arrays")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--log_every", type=POSITIVE_INT, default=50, help="log every N optimizer steps")
    parser.add_argument("--learning_rate", type=POSITIVE_FLOAT, default=1e-4)
    parser.add_argument("--limit_samples", type=NON_NEGATIVE_INT, default=0, help="use the first N dataset rows (0 = all)")
    parser.add_argument("--num_threads", type=NON_NEGATIVE_INT, default=0, help="torch CPU threads (0 = all cores); recorded")
    parser.add_argument("--val_days", type=NON_NEGATIVE_FLOAT, default=0.0,
                        help="hold out the last N days of the training range for validation (label-horizon embargo)")
    parser.add_argument("--holdout_days", type=NON_NEGATIVE_FLOAT, default=0.0,
                        help="exclude the last N days of the data entirely (the replay week)")
    parser.add_argument("--weight_decay", type=NON_NEGATIVE_FLOAT, default=0.01)
    parser.add_argument("--grad_clip", type=NON_NEGATIVE_FLOAT, default=1.0, help="max gradient norm (0 = no clipping)")
    parser.add_argument("--report_dir", default="", help="where run_log.txt, metrics.json and curves go (default: out_dir)")
    args = parser.parse_args(argv)
    return TrainConfig(**vars(args), context_features_enabled=context_enabled_from_env())


def set_seed(seed: int) -> None:
    """One seed for python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to torch (use --device cpu or auto)")
    return torch.device(name)


def split_rows(data: dict[str, np.ndarray], cfg: TrainConfig, horizon: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Training and validation row indices (eligible rows only) and counts for the metrics.

    The holdout is the last ``holdout_days`` of the whole dataset (the replay week); ``limit_samples``
    then takes the first N rows before it; validation is the last ``val_days`` of what remains.
    Rows whose label horizon reaches into the holdout or the validation window are embargoed.
    """
    rows = len(data["time"])
    time_ns = data["time"].astype(np.int64)
    day_ns = 86_400 * 10**9
    end = rows
    if cfg.holdout_days and rows:
        end = int(np.searchsorted(time_ns, time_ns[-1] - cfg.holdout_days * day_ns, side="right"))
    used = min(end, cfg.limit_samples) if cfg.limit_samples else end
    eligible = np.asarray(data["eligible"][:used], dtype=bool)
    train_end = max(0, end - horizon) if used == end < rows else used
    val_rows = np.empty(0, dtype=np.int64)
    if cfg.val_days and used:
        val_start = int(np.searchsorted(time_ns[:used], time_ns[used - 1] - cfg.val_days * day_ns, side="right"))
        val_rows = np.flatnonzero(eligible[val_start:used]) + val_start
        train_end = max(0, val_start - horizon)
    train_rows = np.flatnonzero(eligible[:train_end])
    counts = {"dataset_rows": rows, "rows_used": used, "holdout_rows": rows - end, "eligible_rows": int(eligible.sum()),
              "eligibility_rate": float(eligible.mean()) if used else 0.0,
              "train_samples": int(len(train_rows)), "val_samples": int(len(val_rows))}
    return train_rows, val_rows, counts


def epoch_order(train_rows: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The data order of one epoch, from a generator seeded by (seed, epoch): resumable without state."""
    return np.random.default_rng([seed, epoch]).permutation(train_rows)


def run_fingerprint(cfg: TrainConfig, data_sha256: str, meta: dict) -> dict:
    """What a checkpoint must match to be resumed (everything that changes the result)."""
    keys = ("seq_len", "batch_size", "epochs", "seed", "learning_rate", "limit_samples", "num_threads", "val_days",
            "holdout_days", "weight_decay", "grad_clip", "context_features_enabled", "device")
    return {**{k: getattr(cfg, k) for k in keys}, "data_sha256": data_sha256, "contract_hash": contract_hash(meta),
            "scalers": meta["scalers"]}


def evaluate(model: EntryV10Model, inputs: ModelInputs, rows: np.ndarray, device: torch.device,
             batch_size: int = 256) -> dict:
    """Validation losses and direction AUC (no gradient, model in eval mode)."""
    from sklearn.metrics import roc_auc_score
    model.eval()
    out = predict_rows(model, inputs, rows, batch_size)
    model.train()
    y = inputs.labels[torch.from_numpy(rows).to(device)]
    losses = {k: float(v) for k, v in model.losses(out, y[:, 0], y[:, 1], y[:, 2]).items()}
    y_dir = y[:, 0].cpu().numpy()
    auc = float(roc_auc_score(y_dir, out[:, 0].float().cpu().numpy())) if 0 < y_dir.mean() < 1 else float("nan")
    return {"val_loss": losses["total"], "val_loss_direction": losses["direction"], "val_loss_early_move": losses["early_move"],
            "val_loss_quality": losses["quality"], "val_direction_auc": auc}


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, fingerprint: dict) -> dict | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own checkpoint, in our out_dir
    if state.get("fingerprint") != fingerprint:
        differing = sorted(k for k in fingerprint if state.get("fingerprint", {}).get(k) != fingerprint[k])
        raise InputError(f"checkpoint {path} belongs to a run with different arguments (differs in: {', '.join(differing)}): "
                         f"delete {path.parent} to start over, or rerun with the original arguments to resume")
    return state


def make_optimizer(model: EntryV10Model, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with the fused kernel (one call per step instead of one per parameter tensor)."""
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


def train_step(model: EntryV10Model, optimizer: torch.optim.Optimizer, inputs: ModelInputs, rows: torch.Tensor,
               grad_clip: float, step: int) -> tuple[dict[str, float], float, float]:
    """One optimizer step on the batch ``rows``: (loss values per head and total, gradient norm, y_dir mean).

    Raises CheckFailed naming the step and the head (or parameter) on a non-finite loss or gradient,
    before the optimizer touches the weights.
    """
    seq, snap, ctx_cat, ctx_cont, labels = gather_batch(inputs, rows)
    losses = model.losses(model(seq, snap, ctx_cat, ctx_cont), labels[:, 0], labels[:, 1], labels[:, 2])
    values = {k: v.item() for k, v in losses.items()}
    for head in ("direction", "early_move", "quality"):
        if not math.isfinite(values[head]):
            raise CheckFailed(f"non-finite {head} loss ({values[head]}) at step {step}: training stopped, no bundle written")
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip else float("inf")).item()
    if not math.isfinite(grad_norm):
        bad = next(n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all())
        raise CheckFailed(f"non-finite gradient at step {step} (first in {bad}): training stopped, no bundle written")
    optimizer.step()
    return values, grad_norm, labels[:, 0].mean().item()


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train(cfg: TrainConfig, log: RunLogger) -> dict:
    """Run training; write checkpoints, the bundle and the metrics. Returns the metrics dict."""
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    threads = torch.get_num_threads()
    # On CUDA some kernels (attention backward) have no deterministic version: warn instead of failing there.
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    meta = read_json(cfg.feature_meta_path, "feature meta")
    feature_hash = contract_hash(meta)
    contract = meta["contract"]
    if "scalers" not in meta:
        raise InputError(f"feature meta {cfg.feature_meta_path} records no scaler sha256: regenerate it with `python -m gx1.contract`")
    seq_scaler = load_scaler(cfg.seq_scaler_path, meta["scalers"]["seq"]["sha256"], "seq scaler")
    snap_scaler = load_scaler(cfg.snap_scaler_path, meta["scalers"]["snap"]["sha256"], "snap scaler")
    label_config = read_label_config(cfg.data)
    if cfg.seq_len > label_config.seq_len:
        raise InputError(f"--seq_len {cfg.seq_len} exceeds the window the dataset's eligibility was built for "
                         f"({label_config.seq_len}): rebuild it with `python -m gx1.dataset --seq_len {cfg.seq_len}`")
    data = read_dataset(cfg.data)
    horizon = contract["labels"]["horizon_bars"]
    train_rows, val_rows, counts = split_rows(data, cfg, horizon)
    if len(train_rows) == 0:
        raise InputError(f"no eligible training rows in {cfg.data} with limit_samples={cfg.limit_samples}, "
                         f"holdout_days={cfg.holdout_days}, val_days={cfg.val_days}")
    inputs = build_model_inputs(data, contract, seq_scaler, snap_scaler, cfg.seq_len).to(device)
    data_sha256 = sha256_file(cfg.data)
    fingerprint = run_fingerprint(cfg, data_sha256, meta)

    set_seed(cfg.seed)
    model_cfg = EntryV10Config(
        n_seq_features=len(contract["seq_features"]), n_snap_features=len(contract["snap_features"]), seq_len=cfg.seq_len,
        use_context=cfg.context_features_enabled,
        ctx_cat_cardinalities=[c["cardinality"] for c in contract["ctx_cat_features"]] if cfg.context_features_enabled else [],
        n_ctx_cont=len(contract["ctx_cont_features"]) if cfg.context_features_enabled else 0)
    model = EntryV10Model(model_cfg)
    if model_cfg.use_context:  # standardise continuous context with training-row statistics (saved in the weights)
        cont = inputs.ctx_cont[torch.from_numpy(train_rows).to(device)].double()
        model.ctx_cont_mean.copy_(cont.mean(0).float())
        model.ctx_cont_std.copy_(cont.std(0).clamp_min(1e-6).float())
    model.to(device)
    optimizer = make_optimizer(model, cfg.learning_rate, cfg.weight_decay)

    out_dir = Path(cfg.out_dir)
    report_dir = Path(cfg.report_dir or cfg.out_dir)
    checkpoint_path = out_dir / "checkpoints" / CHECKPOINT_NAME
    bundle_files.remove_bundle_files(out_dir)  # a stale bundle must never look like this run's result
    steps_per_epoch = (len(train_rows) + cfg.batch_size - 1) // cfg.batch_size
    total_steps = steps_per_epoch * cfg.epochs
    history: list[dict] = []
    step_rows: list[dict] = []
    first_epoch = 0
    resumed = load_checkpoint(checkpoint_path, fingerprint)
    if resumed:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        random.setstate(resumed["rng"]["python"])
        np.random.set_state(resumed["rng"]["numpy"])
        torch.set_rng_state(resumed["rng"]["torch"])
        if device.type == "cuda" and resumed["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(resumed["rng"]["cuda"])
        first_epoch, history, step_rows = resumed["epoch"], resumed["history"], resumed["step_rows"]
        log.line(f"resumed from {checkpoint_path}: {first_epoch} of {cfg.epochs} epochs done")

    variant = "v10_ctx" if cfg.context_features_enabled else "v10"
    log.line(f"entry_v10 training | variant {variant} | device {device} | threads {threads} | "
             f"params {sum(p.numel() for p in model.parameters()):,}")
    log.line(f"data {cfg.data}: {counts['rows_used']} rows used of {counts['dataset_rows']}, {counts['eligible_rows']} eligible "
             f"(rate {counts['eligibility_rate']:.4f}), {counts['train_samples']} train / {counts['val_samples']} val samples")
    log.line(f"feature contract hash {feature_hash} | {steps_per_epoch} steps/epoch x {cfg.epochs} epochs, batch {cfg.batch_size}")

    loop_seconds = sum(e["wall_clock_s"] for e in history)
    samples_done = sum(e["samples"] for e in history)
    resumed_seconds = loop_seconds
    model.train()
    for epoch in range(first_epoch, cfg.epochs):
        epoch_start = time.perf_counter()
        order = torch.from_numpy(epoch_order(train_rows, cfg.seed, epoch)).to(device)
        stats = StepStats()
        window_start, window_samples = time.perf_counter(), 0
        for step_in_epoch in range(steps_per_epoch):
            global_step = epoch * steps_per_epoch + step_in_epoch + 1
            rows = order[step_in_epoch * cfg.batch_size:(step_in_epoch + 1) * cfg.batch_size]
            values, grad_norm, y_dir_mean = train_step(model, optimizer, inputs, rows, cfg.grad_clip, global_step)
            stats.add(values, grad_norm, y_dir_mean, len(rows))
            step_rows.append({"step": global_step, "epoch": epoch + 1, "loss": values["total"],
                              **{f"loss_{k}": values[k] for k in ("direction", "early_move", "quality")}, "grad_norm": grad_norm})
            window_samples += len(rows)
            if global_step % cfg.log_every == 0 or step_in_epoch == steps_per_epoch - 1:
                now = time.perf_counter()
                rate = window_samples / max(now - window_start, 1e-9)
                elapsed = loop_seconds + (now - epoch_start)
                done = samples_done + stats.samples
                eta = elapsed / max(done, 1) * (total_steps * cfg.batch_size - done) if done else 0.0
                log.line(f"step {global_step}/{total_steps} | epoch {epoch + 1} | loss {values['total']:.4f} "
                         f"dir {values['direction']:.4f} early {values['early_move']:.4f} quality {values['quality']:.4f} "
                         f"| grad {grad_norm:.3f} | {rate:.0f} samples/s | ETA {_duration(eta)}")
                window_start, window_samples = now, 0
        wall = time.perf_counter() - epoch_start
        loop_seconds += wall
        samples_done += stats.samples
        summary = epoch_summary(epoch + 1, stats, wall)
        if len(val_rows):
            summary.update(evaluate(model, inputs, val_rows, device))
        history.append(summary)
        remaining = (loop_seconds - resumed_seconds) / (epoch + 1 - first_epoch) * (cfg.epochs - epoch - 1)
        val_text = f" | val loss {summary['val_loss']:.4f} auc {summary['val_direction_auc']:.4f}" if len(val_rows) else ""
        log.line(f"epoch {epoch + 1}/{cfg.epochs} done | loss {summary['loss_mean']:.4f} (dir {summary['loss_direction_mean']:.4f} "
                 f"early {summary['loss_early_move_mean']:.4f} quality {summary['loss_quality_mean']:.4f}) | grad mean "
                 f"{summary['grad_norm_mean']:.3f} p95 {summary['grad_norm_p95']:.3f} max {summary['grad_norm_max']:.3f} | "
                 f"y_dir_mean {summary['y_dir_mean']:.4f} | {wall:.1f}s, {summary['throughput_samples_per_s']:.0f} samples/s"
                 f"{val_text} | progress {100.0 * (epoch + 1) / cfg.epochs:.0f}% ETA {_duration(remaining)}")
        save_checkpoint(checkpoint_path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
            "global_step": (epoch + 1) * steps_per_epoch, "fingerprint": fingerprint, "history": history, "step_rows": step_rows,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None}})
        if os.environ.get("GX1_TEST_KILL_AFTER_EPOCH") == str(epoch + 1):  # test hook: simulate a kill here
            log.line(f"test hook: killed after epoch {epoch + 1}")
            log.flush()
            os._exit(137)

    metrics = build_metrics(cfg, counts, history, step_rows, loop_seconds, samples_done, time.perf_counter() - started,
                            feature_hash, variant, threads, str(device))
    _write_reports(report_dir, metrics, step_rows)
    log.line(f"done: {samples_done} samples in {loop_seconds:.1f}s ({metrics['avg_throughput_samples_per_s']:.0f} samples/s), "
             f"peak memory {metrics['peak_memory_mb']:.0f} MB | feature contract hash {feature_hash}")
    for name, passed in metrics["success_criteria"].items():
        log.line(f"criterion {name}: {'PASS' if passed else 'FAIL'}")
    failed = [name for name, passed in metrics["success_criteria"].items() if not passed]
    if failed:  # a run that failed the plan's criteria leaves no bundle that could be mistaken for a result
        raise CheckFailed(f"success criteria failed: {', '.join(failed)}; no bundle written "
                          f"(metrics in {report_dir / 'metrics.json'})")
    model.eval()
    bundle_files.write_bundle(out_dir, model, model_cfg, train_config=asdict(cfg), meta_path=cfg.feature_meta_path,
                              seq_scaler_path=cfg.seq_scaler_path, snap_scaler_path=cfg.snap_scaler_path,
                              inputs=inputs, golden_rows=train_rows[:: max(1, len(train_rows) // 8)][:8],
                              times=data["time"], environment=bundle_files.environment_facts(device, threads))
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    log.line(f"bundle written: {out_dir}")
    return metrics


LOSS_STABLE_TOLERANCE = 0.05  # "stabilises": the last loss is at most 5% above the first


def loss_trend(history: list[dict], step_rows: list[dict]) -> tuple[float, float, str]:
    """(first, last, basis): epoch mean losses with 2+ epochs, else the means of the first and last quarter of steps."""
    if len(history) >= 2:
        return history[0]["loss_mean"], history[-1]["loss_mean"], "epoch_mean"
    quarter = max(1, len(step_rows) // 4)
    return (float(np.mean([r["loss"] for r in step_rows[:quarter]])),
            float(np.mean([r["loss"] for r in step_rows[-quarter:]])), "quarter_of_steps_mean")


def build_metrics(cfg: TrainConfig, counts: dict, history: list[dict], step_rows: list[dict], loop_seconds: float,
                  samples_done: int, total_seconds: float, feature_hash: str, variant: str, threads: int, device: str) -> dict:
    first, last = step_rows[0], step_rows[-1]
    loss_keys = ("loss", "loss_direction", "loss_early_move", "loss_quality")
    early_mean, late_mean, basis = loss_trend(history, step_rows)
    all_values = np.array([[r[k] for k in loss_keys + ("grad_norm",)] for r in step_rows])
    criteria = {
        "loss_decreases_or_stabilises": late_mean <= early_mean * (1.0 + LOSS_STABLE_TOLERANCE),
        "no_nan_inf": bool(np.isfinite(all_values).all()),
        "eligibility_rate_in_range": 0.1 < counts["eligibility_rate"] < 0.99,
    }
    return {
        "model_variant": variant,
        "feature_contract_hash": feature_hash,
        "first_step_losses": {k: first[k] for k in loss_keys},
        "last_step_losses": {k: last[k] for k in loss_keys},
        "loss_trend": {"basis": basis, "first": early_mean, "last": late_mean, "tolerance": LOSS_STABLE_TOLERANCE},
        "mean_grad_norm": float(np.mean([r["grad_norm"] for r in step_rows])),
        "dataset_len": counts["train_samples"],
        "val_samples": counts["val_samples"],
        "dataset_rows": counts["dataset_rows"],
        "rows_used": counts["rows_used"],
        "eligible_rows": counts["eligible_rows"],
        "eligibility_rate": counts["eligibility_rate"],
        "epochs": cfg.epochs,
        "steps": len(step_rows),
        "total_wall_clock_s": total_seconds,
        "train_loop_s": loop_seconds,
        "avg_throughput_samples_per_s": samples_done / max(loop_seconds, 1e-9),
        "peak_memory_mb": peak_memory_mb(),
        "peak_gpu_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
        "num_threads": threads,
        "device": device,
        "per_epoch": history,
        "success_criteria": criteria,
    }


# Figures that differ between two runs with the same inputs (wall clock, speed, memory).
RUN_VARYING_KEYS = ("total_wall_clock_s", "train_loop_s", "avg_throughput_samples_per_s", "peak_memory_mb", "peak_gpu_memory_mb",
                    "wall_clock_s", "throughput_samples_per_s")


def reproducible_part(metrics: dict) -> dict:
    """metrics.json without its run-varying figures: a pure function of inputs, params and environment."""
    stable = {k: v for k, v in metrics.items() if k not in RUN_VARYING_KEYS}
    stable["per_epoch"] = [{k: v for k, v in e.items() if k not in RUN_VARYING_KEYS} for e in metrics["per_epoch"]]
    return stable


def _write_reports(report_dir: Path, metrics: dict, step_rows: list[dict]) -> None:
    """metrics.json (every figure) and reproducible_metrics.json + loss curves (byte-stable, tracked by DVC)."""
    write_json(report_dir / "metrics.json", metrics)
    stable = reproducible_part(metrics)
    write_json(report_dir / "reproducible_metrics.json", stable)
    _write_tsv_rows(report_dir / "train_steps.tsv", step_rows)
    _write_tsv_rows(report_dir / "train_epochs.tsv", stable["per_epoch"])


def _write_tsv_rows(path: Path, rows: list[dict]) -> None:
    write_tsv(path, {key: [_tsv_value(row.get(key)) for row in rows] for key in rows[0]})


def _tsv_value(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    log = RunLogger(Path(cfg.report_dir or cfg.out_dir) / "run_log.txt")
    try:
        train(cfg, log)
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    run_cli(main)
