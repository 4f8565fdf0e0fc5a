"""One entry_v10 training run, top to bottom: load inputs -> build model -> training loop -> finish.

    from gx1.models.entry_v10.entry_v10_ctx_train import parse_args
    from gx1.training.run import run
    metrics = run(parse_args([...the plan's flags...]))

Where to look: ``train_step`` is one optimizer step, ``train_epoch`` one pass over the data,
``finish`` the metrics, reports and bundle; ``gx1.training.checkpoint`` saves and resumes. Everything
the run reads is checked before anything is written (``gx1.training.run_inputs``); outputs are
built in staging folders and swapped in complete (``gx1.common.swap_in_folder``).
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from gx1.bundle import config as bundle_config, write as bundle_write
from gx1.bundle.limits import BundleError
from gx1.common import CheckFailed, InputError, atomic_write_bytes
from gx1.contract import contract_hash
from gx1.cpu import auto_threads, machine_facts
from gx1.models.entry_v10.inputs import ModelInputs, epoch_order, gather_batch, predict_rows
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
from gx1.models.entry_v10.variant import variant_name
from gx1.outputs import claim, swap_in_folder
from gx1.training import distributed
from gx1.training.checkpoint import resume, save_checkpoint
from gx1.training.config import RESULT_NEUTRAL_FIELDS, TrainConfig
from gx1.training.distributed import World
from gx1.training.run_inputs import (
    RunInputs, bundle_only, check_outputs, checkpoint_path, load_inputs, run_id, timing_path,
)
from gx1.training.telemetry import (
    LOOSE_FILES, OUTPUT_COMMAND, TIMING_FILES, RunHistory, RunLogger, StepStats, build_metrics, constant_baselines, duration,
    epoch_summary, head_learning, report_files,
)

FAULT_ENV = "GX1_FAULT_KILL_AFTER_EPOCH"  # fault-injection point (module docstring of entry_v10_ctx_train)


# ----------------------------------------------------------------------------- build model


def model_config_for(contract: dict, seq_len: int, use_context: bool) -> EntryV10Config:
    """The model config a contract implies (feature counts, context cardinalities when context is on)."""
    return EntryV10Config(
        n_seq_features=len(contract["seq_features"]), n_snap_features=len(contract["snap_features"]), seq_len=seq_len,
        use_context=use_context, ctx_cat_cardinalities=[c["cardinality"] for c in contract["ctx_cat_features"]] if use_context
        else [], n_ctx_cont=len(contract["ctx_cont_features"]) if use_context else 0)


def set_seed(seed: int) -> None:
    """One seed for python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(cfg: TrainConfig, run_inputs: RunInputs, device: torch.device) -> tuple[EntryV10Model, torch.optim.Optimizer]:
    """The seeded model (continuous context standardised with training-row statistics) and its AdamW optimizer."""
    set_seed(cfg.seed)
    model_cfg = model_config_for(run_inputs.contract, cfg.seq_len, cfg.context_features_enabled)
    try:  # the bundle's limits (verify, replay and gx1.bundle refuse a bundle beyond them): refused before training
        bundle_config.config_from_dict(model_cfg.to_dict())
    except BundleError as exc:
        raise InputError(f"{exc}: its bundle could not be verified; lower --seq_len") from None
    model = EntryV10Model(model_cfg)
    if model.cfg.use_context:  # the statistics are buffers, saved with the weights; numpy's sums do not depend on
        cont = run_inputs.inputs.ctx_cont.cpu().numpy()[run_inputs.train_rows].astype(np.float64)  # torch's thread count
        model.ctx_cont_mean.copy_(torch.from_numpy(cont.mean(0)).float())
        model.ctx_cont_std.copy_(torch.from_numpy(np.maximum(cont.std(0, ddof=1), 1e-6)).float())
    model.to(device)
    return model, make_optimizer(model, cfg.learning_rate, cfg.weight_decay)


