"""Training telemetry: a run log mirrored to the console, per-step accumulators, epoch summaries."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class RunLogger:
    """Print lines to stdout and to ``path``; the file is written as ``path.partial`` and moved into place on close.

    Writing beside (not into) ``run_log.txt`` keeps the log intact when the console output is
    also piped through ``tee`` into the same file, as the plan's command does.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._fh = open(self.partial, "w", encoding="utf-8")

    def line(self, text: str) -> None:
        print(text, flush=True)
        self._fh.write(text + "\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
            os.replace(self.partial, self.path)


class StepStats:
    """Accumulates per-step losses, gradient norms and label balance within an epoch."""

    def __init__(self) -> None:
        self.losses: dict[str, list[float]] = {"total": [], "direction": [], "early_move": [], "quality": []}
        self.grad_norms: list[float] = []
        self.y_dir_sum = 0.0
        self.samples = 0

    def add(self, losses: dict[str, float], grad_norm: float, y_dir_mean: float, batch: int) -> None:
        for key in self.losses:
            self.losses[key].append(losses[key])
        self.grad_norms.append(grad_norm)
        self.y_dir_sum += y_dir_mean * batch
        self.samples += batch


def epoch_summary(epoch: int, stats: StepStats, wall_seconds: float) -> dict:
    grad = np.asarray(stats.grad_norms)
    return {
        "epoch": epoch,
        "loss_mean": float(np.mean(stats.losses["total"])),
        "loss_direction_mean": float(np.mean(stats.losses["direction"])),
        "loss_early_move_mean": float(np.mean(stats.losses["early_move"])),
        "loss_quality_mean": float(np.mean(stats.losses["quality"])),
        "grad_norm_mean": float(grad.mean()),
        "grad_norm_p95": float(np.percentile(grad, 95)),
        "grad_norm_max": float(grad.max()),
        "y_dir_mean": stats.y_dir_sum / max(stats.samples, 1),
        "samples": stats.samples,
        "steps": len(grad),
        "wall_clock_s": wall_seconds,
        "throughput_samples_per_s": stats.samples / max(wall_seconds, 1e-9),
    }
