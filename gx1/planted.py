"""A learning check with a known answer: bars with a planted direction signal, the best
direction AUC any model of those bars can reach (known from the generating process, not from a model), the
one-bar linear reads beside it, and the entry_v10 model's AUC on held-out rows after the real trainer ran.

Run (from the repository root; one training of 4 epochs over about 30,800 samples; no DVC involved):
    python3 scripts/planted_check.py                              # achievable, baselines, model, seconds
    python3 scripts/planted_check.py --corrupt shift_label        # a negative control: must fall short
    python3 -c 'from gx1.planted import learning_check; print(learning_check("/tmp/planted"))'

The generating process (``generate_planted_bars``), in bar index u; the clock is gx1.synth's M5 calendar, which the
process ignores (its weekend gaps only make rows ineligible):
  * a marker m_u = +1 or -1 per bar, a fair coin, drawn into the bar's wicks: the lower wick is the long one
    (``WICKS[0] * SIGMA * open``) and the upper the short one (``WICKS[1] * SIGMA * open``) when m_u = +1, the
    other way round when m_u = -1; the wick lengths themselves never depend on the marker;
  * the planted signal s_t = m_{t - lag} (``signal="lag"``, the check), or m_{t - a} * m_{t - b} (``signal="xor"``:
    no linear read of the window finds it either); s_t = 0 until its lags exist;
  * log returns r_u = log(close_u / close_{u-1}) = edge * SIGMA * s_{u-1} + SIGMA * e_u, e_u iid N(0, 1);
    open_u = close_{u-1} (no gaps) and unrounded prices (no ties); volume and spread are independent noise.

The known answer. The planted dataset is built with ``horizon_bars`` 1 and ``early_bars`` 1, so y_dir_t =
[close_{t+1} > close_t] = [r_{t+1} > 0]; e_{t+1} is independent of every bar up to t, hence
P(y_dir_t = 1 | bars up to t) = Phi(edge * s_t): a function of s_t alone, increasing in it. s_t is therefore a
Bayes-optimal score: no model of the bars ranks the rows better. The check's yardstick, ``achievable_auc``, is the
AUC of s_t against the realised y_dir on the held-out rows (the rows the model is scored on); its population value
is Phi(edge) (``population_auc``: a +-1 score in equal shares with P(y = 1 | s) = Phi(edge * s) has AUC
P(y = 1 | s = +1)), 0.726 at the default edge 0.6.

Why it needs the sequence: m_{t - lag} is visible only in row t - lag's wick features (upper_wick_atr,
lower_wick_atr, close_pos_in_bar), which row t does not carry; ATR does not depend on it (a bar's two wick lengths
are the same either way), and the 48- and 288-bar high/low ranges of row t feel it only faintly. The one-bar
linear reads (``linear_references``, as gx1.learnability computes them: the ``ema_slope_12_atr`` logistic
baseline and the all-31-features logistic regression) stay near 0.5, while the model's 30-bar window holds the
marker.

The check (``learning_check``): bars -> dataset -> contract through the stage CLIs in a work folder, the trainer CLI
in a subprocess (the last ``holdout_days`` held out; the contract fitted without them), then on the held-out rows:
each baseline's lift over 0.5 must be at most ``BASELINE_MAX_SHARE`` of the achievable lift, and the model must
reach ``REQUIRED_SHARE`` of the achievable lift over the best baseline: (model - baseline) >=
0.8 * (achievable - baseline), the baseline being the better linear read or the base rate (AUC 0.5), whichever
is higher. Negative controls, scored against the true labels, must fall short:
  * ``corrupt_how="shift_label"`` trains on a copy whose row t carries row t+1's labels (an off-by-one between
    features and labels);
  * ``corrupt_how="shuffle_sequence"`` trains and scores on a copy whose every row takes the sequence features of a
    random row among its own last ``seq_len`` rows (the window's bars in a scrambled order, with repeats; a true
    permutation would bring later bars, and with them the label, into earlier windows);
  * every run also scores its model with each held-out window's bars permuted in time
    (``model_auc_shuffled_windows``): the same weights, the order gone.
Same arguments, same figures (seeded data; the trainer's portable mode).

Training knobs (``Training``): 4 epochs over the training rows at batch 512 and learning rate 1e-3 (the pipeline's
batch 64 and 1e-4, both scaled by 8); the trainer's defaults for the rest. How the model reaches the signal (a
plateau at ln 2, then a fall to the Bayes loss) and the measured figures: docs/replay.md.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gx1.common import CheckFailed, InputError
from gx1.features import LABEL_COLUMNS, SEQ_FEATURES
from gx1.replay import BASELINE_FEATURE  # the replay's one-feature baseline (no torch imported)
from gx1.synth import trading_minutes

TRAIN_MODULE = "gx1.models.entry_v10.entry_v10_ctx_train"
REQUIRED_SHARE = 0.8       # the model must reach this share of the achievable lift over the best baseline
BASELINE_MAX_SHARE = 0.5   # a baseline's lift over 0.5 may be at most this share of the achievable lift
CORRUPTIONS = ("shift_label", "shuffle_sequence")
SIGNALS = ("lag", "xor")
WICKS = (1.5, 0.25)        # the long and the short wick, in units of SIGMA * open
START_PRICE, SIGMA = 2600.0, 5e-4  # gold-like level; per-bar log-return scale (about gx1.synth's M5 volatility)
PLANTED_LABELS = {"horizon_bars": 1, "early_bars": 1}  # y_dir is the next bar's direction (module docstring)


@dataclass(frozen=True)
class Profile:
    """The generating process' knobs: the planted signal, its strength, the data size and seed."""

    signal: str = "lag"             # "lag": s_t = m_{t-lag}; "xor": s_t = m_{t-lags[0]} * m_{t-lags[1]}
    lag: int = 7                    # bars back to the marker; inside the 30-bar window, not the bar itself
    lags: tuple[int, int] = (3, 9)  # the two markers' lags of "xor"
    edge: float = 0.6               # drift / SIGMA: population achievable AUC Phi(0.6) = 0.726
    n_bars: int = 36_000            # M5 bars from 2025-01-01 (26 weeks; at most one synthetic year)
    seed: int = 26

    def lags_used(self) -> tuple[int, ...]:
        return (self.lag,) if self.signal == "lag" else tuple(self.lags)

    def describe(self) -> str:
        terms = " * ".join(f"m_{{t-{lag}}}" for lag in self.lags_used())
        return f"s_t = {terms}, edge {self.edge:g}"