def make_optimizer(model: EntryV10Model, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with the fused kernel (one call per step instead of one per parameter tensor)."""
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)


# ----------------------------------------------------------------------------- training loop


LOSS_NAMES = ("total", "direction", "early_move", "quality")


def train_step(model: EntryV10Model, optimizer: torch.optim.Optimizer, inputs: ModelInputs, rows: torch.Tensor,
               grad_clip: float, step: int, world: World = World(), forward: torch.nn.Module | None = None,
               ) -> tuple[dict[str, float], float, float]:
    """One optimizer step on the batch ``rows``: (loss values per head and total, gradient norm, y_dir mean).

    Under torchrun ``rows`` is the global batch: this rank trains on its shard through ``forward`` (the
    DDP wrapper), and the returned figures are those of the global batch, the same on every rank.
    Raises CheckFailed naming the step and the head (or parameter) on a non-finite loss or gradient,
    before the optimizer touches the weights.
    """
    local = distributed.shard(rows, world)
    seq, snap, ctx_cat, ctx_cont, labels = gather_batch(inputs, local)
    outputs = (forward or model)(seq, snap, ctx_cat, ctx_cont)
    losses = model.losses(outputs, labels[:, 0], labels[:, 1], labels[:, 2])
    if world.active:  # DDP averages the ranks' gradients: weight each by its share of the global batch
        objective = losses["total"] * (len(local) * world.size / len(rows)) if len(local) else outputs.sum() * 0.0
        sums = torch.stack([losses[k].detach() * len(local) if len(local) else losses[k].new_zeros(())
                            for k in LOSS_NAMES] + [labels[:, 0].sum()]).double()
        sums = distributed.all_sum(sums, world) / len(rows)
        values, y_dir_mean = dict(zip(LOSS_NAMES, sums[:-1].tolist())), sums[-1].item()
    else:
        objective, values, y_dir_mean = losses["total"], {k: v.item() for k, v in losses.items()}, None
    for head in ("direction", "early_move", "quality"):
        if not math.isfinite(values[head]):
            raise CheckFailed(f"non-finite {head} loss ({values[head]}) at step {step}: training stopped, no bundle written")
    optimizer.zero_grad(set_to_none=True)
    objective.backward()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]  # model.parameters(), without walking the modules
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip if grad_clip else float("inf")).item()
    if not math.isfinite(grad_norm):
        bad = next(n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all())
        raise CheckFailed(f"non-finite gradient at step {step} (first in {bad}): training stopped, no bundle written")
    optimizer.step()
    return values, grad_norm, labels[:, 0].mean().item() if y_dir_mean is None else y_dir_mean


def train_epoch(model: EntryV10Model, optimizer: torch.optim.Optimizer, cfg: TrainConfig, run_inputs: RunInputs, epoch: int,
                history: RunHistory, log: RunLogger, world: World = World(), forward: torch.nn.Module | None = None) -> dict:
    """One pass over the training rows in the epoch's seeded order (each global batch sharded over the
    ranks under torchrun); returns the epoch summary."""
    device = run_inputs.inputs.seq.device
    order = torch.from_numpy(epoch_order(run_inputs.train_rows, cfg.seed, epoch)).to(device)
    steps_per_epoch = -(-len(run_inputs.train_rows) // cfg.batch_size)
    total_samples = len(run_inputs.train_rows) * cfg.epochs
    stats, started = StepStats(), time.perf_counter()
    window_start, window_samples = started, 0
    for step_in_epoch in range(steps_per_epoch):
        step = epoch * steps_per_epoch + step_in_epoch + 1
        rows = order[step_in_epoch * cfg.batch_size:(step_in_epoch + 1) * cfg.batch_size]
        values, grad_norm, y_dir_mean = train_step(model, optimizer, run_inputs.inputs, rows, cfg.grad_clip, step, world,
                                                   forward)
        stats.add(values, grad_norm, y_dir_mean, len(rows))
        history.steps.append({"step": step, "epoch": epoch + 1, "loss": values["total"],
                              **{f"loss_{k}": values[k] for k in ("direction", "early_move", "quality")}, "grad_norm": grad_norm})
        window_samples += len(rows)
        if step % cfg.log_every == 0 or step_in_epoch == steps_per_epoch - 1:
            now = time.perf_counter()
            done, elapsed = history.samples + stats.samples, history.loop_seconds + (now - started)
            eta = elapsed / max(done, 1) * (total_samples - done)
            log.line(f"step {step}/{steps_per_epoch * cfg.epochs} | epoch {epoch + 1} | loss {values['total']:.4f} "
                     f"dir {values['direction']:.4f} early {values['early_move']:.4f} quality {values['quality']:.4f} "
                     f"| grad {grad_norm:.3f} | {window_samples / max(now - window_start, 1e-9):.0f} samples/s "
                     f"| ETA {duration(eta)}")
            window_start, window_samples = now, 0
    summary = epoch_summary(epoch + 1, stats, time.perf_counter() - started)
    if len(run_inputs.val_rows) and world.is_main:  # only rank 0 reports
        summary.update(evaluate(model, run_inputs.inputs, run_inputs.val_rows))
    return summary


def evaluate(model: EntryV10Model, inputs: ModelInputs, rows: np.ndarray) -> dict:
    """Validation losses, direction and early-move AUC, and the quality head's correlation with y_quality (no
    gradient, model in eval mode): the replay's model-quality figures, on the validation window."""
    from sklearn.metrics import roc_auc_score
    model.eval()
    out = predict_rows(model, inputs, rows)
    model.train()
    y = inputs.labels[torch.from_numpy(rows).to(inputs.labels.device)]
    losses = {k: float(v) for k, v in model.losses(out, y[:, 0], y[:, 1], y[:, 2]).items()}
    y_dir, y_early, y_quality = (y[:, i].double().cpu().numpy() for i in range(3))
    scores = out.double().cpu().numpy()

    def auc(labels: np.ndarray, column: int) -> float:
        return float(roc_auc_score(labels, scores[:, column])) if 0 < labels.mean() < 1 else float("nan")
    spread = scores[:, 2].std() * y_quality.std()
    return {"val_loss": losses["total"], "val_loss_direction": losses["direction"], "val_loss_early_move": losses["early_move"],
            "val_loss_quality": losses["quality"], "val_direction_auc": auc(y_dir, 0), "val_early_move_auc": auc(y_early, 1),
            "val_quality_corr": float(np.corrcoef(scores[:, 2], y_quality)[0, 1]) if spread > 0 else float("nan")}


