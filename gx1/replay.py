"""Replay a window of bars through an entry_v10 bundle: candidates, trades and entry quality.

Run (once per bundle; the window defaults to the last 7 days of the data):
    python3 -m gx1.replay --bundle_dir models/entry_v10_ctx/bundle \
        --data data/entry_v9/full_2025.parquet --out_dir reports/replay
    python3 -m gx1.replay --bundle_dir models/entry_v10_ctx/bundle \
        --bars my_xauusd_m5.csv --out_dir reports/replay_mine --start 2025-12-01 --end 2025-12-08
    python3 -m gx1.replay ... --data data/entry_v9/multi.parquet --instrument EURUSD   # one of several

One instrument is replayed: ``--instrument``, or the only one the data holds (with ``--bars``: the
bundle's instrument when it was trained on one, said on stderr). It must be one
the bundle was trained on (its contract's ``instruments``) unless ``--any_instrument``; the bar
interval and the rest of the contract must match. Data rows are counted inside that instrument.

The variant (v10_ctx or v10) comes from the bundle; ENTRY_CONTEXT_FEATURES_ENABLED, when set, must agree.

With ``--bars`` the features are built over the whole bars file with the bundle's own label config
and then windowed, so every number equals the dataset's. The model scores every eligible bar of the
window in batches, with the bundle's scalers (the training-time data path).

Policy at an eligible bar t: p_dir = sigmoid(direction logit), p_early = sigmoid(early-move logit);
t is a candidate if p_early >= early_threshold and p_dir >= dir_threshold (long) or
p_dir <= 1 - dir_threshold (short). Trades: one position at a time, entry at the close of t, time exit
at the close of t + hold_bars; the next cooldown_bars bars open nothing, so the next entry is at
t + hold_bars + cooldown_bars + 1 at the earliest (bars counted as rows of the data).

Entry quality per trade, side-oriented over bars t+1..t+mae_mfe_bars (long: MFE = max(high) - entry,
MAE = entry - min(low); short: mirrored), in bps of the entry and in ATR units (ATR at t); a negative
MAE means price never traded through the entry. goes_against_us = MAE > MFE. A trade whose quality
window runs past the end of the data is kept in the counts, written with NaN quality, left out of the
quality statistics and counted in ``n_trades_quality_incomplete``. Without trades the counts are 0 and
the statistics null (not an error).

Outputs in out_dir, written as one set (built in a staging folder and swapped in, so a reader sees
the old set or the new one; an existing out_dir only when it is gx1.replay's own, ``gx1.outputs``):
summary.json (the headline figures DVC lists), replay.json (every
figure, model quality included), outputs.tsv (per eligible bar: logits, probabilities, candidate
side, trade flag), trades.tsv, and the plot data trades_mae_mfe.tsv, cumulative.tsv, quality.tsv,
equity.tsv (cumulative net bps per bar, model and baseline) and reliability.tsv (the non-empty bins).

Evaluation (``evaluate``, figures from ``gx1.evaluation``): every trade closes at t + hold_bars and is charged
the entry bar's spread and ``--commission_bps`` per round trip; the same policy trades the baseline, whose
p_dir is BASELINE_FEATURE's percentile in the window (and whose p_early is the model's), so the two differ
only in the direction signal. replay.json gains ``costs``, ``trading`` (model and baseline: gross and net
PnL, hit rate, profit factor, average win / loss, max drawdown, Sharpe of the daily PnL, exposure,
turnover), ``signal`` (rank IC of p_dir and of the baseline against the forward return over the label
horizon, Brier score) and ``lift`` (paired bootstrap, seed 0, 1,000 replicates: model minus baseline for the
direction AUC and for net PnL per eligible bar, with 95 % intervals and a verdict in words). Exit 0; 2 with one line for bad usage, an ENTRY_CONTEXT_FEATURES_ENABLED that disagrees
with the bundle, a feature contract mismatch (bar interval included), a bundle that fails
verification, or an empty window / a window without eligible bars; 1 when the model's outputs are not
finite.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gx1.bars import infer_interval_seconds, load_bars
from gx1.common import (
    ArgumentParser, CheckFailed, InputError, LazyModule, atomic_write_bytes, file_problem, number_in, pretty_json, printable,
    run_cli, tsv_bytes,
)
from gx1.contract import build_contract, contract_hash, dataset_contract
from gx1.dataset import (
    build_dataset, check_dataset_path, check_instrument, instrument_blocks, read_dataset, read_label_config,
    validate_label_config,
)
from gx1.features import LabelConfig
from gx1.models.entry_v10 import OUTPUT_COLUMNS
from gx1.models.entry_v10.variant import CONTEXT_ENV, context_from_env
from gx1.outputs import check_folder, check_inputs_outside, inside, swap_in_folder
from gx1.replay_config import POLICY_FLAGS, ReplayConfig

bio = LazyModule("gx1.bundle.load")  # torch loads with the bundle, not for --help

COMMAND = "gx1.replay"  # the owner named in the out_dir's marker (gx1.outputs)
OUTPUT_FILES = ("summary.json", "replay.json", "outputs.tsv", "trades.tsv", "trades_mae_mfe.tsv", "cumulative.tsv",
                "quality.tsv", "equity.tsv", "reliability.tsv")
BOOTSTRAP_SEED = 0  # the paired bootstrap's seed: the intervals are byte-stable
QUALITY_PLOT_FIGURES = ("direction_auc", "direction_auc_baseline", "early_move_auc", "quality_corr")
QUALITY_KEYS = ("mae_bps", "mfe_bps", "mae_atr", "mfe_atr")


@dataclass
class ReplayResult:
    summary: dict                  # the content of replay.json
    window_first_row: int          # data row of the window's first bar
    window_time: np.ndarray        # every bar of the window
    rows: np.ndarray               # data rows of the window's eligible bars
    times: np.ndarray              # their times
    outputs: np.ndarray            # (len(rows), 3) float32 model outputs
    p_dir: np.ndarray
    p_early: np.ndarray
    side: np.ndarray               # +1 long candidate, -1 short candidate, 0 none
    trade_index: np.ndarray        # indices into rows of the bars that opened a trade
    quality: dict[str, np.ndarray]  # per trade: entry, mae/mfe in bps and ATR, goes_against_us, complete
    equity: dict[str, np.ndarray]  # per bar of the window: cumulative net bps of the model's and the baseline's trades
    reliability: list[dict]        # the direction head's reliability table (evaluation.reliability_table)


# ----------------------------------------------------------------------------- pure pieces


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Numerically stable logistic in float64."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(logits, dtype=np.float64)))


def candidate_sides(p_dir: np.ndarray, p_early: np.ndarray, dir_threshold: float, early_threshold: float) -> np.ndarray:
    """+1 (long), -1 (short) or 0 per bar under the thresholds."""
    early_ok = p_early >= early_threshold
    side = np.where(p_dir >= dir_threshold, 1, np.where(p_dir <= 1.0 - dir_threshold, -1, 0))
    return np.where(early_ok, side, 0).astype(np.int8)


def select_trades(candidate_rows: np.ndarray, hold_bars: int, cooldown_bars: int) -> np.ndarray:
    """Indices of the candidates that open a trade: one position at a time, then a cooldown."""
    taken: list[int] = []
    next_allowed = None
    for index, row in enumerate(np.asarray(candidate_rows, dtype=np.int64).tolist()):  # candidates only
        if next_allowed is None or row >= next_allowed:
            taken.append(index)
            next_allowed = row + hold_bars + cooldown_bars + 1
    return np.asarray(taken, dtype=np.int64)


def entry_quality(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, rows: np.ndarray,
                  sides: np.ndarray, n_bars: int) -> dict[str, np.ndarray]:
    """Side-oriented MAE/MFE over bars t+1..t+n_bars for entries at close[t]; NaN where the window passes the end."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(close)
    complete = rows + n_bars < n
    window = np.minimum(rows[:, None] + np.arange(1, n_bars + 1), n - 1)
    entry = np.asarray(close, dtype=np.float64)[rows]
    highest = np.asarray(high, dtype=np.float64)[window].max(axis=1, initial=-np.inf)
    lowest = np.asarray(low, dtype=np.float64)[window].min(axis=1, initial=np.inf)
    is_long = np.asarray(sides) > 0
    mfe = np.where(complete, np.where(is_long, highest - entry, entry - lowest), np.nan)
    mae = np.where(complete, np.where(is_long, entry - lowest, highest - entry), np.nan)
    atr_at_entry = np.asarray(atr, dtype=np.float64)[rows]
    return {
        "entry": entry,
        "mae_bps": mae / entry * 1e4, "mfe_bps": mfe / entry * 1e4,
        "mae_atr": mae / atr_at_entry, "mfe_atr": mfe / atr_at_entry,
        "goes_against_us": complete & (mae > mfe),
        "complete": complete,
    }