@dataclass(frozen=True)
class Training:
    """The trainer's knobs for the check (module docstring: why batch 512 and 1e-3); the trainer's defaults for the
    rest (seq_len 30, AdamW with weight decay 0.01, gradient clip 1.0, v10_ctx)."""

    epochs: int = 4
    batch_size: int = 512
    learning_rate: float = 1e-3
    holdout_days: float = 21.0   # the held-out rows: the last 21 calendar days (4,049 eligible rows by default)
    seed: int = 1337
    num_threads: int = 0         # 0: the cores this process may use
    seq_len: int = 30


def check_profile(profile: Profile, seq_len: int = 30) -> Profile:
    """The profile, or InputError naming the first knob out of range."""
    if profile.signal not in SIGNALS:
        raise InputError(f"signal must be one of {', '.join(SIGNALS)}, got {profile.signal!r}")
    lags = profile.lags_used()
    if not all(1 <= lag < seq_len for lag in lags) or len(set(lags)) != len(lags):
        raise InputError(f"lags {lags} must be distinct and in [1, {seq_len - 1}] (inside the window, not the bar)")
    if not 0 < profile.edge <= 3:
        raise InputError(f"edge must be in (0, 3], got {profile.edge}")
    slots = len(trading_minutes(2025, 5))
    if not 2_000 <= profile.n_bars <= slots:
        raise InputError(f"n_bars must be in [2000, {slots}] (one synthetic year of M5 bars), got {profile.n_bars}")
    return profile


# ----------------------------------------------------------------------------- the generating process


def planted_signal(marker: np.ndarray, profile: Profile) -> np.ndarray:
    """s_t from the markers: the product of the lagged markers (one for "lag"); 0 where a lag reaches before bar 0."""
    signal = np.ones(len(marker))
    for lag in profile.lags_used():
        lagged = np.zeros(len(marker))
        lagged[lag:] = marker[:len(marker) - lag]
        signal *= lagged
    return signal