def log_epoch(log: RunLogger, summary: dict, cfg: TrainConfig, history: RunHistory, resumed_epochs: int) -> None:
    epoch = summary["epoch"]
    fresh_seconds = sum(e["wall_clock_s"] for e in history.epochs[resumed_epochs:])
    remaining = fresh_seconds / max(epoch - resumed_epochs, 1) * (cfg.epochs - epoch)
    val_text = f" | val loss {summary['val_loss']:.4f} auc {summary['val_direction_auc']:.4f}" if "val_loss" in summary else ""
    log.line(f"epoch {epoch}/{cfg.epochs} done | loss {summary['loss_mean']:.4f} (dir {summary['loss_direction_mean']:.4f} "
             f"early {summary['loss_early_move_mean']:.4f} quality {summary['loss_quality_mean']:.4f}) | grad mean "
             f"{summary['grad_norm_mean']:.3f} p95 {summary['grad_norm_p95']:.3f} max {summary['grad_norm_max']:.3f} | "
             f"y_dir_mean {summary['y_dir_mean']:.4f} | {summary['wall_clock_s']:.1f}s, "
             f"{summary['throughput_samples_per_s']:.0f} samples/s{val_text} | progress {100.0 * epoch / cfg.epochs:.0f}% "
             f"ETA {duration(remaining)}")


# ----------------------------------------------------------------------------- finish