BASELINE_FEATURE = "ema_slope_12_atr"  # a one-feature direction baseline: the recent trend, no model


def model_quality(columns: dict[str, np.ndarray], rows: np.ndarray, outputs: np.ndarray) -> dict:
    """Out-of-sample quality on the window's eligible bars: direction and early-move AUC, the quality head's
    correlation with y_quality, and the one-feature baseline's direction AUC on the same rows (null when a
    label has one class only)."""
    from sklearn.metrics import roc_auc_score
    y_dir, y_early, y_quality = (np.asarray(columns[k], dtype=np.float64)[rows] for k in ("y_dir", "y_early", "y_quality"))

    def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
        return round(float(roc_auc_score(labels, scores)), 6) if 0 < labels.mean() < 1 else None
    quality = outputs[:, 2].astype(np.float64)
    return {"rows": int(len(rows)), "direction_auc": auc(y_dir, outputs[:, 0]), "early_move_auc": auc(y_early, outputs[:, 1]),
            "quality_corr": round(float(np.corrcoef(quality, y_quality)[0, 1]), 6) if quality.std() * y_quality.std() > 0
            else None,
            "baseline_feature": BASELINE_FEATURE,
            "baseline_direction_auc": auc(y_dir, np.asarray(columns[BASELINE_FEATURE], dtype=np.float64)[rows])
            if BASELINE_FEATURE in columns else None}


