"""Training telemetry and reports: the run log, per-step accumulators, epoch summaries, the run history,
the metrics (every figure the plan asks of a run) and the report files written from them.

metrics.json holds every figure, wall clock and memory included; reproducible_metrics.json the same
without run-varying figures (byte-stable: the file DVC tracks); train_steps.tsv / train_epochs.tsv
are the loss curves for ``dvc plots``.
"""
from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gx1.common import pretty_json, tsv_bytes


class RunLogger:
    """Print lines to stdout and append them, flushed line by line, to ``run_log.txt.partial`` beside ``path``.

    The finished log becomes ``run_log.txt`` only as part of the run's report set (``text()``); a failed
    run leaves its ``.partial`` and never touches the previous ``run_log.txt``. Writing beside (not into)
    ``run_log.txt`` also keeps the log intact when the console is piped through ``tee`` into that file,
    as the plan's command does.
    """

    def __init__(self, path: Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled  # False on torchrun ranks other than 0: lines are kept, nothing is printed or written
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._lines: list[str] = []
        self._fh = None

    def line(self, text: str) -> None:
        self._lines.append(text)
        if not self.enabled:
            return
        print(text, flush=True)
        if self._fh is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.partial, "w", encoding="utf-8", buffering=1)  # line-buffered: a kill loses no line
        self._fh.write(text + "\n")

    def text(self) -> str:
        return "".join(line + "\n" for line in self._lines)

    def close(self, finished: bool) -> None:
        """Close the file; a finished run's partial log is removed (its text went into the report set)."""
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if finished and self.enabled:
            self.partial.unlink(missing_ok=True)


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


@dataclass
class RunHistory:
    """What a run did so far: epoch summaries, one row per optimizer step, time and samples in the loop.
    Saved in checkpoints (plain lists and numbers), so a resumed run reports the whole run."""

    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def loop_seconds(self) -> float:
        return float(sum(e["wall_clock_s"] for e in self.epochs))

    @property
    def samples(self) -> int:
        return int(sum(e["samples"] for e in self.epochs))


LOSS_KEYS = ("loss", "loss_direction", "loss_early_move", "loss_quality")
LOSS_STABLE_TOLERANCE = 0.05  # "stabilises": the last loss is at most 5% above the first
# Figures that differ between two runs with the same inputs (wall clock, speed, memory, the machine, and the
# thread count: `num_threads 0` takes a share of the cores that depends on the gx1 runs seen at start, and
# portable mode's bytes do not depend on it; native mode records it in the bundle's environment).
RUN_VARYING_KEYS = ("total_wall_clock_s", "train_loop_s", "avg_throughput_samples_per_s", "peak_memory_mb", "peak_gpu_memory_mb",
                    "wall_clock_s", "throughput_samples_per_s", "machine", "num_threads")