def generate_planted_bars(profile: Profile = Profile()) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(a bars table as gx1.synth.generate_bars returns it, s_t per bar): the process of the module docstring.
    Whole-array numpy; the draws come in one fixed order from one seeded generator."""
    check_profile(profile)
    rng = np.random.default_rng(profile.seed)
    n = profile.n_bars
    marker = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    signal = planted_signal(marker, profile)
    returns = SIGMA * rng.standard_normal(n)
    returns[1:] += profile.edge * SIGMA * signal[:-1]
    returns[0] = 0.0
    close = START_PRICE * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([close[0]], close[:-1]))
    long_wick, short_wick = WICKS[0] * SIGMA * open_, WICKS[1] * SIGMA * open_  # price units, both on the open
    bars = {
        "time": (trading_minutes(2025, 5)[:n] * 60).astype("datetime64[s]").astype("datetime64[ns]"),
        "open": open_,
        "high": np.maximum(open_, close) + np.where(marker > 0, short_wick, long_wick),
        "low": np.minimum(open_, close) - np.where(marker > 0, long_wick, short_wick),
        "close": close,
        "volume": np.round(rng.lognormal(5.5, 0.4, n)),
        "spread": np.round(rng.uniform(0.15, 0.35, n), 2),
    }
    return bars, signal


def marker_from_bars(bars: dict[str, np.ndarray]) -> np.ndarray:
    """The markers read back from the bars alone (+1 where the lower wick is the longer): what a model can see."""
    open_, close = np.asarray(bars["open"]), np.asarray(bars["close"])
    lower = np.minimum(open_, close) - np.asarray(bars["low"])
    upper = np.asarray(bars["high"]) - np.maximum(open_, close)
    return np.where(lower > upper, 1.0, -1.0)


def population_auc(edge: float) -> float:
    """The achievable direction AUC in the population: Phi(edge) (module docstring)."""
    return 0.5 * (1.0 + math.erf(edge / math.sqrt(2.0)))


# ----------------------------------------------------------------------------- the one-bar linear reads


def linear_references(data: dict, meta: dict, seq_scaler, snap_scaler, rows: dict[str, np.ndarray]) -> dict[str, dict]:
    """{window: {reference: {"log_loss", "auc"}}} for the base rate, the one-feature and the all-feature logistic
    regression of y_dir, fitted on rows["train"] and scored on every other window of ``rows`` (scikit-learn; no
    torch). The one feature is BASELINE_FEATURE (the recent trend, the replay's baseline); "all 31 features" are the
    bar's scaled features (15 sequence features of the last bar + 16 snapshot features). gx1.learnability
    prints these on the pipeline's data."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score

    from gx1.contract import scale
    contract = meta["contract"]
    features = np.hstack([scale(np.column_stack([data[n] for n in contract["seq_features"]]), seq_scaler),
                          scale(np.column_stack([data[n] for n in contract["snap_features"]]), snap_scaler)])
    one = np.asarray(data[BASELINE_FEATURE], dtype=np.float64)[:, None]
    y = np.asarray(data["y_dir"], dtype=np.float64)
    train = rows["train"]
    fitted = {"one feature": (LogisticRegression().fit(one[train], y[train]), one),
              "all 31 features": (LogisticRegression(max_iter=1000).fit(features[train], y[train]), features)}
    base_rate = float(y[train].mean())
    out = {}
    for window, index in rows.items():
        if window == "train" or not len(index):
            continue
        figures = {"base rate": {"log_loss": log_loss(y[index], np.full(len(index), base_rate), labels=[0, 1]), "auc": 0.5}}
        for name, (model, x) in fitted.items():
            p = model.predict_proba(x[index])[:, 1]
            figures[name] = {"log_loss": log_loss(y[index], p, labels=[0, 1]), "auc": roc_auc_score(y[index], p)}
        out[window] = {name: {k: round(float(v), 6) for k, v in f.items()} for name, f in figures.items()}
    return out


# ----------------------------------------------------------------------------- negative controls


def shift_labels(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy whose row t carries row t+1's labels (every label column); eligible only where both rows were."""
    out = dict(columns)
    for name in LABEL_COLUMNS:
        out[name] = np.concatenate([columns[name][1:], np.full(1, np.nan, dtype=columns[name].dtype)])
    out["eligible"] = np.concatenate([columns["eligible"][:-1] & columns["eligible"][1:], [False]])
    return out


def shuffle_sequence(columns: dict[str, np.ndarray], window: int, seed: int) -> dict[str, np.ndarray]:
    """A copy whose every row takes the sequence features of a random row among its own last ``window`` rows (itself
    included; itself where that row's features are not all finite, as in the warm-up). Nothing moves forward in
    time; snapshot and context features, labels and eligibility are untouched."""
    rows = len(columns["time"])
    seq = np.column_stack([columns[name] for name in SEQ_FEATURES])
    source = np.maximum(np.arange(rows) - np.random.default_rng(seed).integers(0, window, rows), 0)
    source = np.where(np.isfinite(seq[source]).all(axis=1), source, np.arange(rows))
    return {**columns, **{name: seq[source, i] for i, name in enumerate(SEQ_FEATURES)}}


def corrupt(columns: dict[str, np.ndarray], how: str, seq_len: int, seed: int) -> dict[str, np.ndarray]:
    """The dataset columns broken as a negative control says (``CORRUPTIONS``)."""
    if how == "shift_label":
        return shift_labels(columns)
    if how == "shuffle_sequence":
        return shuffle_sequence(columns, seq_len, seed)
    raise InputError(f"corrupt must be one of {', '.join(CORRUPTIONS)}, got {how!r}")


def shuffled_window_logits(bundle, inputs, rows: np.ndarray, seed: int) -> np.ndarray:
    """Direction logits of ``rows`` with each window's bars permuted in time (one seeded permutation per row),
    predicted as every prediction is (``inputs.predict_samples``)."""
    import torch

    from gx1.models.entry_v10.inputs import gather_batch, predict_samples
    rng = np.random.default_rng(seed)
    logits = []
    for start in range(0, len(rows), 1024):
        seq, snap, ctx_cat, ctx_cont, _ = gather_batch(inputs, torch.from_numpy(rows[start:start + 1024]))
        order = torch.from_numpy(np.argsort(rng.random(seq.shape[:2]), axis=1))
        seq = torch.take_along_dim(seq, order[:, :, None], dim=1)
        logits.append(predict_samples(bundle.model, seq, snap, ctx_cat, ctx_cont)[:, 0].numpy())
    return np.concatenate(logits)


# ----------------------------------------------------------------------------- the check


def _stage(main, argv: list[str]) -> None:
    """A stage CLI (gx1.dataset, gx1.contract) with its one-line summary kept off stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise CheckFailed(f"{main.__module__} {' '.join(argv)} exited {code}")


def build_pipeline(work: Path, profile: Profile, holdout_days: float, corrupt_how: str | None = None) -> dict:
    """Bars -> dataset -> contract in ``work`` through the stage CLIs; with ``corrupt_how``, a corrupted copy of the
    dataset and a contract of its own for the training. Returns the paths and the per-bar planted signal."""
    from gx1 import contract, dataset
    from gx1.bars import write_bars_parquet
    from gx1.dataset import read_dataset, read_label_config, write_dataset
    work.mkdir(parents=True, exist_ok=True)
    bars, signal = generate_planted_bars(profile)
    write_bars_parquet(bars, work / "bars.parquet")
    labels = [arg for name, value in PLANTED_LABELS.items() for arg in (f"--{name}", str(value))]
    _stage(dataset.main, ["--bars", f"XAUUSD={work / 'bars.parquet'}", "--out", str(work / "data.parquet"), *labels])
    _stage(contract.main, ["--data", str(work / "data.parquet"), "--out_dir", str(work / "contract"),
                           "--holdout_days", str(holdout_days)])
    paths = {"clean": work / "data.parquet", "contract": work / "contract", "trained": work / "data.parquet",
             "trained_contract": work / "contract", "signal": signal}
    if corrupt_how:
        cfg = read_label_config(str(paths["clean"]))
        paths["trained"], paths["trained_contract"] = work / f"data_{corrupt_how}.parquet", work / f"contract_{corrupt_how}"
        write_dataset(corrupt(read_dataset(str(paths["clean"])), corrupt_how, cfg.seq_len, profile.seed),
                      str(paths["trained"]), cfg)
        _stage(contract.main, ["--data", str(paths["trained"]), "--out_dir", str(paths["trained_contract"]),
                               "--holdout_days", str(holdout_days)])
    return paths


def train(work: Path, data: Path, contract_dir: Path, training: Training, timeout: float = 1800) -> tuple[Path, float, str]:
    """The trainer CLI in a subprocess, v10_ctx as the pipeline runs it: (bundle folder, seconds, its stdout)."""
    out = work / "train"
    argv = ["--data", str(data), "--out_dir", str(out),
            "--feature_meta_path", str(contract_dir / "entry_v9_feature_meta.json"),
            "--seq_scaler_path", str(contract_dir / "seq_scaler.joblib"),
            "--snap_scaler_path", str(contract_dir / "snap_scaler.joblib"), "--seq_len", str(training.seq_len),
            "--batch_size", str(training.batch_size), "--epochs", str(training.epochs), "--num_workers", "0",
            "--device", "cpu", "--seed", str(training.seed), "--log_every", "1000000",
            "--learning_rate", str(training.learning_rate), "--num_threads", str(training.num_threads),
            "--holdout_days", str(training.holdout_days)]
    root = str(Path(__file__).resolve().parents[1])  # this checkout's gx1, from any working directory
    env = {**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true",
           "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", TRAIN_MODULE, *argv], capture_output=True, text=True, env=env,
                            timeout=timeout)
    if result.returncode != 0:
        raise CheckFailed(f"training failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")
    return out, time.perf_counter() - started, result.stdout


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from gx1.evaluation import auc_score  # the replay's AUC (ties count one half)
    return float(auc_score(y, score))


def score(paths: dict, bundle_dir: Path, training: Training, profile: Profile) -> dict:
    """The figures of ``learning_check`` on the held-out rows (the eligible rows of the dataset the model trained on,
    in its last ``holdout_days``); every AUC is against the clean dataset's y_dir."""
    from gx1.contract import load_scaler, read_meta
    from gx1.dataset import holdout_mask, read_dataset, split_rows
    from gx1.bundle.load import load_bundle  # torch loads here
    clean, trained = read_dataset(str(paths["clean"])), read_dataset(str(paths["trained"]))
    rows = np.flatnonzero(trained["eligible"] & holdout_mask(trained["time"], training.holdout_days))
    y = np.asarray(clean["y_dir"], dtype=np.float64)[rows]
    achievable = _auc(y, paths["signal"][rows])
    meta = read_meta(paths["contract"] / "entry_v9_feature_meta.json")
    scalers = [load_scaler(paths["contract"] / f"{k}_scaler.joblib", meta["scalers"][k]["sha256"], f"{k} scaler")
               for k in ("seq", "snap")]
    train_rows = split_rows(clean, 0, training.holdout_days, 0, PLANTED_LABELS["horizon_bars"])[0]
    refs = linear_references(clean, meta, *scalers, {"train": train_rows, "held out": rows})["held out"]
    baselines = {"one_feature": refs["one feature"]["auc"], "all_31_features": refs["all 31 features"]["auc"]}
    baseline = max(0.5, *baselines.values())  # the base rate (a constant, AUC 0.5) is a baseline too
    bundle = load_bundle(bundle_dir)
    inputs = bundle.model_inputs(trained)
    logits = bundle.predict(inputs, rows)[:, 0]
    model, shuffled = _auc(y, logits), _auc(y, shuffled_window_logits(bundle, inputs, rows, profile.seed))

    def share(value: float) -> float:
        return round((value - baseline) / (achievable - baseline), 3) if achievable > baseline else float("nan")
    baseline_shares = {k: round((v - 0.5) / (achievable - 0.5), 3) for k, v in baselines.items()}
    passed = max(baseline_shares.values()) <= BASELINE_MAX_SHARE and model - baseline >= REQUIRED_SHARE * (achievable - baseline)
    return {"held_out_rows": int(len(rows)), "achievable_auc": round(achievable, 4),
            "population_auc": round(population_auc(profile.edge), 4),
            "baseline_auc": {**{k: round(v, 4) for k, v in baselines.items()}, "best": round(baseline, 4)},
            "baseline_lift_share": baseline_shares, "model_auc": round(model, 4), "model_lift_share": share(model),
            "model_auc_trained_labels": round(_auc(np.asarray(trained["y_dir"], dtype=np.float64)[rows], logits), 4),
            "model_auc_shuffled_windows": round(shuffled, 4), "shuffled_windows_lift_share": share(shuffled),
            "required_share": REQUIRED_SHARE, "baseline_max_share": BASELINE_MAX_SHARE, "passed": bool(passed)}


def learning_check(work_dir: str | Path, profile: Profile = Profile(), training: Training = Training(),
                   corrupt_how: str | None = None) -> dict:
    """Run the check in ``work_dir`` (created; its files are kept) and return its figures (JSON-ready):
    ``achievable_auc`` (s_t on the held-out rows), ``population_auc`` (Phi(edge)), ``baseline_auc`` (one feature,
    all 31 features, and "best": the highest of them and 0.5) and ``baseline_lift_share``, ``model_auc`` and
    ``model_lift_share`` (against the true labels), ``model_auc_trained_labels`` (against the labels it trained on:
    differs under ``shift_label``), ``model_auc_shuffled_windows``, ``passed``, ``seconds`` (total, training) and the trainer's epoch lines.
    ``corrupt_how``: a negative control (module docstring), expected to fall short."""
    started = time.perf_counter()
    check_profile(profile, training.seq_len)
    if corrupt_how is not None and corrupt_how not in CORRUPTIONS:
        raise InputError(f"corrupt must be one of {', '.join(CORRUPTIONS)}, got {corrupt_how!r}")
    work = Path(work_dir)
    paths = build_pipeline(work, profile, training.holdout_days, corrupt_how)
    bundle_dir, train_seconds, log = train(work, paths["trained"], paths["trained_contract"], training)
    figures = score(paths, bundle_dir, training, profile)
    epochs = [line.split(" | grad")[0] + " |" + line.split("|")[-2] for line in log.splitlines() if " done | loss" in line]
    return {"profile": asdict(profile), "training": asdict(training), "corrupt": corrupt_how, **figures,
            "seconds": {"total": round(time.perf_counter() - started, 1), "training": round(train_seconds, 1)},
            "training_epochs": epochs}


def summary_lines(figures: dict) -> list[str]:
    """The check's figures in words (what scripts/planted_check.py prints)."""
    profile, b, s = Profile(**{**figures["profile"], "lags": tuple(figures["profile"]["lags"])}), figures["baseline_auc"], \
        figures["baseline_lift_share"]
    control = f"; negative control: {figures['corrupt']}" if figures["corrupt"] else ""
    return [
        f"planted signal {profile.describe()}; {figures['held_out_rows']:,} held-out rows{control}",
        f"  achievable direction AUC {figures['achievable_auc']:.4f} (the Bayes-optimal score s_t; population "
        f"Phi({profile.edge:g}) = {figures['population_auc']:.4f})",
        f"  one-bar linear reads: {BASELINE_FEATURE} {b['one_feature']:.4f}, all 31 features {b['all_31_features']:.4f} "
        f"({s['one_feature']:.0%} and {s['all_31_features']:.0%} of the achievable lift over 0.5; at most "
        f"{figures['baseline_max_share']:.0%})",
        f"  model {figures['model_auc']:.4f}: {figures['model_lift_share']:.0%} of the achievable lift over the best "
        f"baseline ({b['best']:.4f}) (needs {figures['required_share']:.0%}) -> {'PASS' if figures['passed'] else 'FALLS SHORT'}",
        f"  the same model, each window's bars shuffled in time: {figures['model_auc_shuffled_windows']:.4f} "
        f"({figures['shuffled_windows_lift_share']:.0%})"
        + (f"; against the labels it trained on: {figures['model_auc_trained_labels']:.4f}" if figures["corrupt"] else ""),
        f"  seconds: {figures['seconds']['total']:.0f} (training {figures['seconds']['training']:.0f})",
    ]