def _stat(values: np.ndarray, reduce) -> float | None:
    return round(float(reduce(values)), 6) if len(values) else None


def quality_summary(quality: dict[str, np.ndarray]) -> dict:
    """Means and medians over trades with a complete quality window; null without any."""
    complete = quality["complete"]
    stats: dict = {}
    for key in QUALITY_KEYS:
        stats[f"{key}_mean"] = _stat(quality[key][complete], np.mean)
        stats[f"{key}_median"] = _stat(quality[key][complete], np.median)
    mae_mean, mfe_mean = stats["mae_bps_mean"], stats["mfe_bps_mean"]
    stats["mfe_mae_ratio"] = round(mfe_mean / mae_mean, 6) if mae_mean and mae_mean > 0 else None
    return stats


def baseline_direction(columns: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The baseline's direction probability per eligible bar: the percentile of BASELINE_FEATURE within the window
    (rank / (n + 1), ties averaged), so the policy's thresholds trade its strongest trends both ways."""
    from gx1 import evaluation as ev
    return ev.average_ranks(np.asarray(columns[BASELINE_FEATURE], dtype=np.float64)[rows]) / (len(rows) + 1)


def trading_results(columns: dict[str, np.ndarray], rows: np.ndarray, side: np.ndarray, hold_bars: int,
                    cooldown_bars: int, commission_bps: float, window: tuple[int, int]) -> tuple[dict, np.ndarray, np.ndarray]:
    """Net-of-cost results of the trades the policy opens on ``side`` (entry at the close of t, exit at the close of
    t + hold_bars, the entry bar's spread and the commission charged): (evaluation.trade_summary plus the count of
    trades whose exit lies past the data, per-eligible-bar net bps, per-window-bar cumulative net bps)."""
    from gx1 import evaluation as ev
    lo, hi = window
    close, time = np.asarray(columns["close"], dtype=np.float64), columns["time"]
    candidates = np.flatnonzero(side)
    trades = candidates[select_trades(rows[candidates], hold_bars, cooldown_bars)]
    exits = rows[trades] + hold_bars
    inside = exits < len(close)
    trades, exits = trades[inside], exits[inside]
    returns = ev.trade_returns(close[rows[trades]], close[exits], side[trades].astype(np.int64),
                               np.asarray(columns["spread"], dtype=np.float64)[rows[trades]], commission_bps)
    summary = ev.trade_summary(returns["gross_bps"], returns["net_bps"], time[exits], hold_bars, hi - lo,
                               ev.trading_days(time[lo:hi]))
    summary["n_trades_past_data_end"] = int((~inside).sum())
    per_bar = np.zeros(hi - lo)
    np.add.at(per_bar, np.minimum(exits, hi - 1) - lo, returns["net_bps"])
    return summary, ev.pnl_by_row(len(rows), trades, returns["net_bps"]), per_bar.cumsum()


def evaluate(columns: dict[str, np.ndarray], rows: np.ndarray, outputs: np.ndarray, p_dir: np.ndarray,
             p_early: np.ndarray, cfg: ReplayConfig, hold_bars: int, horizon: int,
             window: tuple[int, int]) -> tuple[dict, dict[str, np.ndarray], list[dict]]:
    """What a researcher decides with: net-of-cost trading of the model and of the baseline (BASELINE_FEATURE traded
    by the same policy, ``baseline_direction``), rank IC against the forward return over the label horizon,
    calibration of p_dir, and paired-bootstrap 95 % intervals of model minus baseline for the direction AUC and
    for net PnL (``gx1.evaluation``). Returns (figures, per-bar equity curves, reliability table)."""
    from gx1 import evaluation as ev
    y_dir = np.asarray(columns["y_dir"], dtype=np.float64)[rows]
    baseline_score = np.asarray(columns[BASELINE_FEATURE], dtype=np.float64)[rows]
    forward = ev.forward_return_bps(columns["close"], rows, horizon)
    sides = {"model": candidate_sides(p_dir, p_early, cfg.dir_threshold, cfg.early_threshold),
             "baseline": candidate_sides(baseline_direction(columns, rows), p_early, cfg.dir_threshold, cfg.early_threshold)}
    trading, pnl, equity = {}, {}, {}
    for name, side in sides.items():
        trading[name], pnl[name], equity[name] = trading_results(columns, rows, side, hold_bars, cfg.cooldown_bars,
                                                                 cfg.commission_bps, window)
    lift = {"direction_auc": ev.paired_bootstrap_auc(y_dir, outputs[:, 0], baseline_score, seed=BOOTSTRAP_SEED),
            "net_pnl_bps": ev.paired_bootstrap_sum(pnl["model"], pnl["baseline"], seed=BOOTSTRAP_SEED)}
    figures = {
        "costs": {"commission_bps_round_trip": cfg.commission_bps, "spread": "the entry bar's spread, once per trade"},
        "trading": trading,
        "signal": {"horizon_bars": horizon, "rank_ic": ev.rank_ic(p_dir, forward),
                   "baseline_rank_ic": ev.rank_ic(baseline_score, forward), "brier": ev.brier_score(p_dir, y_dir)},
        "lift": lift,
    }
    return figures, equity, ev.reliability_table(p_dir, y_dir)


# ----------------------------------------------------------------------------- inputs and window


def parse_time(text: str, flag: str) -> np.datetime64:
    cleaned = text.strip().replace(" ", "T").removesuffix("Z").removesuffix("+00:00")
    try:
        return np.datetime64(cleaned, "ns")
    except ValueError:
        raise InputError(f"{flag} {text!r} is not an ISO date-time in UTC (e.g. 2025-12-24 or 2025-12-24T09:00)") from None


def window_bounds(time: np.ndarray, cfg: ReplayConfig) -> tuple[int, int]:
    """[lo, hi) rows of the window: --start/--end (end exclusive) or the last ``days`` days (time > last - days)."""
    if cfg.start or cfg.end:
        lo = int(np.searchsorted(time, parse_time(cfg.start, "--start"), "left")) if cfg.start else 0
        hi = int(np.searchsorted(time, parse_time(cfg.end, "--end"), "left")) if cfg.end else len(time)
    else:
        days = 7.0 if cfg.days is None else cfg.days
        lo = int(np.searchsorted(time, time[-1] - np.timedelta64(int(round(days * 86_400e9)), "ns"), "right"))
        hi = len(time)
    return lo, max(lo, hi)


def _check_contract(source: str, contract: dict, bundle: bio.Bundle, fix: str) -> None:
    """Refuse data whose contract (features, labels, bar interval) is not the bundle's, naming the difference.
    Instruments are checked apart (``_check_instrument``): a bundle trained on several replays any of them."""
    theirs = bundle.feature_meta["contract"]
    differing = sorted(k for k in set(contract) | set(theirs) if k != "instruments" and contract.get(k) != theirs.get(k))
    if not differing:
        return
    detail = "; ".join(f"{k}: {contract.get(k)} vs {theirs.get(k)}" for k in differing)[:300]
    raise InputError(f"feature contract mismatch: {source} has contract hash {contract_hash({'contract': contract})}, bundle "
                     f"{bundle.directory} has {bundle.contract_hash} (differs in {detail}): {fix}")


def _check_instrument(source: str, instrument: str, bundle: bio.Bundle, cfg: ReplayConfig) -> None:
    trained = bundle.feature_meta["contract"]["instruments"]
    if instrument not in trained and not cfg.any_instrument:
        raise InputError(f"{source}: instrument {instrument} is not one bundle {bundle.directory} was trained on "
                         f"({', '.join(trained)}): replay {' or '.join(trained)} bars, or pass --any_instrument to "
                         "replay it anyway")


def _choose_instrument(source: str, present: list[str], cfg: ReplayConfig) -> str:
    if cfg.instrument:
        if cfg.instrument not in present:
            raise InputError(f"{source} holds no instrument {cfg.instrument} (it holds {', '.join(present)})")
        return cfg.instrument
    if len(present) > 1:
        raise InputError(f"{source} holds {len(present)} instruments ({', '.join(present)}): choose one with --instrument")
    return present[0]


def _bundle_instrument(source: str, bundle: bio.Bundle) -> str:
    """The instrument of bars given without --instrument: the bundle's, when it was trained on one."""
    trained = bundle.feature_meta["contract"]["instruments"]
    if len(trained) > 1:
        raise InputError(f"bundle {bundle.directory} was trained on {', '.join(trained)}: say which instrument {source} "
                         "holds with --instrument")
    return trained[0]


def load_columns(cfg: ReplayConfig, bundle: bio.Bundle) -> tuple[str, dict[str, np.ndarray]]:
    """(instrument, its dataset columns): from --data, or built from --bars with the bundle's label config; contract-checked."""
    if cfg.data:
        label_config = read_label_config(cfg.data)
        data_contract = dataset_contract(cfg.data)
        _check_contract(f"data {cfg.data}", data_contract, bundle, "replay the dataset the bundle was trained on, or use "
                        "--bars to featurise bars with the bundle's config")
        instrument = _choose_instrument(f"data {cfg.data}", data_contract["instruments"], cfg)
        columns = read_dataset(cfg.data)
        blocks = {name: (a, b) for name, a, b in instrument_blocks(columns)}
        if "instrument" in columns:  # the instrument's rows (a file without the column holds one instrument)
            if instrument not in blocks:
                raise InputError(f"data {cfg.data} lists {instrument} in its metadata but has no row of it: rebuild it")
            first, end = blocks[instrument]
            columns = {name: values[first:end] for name, values in columns.items()}
    else:
        try:
            label_config = validate_label_config(LabelConfig(**bundle.feature_meta["label_config"]))
        except (KeyError, TypeError) as exc:
            raise InputError(f"bundle {bundle.directory} feature meta has no usable label_config ({exc}): "
                             "replay with --data, or rebuild the bundle") from None
        instrument = cfg.instrument or _bundle_instrument(cfg.bars, bundle)
        bars = load_bars(cfg.bars)
        contract = build_contract(asdict(label_config), infer_interval_seconds(bars["time"]), [instrument])
        _check_contract(f"bars {cfg.bars}", contract, bundle,
                        "replay bars of the interval the bundle was trained on, with the code version it was trained with")
        columns = build_dataset(bars, label_config, instrument)
    _check_instrument(cfg.data or cfg.bars, instrument, bundle, cfg)
    if bundle.seq_len > label_config.seq_len:
        raise InputError(f"bundle seq_len {bundle.seq_len} exceeds the window the data's eligibility was built for "
                         f"({label_config.seq_len}): rebuild the dataset with --seq_len {bundle.seq_len}")
    missing = [name for name in ("time", "high", "low", "close", "atr", "eligible") if name not in columns]
    if missing:
        raise InputError(f"dataset lacks columns {missing}: rebuild it with `python -m gx1.dataset`")
    if cfg.bars and not cfg.instrument:
        print(f"replaying {printable(cfg.bars)} as {instrument}, the bundle's instrument (--instrument to say otherwise)",
              file=sys.stderr, flush=True)
    return instrument, columns


def _overlaps_training(bundle: bio.Bundle, window_start: np.datetime64) -> bool | None:
    """Whether the bundle trained on bars at or after the window's start (None: the bundle does not say)."""
    rows = bundle.metadata.get("training_rows")
    last = rows.get("last_time") if isinstance(rows, dict) else None
    try:
        return bool(np.datetime64(last.removesuffix("Z"), "ns") >= window_start)
    except (AttributeError, TypeError, ValueError):  # not recorded, or not a time
        return None


def _iso(times: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(np.asarray(times).astype("datetime64[s]"), unit="s"), "Z")


def window_rows(columns: dict[str, np.ndarray], cfg: ReplayConfig) -> tuple[int, int, np.ndarray]:
    """(lo, hi, eligible data rows in [lo, hi)); an empty window or one without eligible bars is an InputError."""
    time = columns["time"]
    lo, hi = window_bounds(time, cfg)
    data_span = f"the data covers {_iso(time[:1])[0]} .. {_iso(time[-1:])[0]}"
    if hi == lo:
        raise InputError(f"the replay window contains no bars ({data_span}): choose --start/--end or --days inside it")
    rows = np.flatnonzero(np.asarray(columns["eligible"][lo:hi], dtype=bool)) + lo
    if len(rows) == 0:
        raise InputError(f"the replay window {_iso(time[lo:lo + 1])[0]} .. {_iso(time[hi - 1:hi])[0]} has {hi - lo} "
                         f"bars but none is eligible (warm-up, gaps or missing label bars; {data_span}): "
                         "choose a later or longer window")
    return lo, hi, rows


# ----------------------------------------------------------------------------- the replay


def replay(cfg: ReplayConfig, context_enabled: bool | None = None) -> ReplayResult:
    """Load and check the bundle and the data, score the window, apply the policy, measure entry quality.

    ``context_enabled`` (from ENTRY_CONTEXT_FEATURES_ENABLED; None when unset) must agree with the bundle."""
    try:
        bundle = bio.load_bundle(cfg.bundle_dir)
    except InputError as exc:
        raise InputError(f"bundle {cfg.bundle_dir} failed verification: {exc}") from None
    if context_enabled is not None and context_enabled != bundle.use_context:
        raise InputError(f"{CONTEXT_ENV} is {str(context_enabled).lower()} but bundle {cfg.bundle_dir} has "
                         f"supports_context_features={str(bundle.use_context).lower()}: set "
                         f"{CONTEXT_ENV}={str(bundle.use_context).lower()} or unset it")
    horizon = int(bundle.feature_meta["contract"]["labels"]["horizon_bars"])
    hold_bars = cfg.hold_bars or horizon
    instrument, columns = load_columns(cfg, bundle)
    time = columns["time"]
    lo, hi, rows = window_rows(columns, cfg)
    first = max(0, lo - (bundle.seq_len - 1))  # the history the window's sequences need; scaling is per row
    inputs = bundle.model_inputs({name: values[first:hi] for name, values in columns.items()})
    outputs = bundle.predict(inputs, rows - first)
    if not np.isfinite(outputs).all():
        bad = int(np.argmax(~np.isfinite(outputs).all(axis=1)))
        raise CheckFailed(f"the model gave non-finite outputs (first at {_iso(time[rows[bad]:rows[bad] + 1])[0]}): "
                          "no report written; check the bars there and the bundle's scalers")
    p_dir, p_early = sigmoid(outputs[:, 0]), sigmoid(outputs[:, 1])
    side = candidate_sides(p_dir, p_early, cfg.dir_threshold, cfg.early_threshold)
    candidates = np.flatnonzero(side)
    trade_index = candidates[select_trades(rows[candidates], hold_bars, cfg.cooldown_bars)]
    quality = entry_quality(columns["high"], columns["low"], columns["close"], columns["atr"], rows[trade_index],
                            side[trade_index], cfg.mae_mfe_bars)
    complete = quality["complete"]
    figures, equity, reliability = evaluate(columns, rows, outputs, p_dir, p_early, cfg, hold_bars, horizon, (lo, hi))
    summary = {
        "bundle": {"feature_contract_hash": bundle.contract_hash, "model_variant": bundle.metadata.get("model_variant")},
        "instrument": instrument,
        "window": {"start": _iso(time[lo:lo + 1])[0], "end": _iso(time[hi - 1:hi])[0],
                   "days": None if (cfg.start or cfg.end) else (7.0 if cfg.days is None else cfg.days),
                   "requested_start": cfg.start or None, "requested_end": cfg.end or None},
        "policy": {"dir_threshold": cfg.dir_threshold, "early_threshold": cfg.early_threshold, "hold_bars": hold_bars,
                   "cooldown_bars": cfg.cooldown_bars, "mae_mfe_bars": cfg.mae_mfe_bars,
                   "commission_bps": cfg.commission_bps},
        "model_quality": model_quality(columns, rows, outputs),
        "window_overlaps_training": _overlaps_training(bundle, time[lo]),
        "bars_replayed": hi - lo,
        "eligible_bars": int(len(rows)),
        "n_candidates": int(len(candidates)),
        "n_trades_created": int(len(trade_index)),
        "n_long": int((side[trade_index] > 0).sum()),
        "n_short": int((side[trade_index] < 0).sum()),
        "n_trades_quality_incomplete": int((~complete).sum()),
        "entry_quality": quality_summary(quality),
        "goes_against_us_rate": _stat(quality["goes_against_us"][complete], np.mean),
        **figures,
    }
    return ReplayResult(summary=summary, window_first_row=lo, window_time=time[lo:hi], rows=rows, times=time[rows],
                        outputs=outputs, p_dir=p_dir, p_early=p_early, side=side, trade_index=trade_index, quality=quality,
                        equity=equity, reliability=reliability)


# ----------------------------------------------------------------------------- outputs


def _fmt(values: np.ndarray, spec: str = "%.9g") -> np.ndarray:
    return np.char.mod(spec, np.asarray(values))


def output_files(result: ReplayResult) -> dict[str, bytes]:
    """replay.json, outputs.tsv, trades.tsv, trades_mae_mfe.tsv and cumulative.tsv, in memory."""
    trades, quality = result.trade_index, result.quality
    is_trade = np.zeros(len(result.rows), dtype=np.int8)
    is_trade[trades] = 1
    side_name = np.where(result.side[trades] > 0, "long", "short")
    against = np.where(quality["complete"], quality["goes_against_us"].astype(np.int8).astype(str), "nan")
    complete = quality["complete"]
    lo = result.window_first_row
    per_bar = np.zeros((2, len(result.window_time)), dtype=np.int64)
    np.add.at(per_bar[0], result.rows[result.side != 0] - lo, 1)
    np.add.at(per_bar[1], result.rows[trades] - lo, 1)
    cumulative = per_bar.cumsum(axis=1)
    return {
        "outputs.tsv": tsv_bytes({
            "row": result.rows, "time": _iso(result.times),
            **{name: _fmt(result.outputs[:, i]) for i, name in enumerate(OUTPUT_COLUMNS)},
            "p_dir": _fmt(result.p_dir, "%.12g"), "p_early": _fmt(result.p_early, "%.12g"),
            "candidate_side": result.side, "trade": is_trade}),
        "trades.tsv": tsv_bytes({
            "time": _iso(result.times[trades]), "row": result.rows[trades], "side": side_name, "entry": _fmt(quality["entry"]),
            "p_dir": _fmt(result.p_dir[trades], "%.6f"), "p_early": _fmt(result.p_early[trades], "%.6f"),
            **{key: _fmt(quality[key], "%.6f") for key in QUALITY_KEYS}, "goes_against_us": against}),
        "trades_mae_mfe.tsv": tsv_bytes({
            "trade": np.flatnonzero(complete), "side": side_name[complete],
            **{key: _fmt(quality[key][complete], "%.6f") for key in QUALITY_KEYS}}),
        "cumulative.tsv": tsv_bytes({"bar": np.arange(len(result.window_time)), "time": _iso(result.window_time),
                                     "cumulative_candidates": cumulative[0], "cumulative_trades": cumulative[1]}),
        "replay.json": pretty_json(result.summary).encode(),
        "summary.json": pretty_json(headline(result.summary)).encode(),
        "quality.tsv": _quality_rows(headline(result.summary)),
        "equity.tsv": tsv_bytes({"bar": np.arange(len(result.window_time)), "time": _iso(result.window_time),
                                 **{f"{name}_net_bps": _fmt(curve, "%.6f") for name, curve in result.equity.items()}}),
        "reliability.tsv": tsv_bytes({key: [_cell(row[key]) for row in result.reliability if row["count"]]  # plotted bins
                                      for key in ("bin", "lower", "upper", "count", "mean_predicted", "realised_rate")}),
    }


def _cell(value) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def _quality_rows(figures: dict) -> bytes:
    """quality.tsv: one row per model-quality figure (the `model_quality` plot: one bar per figure and run)."""
    names = [name for name in QUALITY_PLOT_FIGURES if name in figures]
    return tsv_bytes({"figure": names, "value": [f"{figures[name]:.6f}" for name in names]})


def headline(summary: dict) -> dict:
    """summary.json: out-of-sample model quality first, then the trading figures (what `dvc metrics diff` lists)."""
    quality, entry = summary["model_quality"], summary["entry_quality"]
    auc_lift, pnl_lift = summary["lift"]["direction_auc"], summary["lift"]["net_pnl_bps"]
    model, baseline = summary["trading"]["model"], summary["trading"]["baseline"]
    figures = {"direction_auc": quality["direction_auc"], "early_move_auc": quality["early_move_auc"],
               "quality_corr": quality["quality_corr"], "direction_auc_baseline": quality["baseline_direction_auc"],
               "direction_auc_lift": auc_lift["difference"], "direction_auc_lift_ci_low": auc_lift["ci_low"],
               "direction_auc_lift_ci_high": auc_lift["ci_high"], "direction_rank_ic": summary["signal"]["rank_ic"]["ic"],
               "direction_brier": summary["signal"]["brier"]["brier"],
               "trades": summary["n_trades_created"], "goes_against": summary["goes_against_us_rate"],
               "mfe_mae": entry["mfe_mae_ratio"], "net_pnl_bps": model["net_pnl_bps"],
               "net_pnl_bps_baseline": baseline["net_pnl_bps"], "net_pnl_lift_ci_low": pnl_lift["ci_low"],
               "net_pnl_lift_ci_high": pnl_lift["ci_high"], "sharpe": model["sharpe"], "hit_rate": model["hit_rate"]}
    return {key: value for key, value in figures.items() if value is not None}


def check_out_dir(out_dir: str | Path, cfg: ReplayConfig | None = None) -> None:
    """The out_dir may be created, or replaced when it is gx1.replay's own earlier output (its marker lists every file
    in it); it holds none of the inputs and lies neither inside the bundle nor around it."""
    out = Path(out_dir)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(f"--out_dir {out} exists and is not a directory: choose another --out_dir")
    check_folder(out, COMMAND)
    if cfg is not None:
        if cfg.bundle_dir and (inside(out, cfg.bundle_dir) or inside(cfg.bundle_dir, out)):
            raise InputError(f"--out_dir {out} and --bundle_dir {cfg.bundle_dir} overlap: write the replay outside the "
                             "bundle")
        check_inputs_outside(out, [("--data", cfg.data), ("--bars", cfg.bars)])


def write_outputs(result: ReplayResult, out_dir: str | Path) -> None:
    """Every output file, swapped in as one set: a reader (or a kill) sees all old or all new."""
    def fill(staging: Path) -> None:
        for name, blob in output_files(result).items():
            atomic_write_bytes(staging / name, blob)
    check_out_dir(out_dir)
    swap_in_folder(Path(out_dir), fill, COMMAND)


# ----------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> ReplayConfig:
    parser = ArgumentParser(prog="python3 -m gx1.replay", description=__doc__.splitlines()[0],
                     epilog=__doc__.split("\n\n", 3)[3], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle_dir", required=True, help="bundle directory (verified before use)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", default="", help="dataset parquet (gx1.dataset) with the bundle's feature contract")
    source.add_argument("--bars", default="", help="bars file (parquet/CSV): features built with the bundle's label config")
    parser.add_argument("--instrument", default="", help="instrument to replay (default: the only one the data holds)")
    parser.add_argument("--any_instrument", action="store_true",
                        help="replay an instrument the bundle was not trained on (same interval and contract otherwise)")
    parser.add_argument("--out_dir", required=True, help="where replay.json, outputs.tsv, trades.tsv and plot data go")
    parser.add_argument("--days", type=number_in(float, 0, 3660, low_open=True), default=None,
                        help="window = the last N days of the data (default 7; not with --start/--end)")
    parser.add_argument("--start", default="", help="window start, inclusive, ISO UTC (e.g. 2025-12-01)")
    parser.add_argument("--end", default="", help="window end, exclusive, ISO UTC (e.g. 2025-12-08)")
    defaults = ReplayConfig(bundle_dir="")
    for name, (kind, text) in POLICY_FLAGS.items():
        parser.add_argument(f"--{name}", type=kind, default=getattr(defaults, name), help=f"{text} (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.days is not None and (args.start or args.end):
        raise InputError("--days and --start/--end are alternatives: give one (see --help)")
    if args.start and args.end and parse_time(args.start, "--start") >= parse_time(args.end, "--end"):
        raise InputError(f"--start {args.start} is not before --end {args.end} (the end is exclusive)")
    for flag in ("start", "end"):
        if getattr(args, flag):
            parse_time(getattr(args, flag), f"--{flag}")  # checked before any work
    if args.instrument:
        check_instrument(args.instrument, "--instrument")
    return ReplayConfig(**vars(args))


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    check_out_dir(cfg.out_dir, cfg)
    if cfg.data:  # a regular file, before the bundle loads (a named pipe would block the reader)
        check_dataset_path(cfg.data)
    elif file_problem(cfg.bars):
        raise InputError(f"--bars {cfg.bars} {file_problem(cfg.bars)}")
    result = replay(cfg, context_from_env(default=None))
    write_outputs(result, cfg.out_dir)
    s = result.summary
    quality = s["entry_quality"]
    print(f"replay {s['window']['start']} .. {s['window']['end']}: {s['bars_replayed']} bars, {s['eligible_bars']} eligible, "
          f"{s['n_candidates']} candidates, {s['n_trades_created']} trades ({s['n_long']} long, {s['n_short']} short); "
          f"MAE/MFE mean {quality['mae_bps_mean']}/{quality['mfe_bps_mean']} bps, "
          f"goes_against_us_rate {s['goes_against_us_rate']} -> {cfg.out_dir}", flush=True)
    auc, pnl = s["lift"]["direction_auc"], s["lift"]["net_pnl_bps"]
    print(f"model vs baseline ({BASELINE_FEATURE}): direction AUC {auc['model']} vs {auc['baseline']}, lift "
          f"{auc['difference']} [95% {auc['ci_low']}, {auc['ci_high']}]: {auc['verdict'] or auc['reason']}; net PnL "
          f"{pnl['model']} vs {pnl['baseline']} bps after costs, lift [95% {pnl['ci_low']}, {pnl['ci_high']}]: "
          f"{pnl['verdict'] or pnl['reason']}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