def finish(cfg: TrainConfig, model: EntryV10Model, run_inputs: RunInputs, history: RunHistory, log: RunLogger,
           facts: dict, started: float) -> dict:
    """Metrics and criteria; on success the bundle and the reports, each swapped in as a complete set."""
    rows = run_inputs.val_rows if len(run_inputs.val_rows) else run_inputs.train_rows
    baselines = constant_baselines(run_inputs.inputs.labels[torch.from_numpy(rows).to(run_inputs.inputs.labels.device)]
                                   .cpu().numpy(), model.cfg.huber_delta)
    facts["heads"] = head_learning(history, baselines, "validation" if len(run_inputs.val_rows) else "training (last epoch)")
    metrics = build_metrics(history, run_inputs.counts, facts, time.perf_counter() - started)
    for head, verdict in facts["heads"].items():
        log.line(f"head {head}: loss {verdict['loss']:.4f} vs constant baseline {verdict['constant_baseline']:.4f} on "
                 f"{verdict['on']} -> {'learned' if verdict['learned'] else 'LEARNED NOTHING (within noise of a constant)'}")
    log.line(f"done: {history.samples} samples in {history.loop_seconds:.1f}s "
             f"({metrics['avg_throughput_samples_per_s']:.0f} samples/s), peak memory {metrics['peak_memory_mb']:.0f} MB "
             f"| feature contract hash {facts['feature_contract_hash']}")
    for name, passed in metrics["success_criteria"].items():
        log.line(f"criterion {name}: {'PASS' if passed else 'FAIL'}")
    out_dir, report_dir = Path(cfg.out_dir), Path(cfg.report_dir or cfg.out_dir)
    timing_dir = timing_path(cfg, run_inputs.fingerprint)
    failed = [name for name, passed in metrics["success_criteria"].items() if not passed]
    if failed:  # a run that failed the plan's criteria replaces nothing: its figures go beside the old reports
        atomic_write_bytes(timing_dir / "metrics.json.failed", report_files(metrics, history, "")["metrics.json"])
        raise CheckFailed(f"success criteria failed: {', '.join(failed)}; no bundle written, nothing replaced "
                          f"(metrics in {timing_dir / 'metrics.json.failed'}, log in {log.partial})")
    model.eval()
    log.line(f"bundle written: {out_dir}")
    golden_rows = run_inputs.train_rows[:: max(1, len(run_inputs.train_rows) // 8)][:8]
    knobs = {k: v for k, v in cfg.knobs().items() if k not in RESULT_NEUTRAL_FIELDS}  # what the weights depend on
    times = run_inputs.data["time"][run_inputs.train_rows[[0, -1]]].astype("datetime64[s]")
    training_rows = {"count": len(run_inputs.train_rows), "first_time": f"{times[0]}Z", "last_time": f"{times[1]}Z"}
    golden = bundle_write.golden_sample(model, run_inputs.inputs, golden_rows, run_inputs.data["time"])
    environment = bundle_write.environment_facts(torch.device(facts["device"]), facts["num_threads"], facts["world_size"])
    files = bundle_write.bundle_file_bytes(model, knobs, run_inputs.meta_blob, run_inputs.seq_blob, run_inputs.snap_blob,
                                           golden, environment, training_rows)
    reports = report_files(metrics, history, log.text())
    if cfg.timing_dir:  # the run-varying reports go to this run's own folder, the report_dir keeps the byte-stable ones
        swap_in_folder(timing_dir, lambda staging: _write_all(staging, {n: reports.pop(n) for n in TIMING_FILES}),
                       OUTPUT_COMMAND, also=LOOSE_FILES)
    swap_in_folder(out_dir, lambda staging: (bundle_write.write_bundle(staging, files),
                                             _write_all(staging, reports) if report_dir == out_dir else None),
                   OUTPUT_COMMAND, bundle_only, LOOSE_FILES)
    if report_dir != out_dir:
        swap_in_folder(report_dir, lambda staging: _write_all(staging, reports), OUTPUT_COMMAND, bundle_only, LOOSE_FILES)
    return metrics


def _write_all(directory: Path, files: dict[str, bytes]) -> None:
    for name, blob in files.items():
        atomic_write_bytes(directory / name, blob)


# ----------------------------------------------------------------------------- the run


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to torch (use --device cpu or auto)")
    return torch.device(name)


def run(cfg: TrainConfig) -> dict:
    """Check inputs and outputs, then train, checkpoint every epoch, finish. Returns the metrics (rank 0's
    under torchrun; the other ranks return an empty dict)."""
    started = time.perf_counter()
    check_outputs(cfg)
    world = distributed.world_from_env()
    device = distributed.start(world, resolve_device(cfg.device))
    try:
        return _train(cfg, world, device, started)
    finally:
        distributed.stop(world)


def _train(cfg: TrainConfig, world: World, device: torch.device, started: float) -> dict:
    torch.set_num_threads(cfg.num_threads or auto_threads())
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")  # CUDA attention backward has no deterministic kernel
    run_inputs = load_inputs(cfg, device, world)
    model, optimizer = build_model(cfg, run_inputs, device)
    if world.is_main:  # the partial log and a failed run's metrics go straight into this folder: it must be ours
        claim(timing_path(cfg, run_inputs.fingerprint), LOOSE_FILES, OUTPUT_COMMAND, bundle_only)
    log = RunLogger(timing_path(cfg, run_inputs.fingerprint) / "run_log.txt", enabled=world.is_main)
    finished = False
    try:
        path = checkpoint_path(cfg, run_inputs.fingerprint)
        history = resume(path, model, optimizer, run_inputs.fingerprint, world)
        resumed_epochs = len(history.epochs)
        facts = {"run_id": run_id(run_inputs.fingerprint), "model_variant": variant_name(cfg.context_features_enabled),
                 "feature_contract_hash": contract_hash(run_inputs.meta),
                 "epochs": cfg.epochs, "num_threads": torch.get_num_threads(), "device": str(device),
                 "world_size": world.size, "machine": machine_facts()}
        log_start(log, cfg, run_inputs, model, facts, path if resumed_epochs else None, resumed_epochs)
        model.train()
        forward = distributed.wrap(model, world)
        for epoch in range(resumed_epochs, cfg.epochs):
            history.epochs.append(train_epoch(model, optimizer, cfg, run_inputs, epoch, history, log, world, forward))
            log_epoch(log, history.epochs[-1], cfg, history, resumed_epochs)
            if world.is_main:
                save_checkpoint(path, model, optimizer, history, run_inputs.fingerprint)
            distributed.barrier(world)  # the checkpoint is on disk before any rank goes on (or is killed)
            if os.environ.get(FAULT_ENV) == str(epoch + 1):
                log.line(f"fault injection ({FAULT_ENV}): killed after epoch {epoch + 1}")
                os._exit(137)
        if not world.is_main:  # rank 0 alone writes metrics, reports and the bundle
            finished = True
            return {}
        facts["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
        metrics = finish(cfg, model, run_inputs, history, log, facts, started)
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()
        finished = True
        return metrics
    finally:
        log.close(finished)


def log_start(log: RunLogger, cfg: TrainConfig, run_inputs: RunInputs, model: EntryV10Model, facts: dict,
              resumed_from: Path | None, resumed_epochs: int) -> None:
    counts = run_inputs.counts
    if resumed_from is not None:
        log.line(f"resumed from {resumed_from}: {resumed_epochs} of {cfg.epochs} epochs done")
    processes = f" | {facts['world_size']} processes (DDP)" if facts["world_size"] > 1 else ""
    log.line(f"entry_v10 training | variant {facts['model_variant']} | device {facts['device']}{processes} | threads "
             f"{facts['num_threads']} | params {sum(p.numel() for p in model.parameters()):,}")
    log.line(f"data {cfg.data}: {counts['rows_used']} rows used of {counts['dataset_rows']}, {counts['eligible_rows']} eligible "
             f"(rate {counts['eligibility_rate']:.4f}), {counts['train_samples']} train / {counts['val_samples']} val samples")
    steps = -(-counts["train_samples"] // cfg.batch_size)
    log.line(f"feature contract hash {facts['feature_contract_hash']} | {steps} steps/epoch x {cfg.epochs} epochs, "
             f"batch {cfg.batch_size}")