def loss_trend(run: RunHistory) -> tuple[float, float, str]:
    """(first, last, basis): epoch mean losses with 2+ epochs, else the means of the first and last quarter of steps."""
    if len(run.epochs) >= 2:
        return run.epochs[0]["loss_mean"], run.epochs[-1]["loss_mean"], "epoch_mean"
    quarter = max(1, len(run.steps) // 4)
    return (float(np.mean([r["loss"] for r in run.steps[:quarter]])),
            float(np.mean([r["loss"] for r in run.steps[-quarter:]])), "quarter_of_steps_mean")


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_metrics(run: RunHistory, counts: dict, facts: dict, total_seconds: float) -> dict:
    """metrics.json: the plan's figures and success criteria; ``facts`` adds what the trainer knows
    (variant, contract hash, epochs, threads, device, machine, peak GPU memory)."""
    first, last = run.steps[0], run.steps[-1]
    early_mean, late_mean, basis = loss_trend(run)
    all_values = np.array([[r[k] for k in LOSS_KEYS + ("grad_norm",)] for r in run.steps])
    criteria = {
        "loss_decreases_or_stabilises": bool(late_mean <= early_mean * (1.0 + LOSS_STABLE_TOLERANCE)),
        "no_nan_inf": bool(np.isfinite(all_values).all()),
        "eligibility_rate_in_range": 0.1 < counts["eligibility_rate"] < 0.99,
    }
    return {
        **facts,
        "first_step_losses": {k: first[k] for k in LOSS_KEYS},
        "last_step_losses": {k: last[k] for k in LOSS_KEYS},
        "loss_trend": {"basis": basis, "first": early_mean, "last": late_mean, "tolerance": LOSS_STABLE_TOLERANCE},
        "mean_grad_norm": float(np.mean([r["grad_norm"] for r in run.steps])),
        "dataset_len": counts["train_samples"], "val_samples": counts["val_samples"], "dataset_rows": counts["dataset_rows"],
        "rows_used": counts["rows_used"], "eligible_rows": counts["eligible_rows"], "eligibility_rate": counts["eligibility_rate"],
        "steps": len(run.steps),
        "total_wall_clock_s": total_seconds,
        "train_loop_s": run.loop_seconds,
        "avg_throughput_samples_per_s": run.samples / max(run.loop_seconds, 1e-9),
        "peak_memory_mb": peak_memory_mb(),
        "per_epoch": run.epochs,
        "success_criteria": criteria,
    }


def reproducible_part(metrics: dict) -> dict:
    """metrics.json without its run-varying figures: a pure function of inputs, params and environment."""
    stable = {k: v for k, v in metrics.items() if k not in RUN_VARYING_KEYS}
    stable["per_epoch"] = [{k: v for k, v in e.items() if k not in RUN_VARYING_KEYS} for e in metrics["per_epoch"]]
    return stable


TIMING_FILES = ("metrics.json", "run_log.txt")  # the reports that differ between two runs with the same inputs
# Output ownership (gx1.outputs): the command named in the markers of the trainer's folders, and the files a run
# writes straight into its timing folder before its set is swapped in (claimed first: the folder must be ours)
OUTPUT_COMMAND = "gx1.models.entry_v10.entry_v10_ctx_train"
LOOSE_FILES = ("run_log.txt.partial", "metrics.json.failed")


def headline(metrics: dict) -> dict:
    """summary.json: the few numbers a person compares between runs (what `dvc metrics diff` lists)."""
    last = metrics["per_epoch"][-1]
    figures = {"train_loss": metrics["loss_trend"]["last"], "val_direction_auc": last.get("val_direction_auc"),
               "val_early_move_auc": last.get("val_early_move_auc"), "val_quality_corr": last.get("val_quality_corr"),
               "heads_learned": sum(h["learned"] for h in metrics["heads"].values()), "epochs": metrics["epochs"],
               "train_samples": metrics["dataset_len"]}
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in figures.items()
            if v is not None and not (isinstance(v, float) and v != v)}


def report_files(metrics: dict, run: RunHistory, log_text: str) -> dict[str, bytes]:
    """The report set of a finished run: summary.json, metrics.json, reproducible_metrics.json, the curves, run_log.txt."""
    stable = reproducible_part(metrics)
    return {"summary.json": pretty_json(headline(metrics)).encode(),
            "metrics.json": pretty_json(metrics).encode(), "reproducible_metrics.json": pretty_json(stable).encode(),
            "train_steps.tsv": _tsv(run.steps), "train_epochs.tsv": _tsv(stable["per_epoch"]),
            "run_log.txt": log_text.encode()}


def _tsv(rows: list[dict]) -> bytes:
    return tsv_bytes({key: [_tsv_value(row.get(key)) for row in rows] for key in rows[0]})


def _tsv_value(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


HEADS = ("direction", "early_move", "quality")


def constant_baselines(labels: np.ndarray, huber_delta: float) -> dict[str, float]:
    """Each head's loss when it predicts one constant, the best one, for these (n, 3) labels: the entropy of
    the label rate for the two classifiers, the Huber loss at the better of median and mean for quality."""
    def entropy(y: np.ndarray) -> float:
        p = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
        return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))

    def huber(residual: np.ndarray) -> float:
        a = np.abs(residual)
        return float(np.mean(np.where(a <= huber_delta, 0.5 * a * a, huber_delta * (a - 0.5 * huber_delta))))
    quality = labels[:, 2].astype(np.float64)
    return {"direction": entropy(labels[:, 0]), "early_move": entropy(labels[:, 1]),
            "quality": min(huber(quality - np.median(quality)), huber(quality - quality.mean()))}


def head_learning(run: RunHistory, baselines: dict[str, float], source: str) -> dict:
    """Per head: its loss (validation when there is one, else the last epoch's training mean) against the
    constant baseline; ``learned`` is false when the loss is not below the baseline by more than the noise
    (two standard errors of the last epoch's step losses, at least 0.1% of the baseline)."""
    last_epoch = run.epochs[-1]["epoch"]
    result = {}
    for head in HEADS:
        steps = np.array([r[f"loss_{head}"] for r in run.steps if r["epoch"] == last_epoch])
        loss = run.epochs[-1].get(f"val_loss_{head}", float(steps.mean()))
        noise = max(2 * float(steps.std(ddof=1)) / np.sqrt(len(steps)) if len(steps) > 1 else 0.0, 1e-3 * baselines[head])
        result[head] = {"loss": float(loss), "constant_baseline": baselines[head], "noise": noise,
                        "learned": bool(loss < baselines[head] - noise), "on": source}
    return result
