"""Evaluation figures a researcher decides with: net-of-cost trade results, signal quality, and a paired
bootstrap of model minus baseline. Pure numpy, vectorized, no I/O, no scipy or sklearn.

Every figure that goes into a report is a Python float rounded to 6 decimals (``DECIMALS``; -0.0 written as
0.0) or ``None``; a ``None`` always comes with a reason string, never a NaN, so ``json.dumps`` of any result
is byte-stable. Bad input (a negative commission, a direction other than +1/-1, non-finite prices, arrays of
different lengths, probabilities outside [0, 1], labels other than 0/1) is an ``InputError`` with one line.

Costs (``trade_returns``)
    Prices and the spread are in the bars' price units (the ``spread`` column of gx1.bars / the dataset).
    A trade entered at ``entry`` and left at ``exit`` with ``direction`` +1 (long) or -1 (short):

        gross_bps      = direction * (exit - entry) / entry * 1e4
        spread_bps     = spread at the entry bar / entry * 1e4   (one full spread per round trip: the bars'
                         prices are one side of the book, so entering and leaving crosses it once; equal to
                         the dataset's ``spread_bps`` feature of the entry bar when entry = its close)
        commission_bps = the commission per ROUND TRIP in bps of the entry price (charged once per trade;
                         a broker quoting c bps per side is commission_bps = 2 * c); 0 or more
        net_bps        = gross_bps - spread_bps - commission_bps

Trade totals (``trade_summary``), over the trades given, ordered by exit time:
    gross_pnl_bps / net_pnl_bps: sums (0.0 without trades); hit_rate: share of trades with net_bps > 0 (a
    trade netting exactly 0 is no hit and no loss); profit_factor: sum of the winning nets / |sum of the
    losing nets|; avg_win_bps / avg_loss_bps: mean net of the winners / of the losers (the latter negative);
    max_drawdown_bps: the largest fall of the cumulative net PnL from its running peak, the curve starting
    at 0 before the first trade (0.0 without trades; a positive number); sharpe: of the daily net PnL,
    mean / sample std (ddof=1) * sqrt(periods_per_year) with periods_per_year = 252 by default, a day
    being a UTC calendar day of the window (``days``, e.g. ``trading_days(window_time)``) plus any day a
    trade exits on, days without an exit counting 0, a trade counting on its exit day; exposure:
    sum(hold_bars) / n_bars (trades are one at a time, as in the replay, so this is the share of the
    window's bars spent in a trade); turnover_per_day: trades / days. ``null_reasons`` maps every figure
    that is None to why (no trades, no losing trade, fewer than 2 days, no variation, no bars).

Signal quality
    ``rank_ic``: Spearman's rank correlation of a score with the realised forward return (Pearson's
    correlation of the average ranks, ties given the mean of the ranks they span); rows where either is
    not finite are left out (a forward return past the end of the data is NaN, ``forward_return_bps``).
    ``rank_ic_table``: the IC per group (fold), pooled over all rows, and ICIR = mean(IC) / std(IC, ddof=1)
    over the groups that have an IC (None below 2 such groups or when the ICs do not vary).
    ``brier_score``: mean((p - y)^2). ``reliability_table``: 10 equal-width bins of the predicted
    probability, [k/10, (k+1)/10) and the last one closed at 1.0; per bin the count, mean predicted and
    realised rate, an empty bin kept with count 0 and None values.

Paired bootstrap (``paired_bootstrap_auc``, ``paired_bootstrap_sum``)
    Replicate r resamples the rows with replacement: row indices ``default_rng(seed).integers(0, n,
    size=(replicates, n))[r]`` (drawn in chunks of rows; the stream does not depend on the chunking), and
    the SAME indices serve the model and the baseline, so the difference is paired. The result holds the
    point estimates on the original rows (model, baseline, difference = model - baseline), the percentile
    interval of the replicate differences (numpy's linear interpolation; 95 % by default) and ``verdict``:
    "beats the baseline" when the lower bound is above 0, "loses to the baseline" when the upper bound is
    below 0, "ties with the baseline" otherwise. AUC is rank-based (Mann-Whitney, ties count one half; equal
    to sklearn's roc_auc_score) and computed in exact integer arithmetic; a replicate whose resample holds
    one class only has no AUC and is left out (``replicates_used`` says how many counted). For net PnL the
    rows are whatever the caller pairs, e.g. ``pnl_by_row``: per eligible bar the net bps of the trade the
    bar opened (0 where none), for the model and for the baseline traded by the same rule.

Use (the lead's wiring in gx1/replay.py; names from ReplayResult)::

    from gx1 import evaluation as ev
    entry_rows = result.rows[result.trade_index]; exit_rows = entry_rows + hold_bars   # trades inside the data
    legs = ev.trade_returns(close[entry_rows], close[exit_rows], result.side[result.trade_index],
                            spread[entry_rows], commission_bps)
    totals = ev.trade_summary(legs["gross_bps"], legs["net_bps"], time[exit_rows], hold_bars, hi - lo,
                              ev.trading_days(result.window_time))
    forward = ev.forward_return_bps(close, result.rows, hold_bars)
    ic = ev.rank_ic(result.outputs[:, 0], forward)
    brier = ev.brier_score(result.p_dir, y_dir[result.rows])
    auc = ev.paired_bootstrap_auc(y_dir[result.rows], result.outputs[:, 0], baseline_scores, seed=seed)
    pnl = ev.paired_bootstrap_sum(ev.pnl_by_row(len(result.rows), result.trade_index, legs["net_bps"]),
                                  ev.pnl_by_row(len(result.rows), baseline_trade_index, baseline_net), seed=seed)
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from gx1.common import InputError

DECIMALS = 6                  # every reported figure is rounded to this many decimals
PERIODS_PER_YEAR = 252        # Sharpe annualisation: sqrt(252) trading days
RELIABILITY_BINS = 10         # equal-width probability bins of the reliability table
REPLICATES = 1000             # bootstrap replicates by default
CONFIDENCE = 0.95             # bootstrap interval by default
CHUNK_ELEMENTS = 1 << 21      # bootstrap replicates per chunk: max(1, CHUNK_ELEMENTS // n); no effect on results
BEATS, LOSES, TIES = "beats the baseline", "loses to the baseline", "ties with the baseline"


# ----------------------------------------------------------------------------- small helpers


def rounded(value: float | None) -> float | None:
    """A figure as written: a float rounded to DECIMALS (never -0.0), or None."""
    return None if value is None else round(float(value), DECIMALS) + 0.0


def _vector(name: str, values, dtype=np.float64) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _finite(name: str, values) -> np.ndarray:
    array = _vector(name, values)
    if not np.isfinite(array).all():
        raise InputError(f"{name} has a non-finite value at position {int(np.argmax(~np.isfinite(array)))}")
    return array


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InputError("lengths differ: " + ", ".join(f"{name} {n}" for name, n in lengths.items()))
    return next(iter(lengths.values()))


def _labels(name: str, values) -> np.ndarray:
    """Binary outcomes as int64 0/1 (bool or numbers equal to 0 or 1)."""
    array = _finite(name, values)
    if not np.isin(array, (0.0, 1.0)).all():
        raise InputError(f"{name} must hold 0 or 1 only, found {array[~np.isin(array, (0.0, 1.0))][0]!r}")
    return array.astype(np.int64)


def check_commission(commission_bps: float) -> float:
    """The commission (bps per round trip) as a float; negative or non-finite is an InputError."""
    try:
        value = float(commission_bps)
    except (TypeError, ValueError):
        raise InputError(f"commission_bps {commission_bps!r} is not a number of bps") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"commission_bps is {commission_bps!r}: a commission is a cost, give 0 or more bps per "
                         "round trip")
    return value


def trading_days(times) -> np.ndarray:
    """The distinct UTC calendar days (datetime64[D], sorted) of bar times: the ``days`` of ``trade_summary``."""
    return np.unique(np.asarray(times, dtype="datetime64[D]"))


def forward_return_bps(close, rows, horizon: int) -> np.ndarray:
    """(close[row + horizon] / close[row] - 1) * 1e4 per row; NaN where row + horizon is past the data."""
    close = _vector("close", close)
    rows = _vector("rows", rows, np.int64)
    ahead = rows + int(horizon)
    inside = ahead < len(close)
    out = np.full(len(rows), np.nan)
    out[inside] = (close[ahead[inside]] / close[rows[inside]] - 1.0) * 1e4
    return out


def pnl_by_row(n_rows: int, trade_rows, net_bps) -> np.ndarray:
    """Per row (e.g. eligible bar) the net bps of the trades it opened, 0 elsewhere: the paired rows of
    ``paired_bootstrap_sum`` (model and baseline on the same rows)."""
    trade_rows = _vector("trade_rows", trade_rows, np.int64)
    net_bps = _finite("net_bps", net_bps)
    _same_length(trade_rows=trade_rows, net_bps=net_bps)
    if len(trade_rows) and (trade_rows.min() < 0 or trade_rows.max() >= n_rows):
        raise InputError(f"trade_rows must lie in 0..{n_rows - 1}")
    out = np.zeros(int(n_rows))
    np.add.at(out, trade_rows, net_bps)
    return out


# ----------------------------------------------------------------------------- net-of-cost trades


def trade_returns(entry_price, exit_price, direction, spread, commission_bps: float) -> dict[str, np.ndarray]:
    """Per trade (float64 arrays, unrounded): gross_bps, spread_bps, commission_bps, net_bps (module docstring).

    ``spread`` is the entry bar's spread in price units; ``commission_bps`` is per round trip."""
    commission = check_commission(commission_bps)
    entry, exit_ = _finite("entry_price", entry_price), _finite("exit_price", exit_price)
    spread = _finite("spread", spread)
    side = _finite("direction", direction)
    _same_length(entry_price=entry, exit_price=exit_, direction=side, spread=spread)
    if (entry <= 0).any():
        raise InputError(f"entry_price must be positive, found {entry[entry <= 0][0]!r}")
    if not np.isin(side, (-1.0, 1.0)).all():
        raise InputError(f"direction must be +1 (long) or -1 (short), found {side[~np.isin(side, (-1.0, 1.0))][0]!r}")
    if (spread < 0).any():
        raise InputError(f"spread must be 0 or more (price units), found {spread[spread < 0][0]!r}")
    gross = side * (exit_ - entry) / entry * 1e4
    spread_bps = spread / entry * 1e4
    commission_column = np.full(len(entry), commission)
    return {"gross_bps": gross, "spread_bps": spread_bps, "commission_bps": commission_column,
            "net_bps": gross - spread_bps - commission_column}


def equity_curve(net_bps, exit_time) -> tuple[np.ndarray, np.ndarray]:
    """(exit times in order, cumulative net bps after each trade): the equity-curve plot's data."""
    net = _finite("net_bps", net_bps)
    times = np.asarray(exit_time, dtype="datetime64[ns]")
    _same_length(net_bps=net, exit_time=_vector("exit_time", times, times.dtype))
    order = np.argsort(times, kind="stable")
    return times[order], np.cumsum(net[order])


def max_drawdown(cumulative) -> float:
    """Largest fall of a cumulative PnL curve from its running peak, the curve starting at 0 (0.0 when empty)."""
    curve = np.concatenate(([0.0], _vector("cumulative", cumulative)))
    return float((np.maximum.accumulate(curve) - curve).max())


def daily_pnl(net_bps, exit_time, days) -> tuple[np.ndarray, np.ndarray]:
    """(days, net bps per day): ``days`` united with the trades' exit days, each trade on its exit day."""
    net = _finite("net_bps", net_bps)
    exit_days = np.asarray(exit_time, dtype="datetime64[D]")
    _same_length(net_bps=net, exit_time=_vector("exit_time", exit_days, exit_days.dtype))
    all_days = np.union1d(np.asarray(days, dtype="datetime64[D]").ravel(), exit_days)
    per_day = np.zeros(len(all_days))
    np.add.at(per_day, np.searchsorted(all_days, exit_days), net)
    return all_days, per_day


def sharpe(per_period, periods_per_year: int = PERIODS_PER_YEAR) -> tuple[float | None, str | None]:
    """(mean / std(ddof=1) * sqrt(periods_per_year), None) or (None, reason) below 2 periods or without variation."""
    values = _finite("per_period", per_period)
    if len(values) < 2:
        return None, f"fewer than 2 days ({len(values)})"
    if np.ptp(values) == 0:
        return None, "the daily net PnL does not vary"
    return float(values.mean() / values.std(ddof=1) * math.sqrt(periods_per_year)), None


def trade_summary(gross_bps, net_bps, exit_time, hold_bars, n_bars: int, days,
                  periods_per_year: int = PERIODS_PER_YEAR) -> dict:
    """Totals of a list of trades (module docstring), every figure rounded, None with a reason in ``null_reasons``.

    gross_bps, net_bps, exit_time (datetime64): per trade; hold_bars: per trade or one number; n_bars: the
    window's bars; days: the window's days (``trading_days``). Keys, in this order: n_trades, n_days,
    gross_pnl_bps, net_pnl_bps, hit_rate, profit_factor, avg_win_bps, avg_loss_bps, max_drawdown_bps, sharpe,
    sharpe_annualisation, exposure, turnover_per_day, null_reasons."""
    gross, net = _finite("gross_bps", gross_bps), _finite("net_bps", net_bps)
    n = _same_length(gross_bps=gross, net_bps=net)
    hold = _finite("hold_bars", np.atleast_1d(hold_bars))
    if len(hold) not in (1, n):
        raise InputError(f"hold_bars has {len(hold)} values for {n} trades: give one per trade or one for all")
    hold = np.broadcast_to(hold, (n,))
    if (hold < 0).any() or int(n_bars) < 0:
        raise InputError("hold_bars and n_bars must be 0 or more")
    _, cumulative = equity_curve(net, exit_time)
    all_days, per_day = daily_pnl(net, exit_time, days)
    wins, losses = net[net > 0], net[net < 0]
    reasons: dict[str, str] = {}

    def figure(name: str, value, reason: str | None):
        if value is None:
            reasons[name] = reason
        return rounded(value)

    no_trades = "no trades"
    sharpe_value, sharpe_reason = sharpe(per_day, periods_per_year)
    out = {
        "n_trades": n,
        "n_days": int(len(all_days)),
        "gross_pnl_bps": rounded(gross.sum()),
        "net_pnl_bps": rounded(net.sum()),
        "hit_rate": figure("hit_rate", len(wins) / n if n else None, no_trades),
        "profit_factor": figure("profit_factor", wins.sum() / -losses.sum() if len(losses) else None,
                                "no losing trade: the profit factor is unbounded" if n else no_trades),
        "avg_win_bps": figure("avg_win_bps", wins.mean() if len(wins) else None,
                              "no winning trade" if n else no_trades),
        "avg_loss_bps": figure("avg_loss_bps", losses.mean() if len(losses) else None,
                               "no losing trade" if n else no_trades),
        "max_drawdown_bps": rounded(max_drawdown(cumulative)),
        "sharpe": figure("sharpe", sharpe_value, no_trades if not n else sharpe_reason),
        "sharpe_annualisation": f"sqrt({periods_per_year})",
        "exposure": figure("exposure", hold.sum() / int(n_bars) if int(n_bars) else None, "no bars in the window"),
        "turnover_per_day": figure("turnover_per_day", n / len(all_days) if len(all_days) else None, "no days"),
    }
    out["null_reasons"] = reasons
    return out


# ----------------------------------------------------------------------------- ranks, IC, calibration


def _doubled_average_ranks(values: np.ndarray) -> np.ndarray:
    """2 x the 1-based average ranks (ties share the mean of the ranks they span), as exact int64."""
    n = len(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n) - 1
    run = np.cumsum(new_run) - 1
    doubled = np.empty(n, dtype=np.int64)
    doubled[order] = starts[run] + ends[run] + 2
    return doubled


def average_ranks(values) -> np.ndarray:
    """1-based ranks, ties given the average of the ranks they span (scipy.stats.rankdata's 'average')."""
    return _doubled_average_ranks(_finite("values", values)) / 2.0


def _spearman(score: np.ndarray, target: np.ndarray) -> tuple[float | None, str | None]:
    if len(score) < 2:
        return None, f"fewer than 2 rows with a finite score and forward return ({len(score)})"
    if np.ptp(score) == 0:
        return None, "the score is constant"
    if np.ptp(target) == 0:
        return None, "the forward return is constant"
    a = _doubled_average_ranks(score).astype(np.float64)
    b = _doubled_average_ranks(target).astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    return float(np.clip((a @ b) / math.sqrt((a @ a) * (b @ b)), -1.0, 1.0)), None


def _ic_rows(score, forward_return) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score, target = _vector("score", score), _vector("forward_return", forward_return)
    _same_length(score=score, forward_return=target)
    keep = np.isfinite(score) & np.isfinite(target)
    return score, target, keep


def rank_ic(score, forward_return) -> dict:
    """{"ic": Spearman correlation or None, "n": rows used, "reason": None or why} (non-finite pairs left out)."""
    score, target, keep = _ic_rows(score, forward_return)
    value, reason = _spearman(score[keep], target[keep])
    return {"ic": rounded(value), "n": int(keep.sum()), "reason": reason}


def rank_ic_table(score, forward_return, group) -> dict:
    """IC per group (sorted by group), pooled over all rows, and ICIR over the groups.

    Returns {"per_group": [{"group", "ic", "n", "reason"}, ...], "pooled": rank_ic(...), "groups_with_ic",
    "mean_ic", "std_ic", "icir", "null_reasons": {figure: reason}}; std_ic uses ddof=1."""
    score, target, keep = _ic_rows(score, forward_return)
    group = np.asarray(group)
    _same_length(score=score, group=_vector("group", group, group.dtype))
    per_group, values = [], []
    for name in np.unique(group):  # a loop over groups (folds), not rows
        rows = keep & (group == name)
        value, reason = _spearman(score[rows], target[rows])
        per_group.append({"group": name.item(), "ic": rounded(value), "n": int(rows.sum()), "reason": reason})
        values.append(value)
    ics = np.array([value for value in values if value is not None], dtype=np.float64)  # unrounded
    reasons: dict[str, str] = {}
    mean_ic = std_ic = icir = None
    if len(ics):
        mean_ic = float(ics.mean())
    else:
        reasons["mean_ic"] = "no group has an IC"
    if len(ics) < 2:
        reasons["std_ic"] = reasons["icir"] = f"fewer than 2 groups with an IC ({len(ics)})"
    else:
        std_ic = float(ics.std(ddof=1))
        if np.ptp(ics) == 0:
            reasons["icir"] = "the groups' ICs do not vary"
        else:
            icir = mean_ic / std_ic
    return {"per_group": per_group, "pooled": rank_ic(score, target), "groups_with_ic": int(len(ics)),
            "mean_ic": rounded(mean_ic), "std_ic": rounded(std_ic), "icir": rounded(icir), "null_reasons": reasons}


def _probabilities(prob, outcome) -> tuple[np.ndarray, np.ndarray]:
    p, y = _finite("prob", prob), _labels("outcome", outcome)
    _same_length(prob=p, outcome=y)
    if ((p < 0) | (p > 1)).any():
        raise InputError(f"prob must lie in [0, 1], found {p[(p < 0) | (p > 1)][0]!r}")
    return p, y


def brier_score(prob, outcome) -> dict:
    """{"brier": mean((prob - outcome)^2) or None, "n": rows, "reason": None or why}."""
    p, y = _probabilities(prob, outcome)
    if not len(p):
        return {"brier": None, "n": 0, "reason": "no rows"}
    return {"brier": rounded(np.mean((p - y) ** 2)), "n": int(len(p)), "reason": None}


def reliability_table(prob, outcome, bins: int = RELIABILITY_BINS) -> list[dict]:
    """One row per equal-width bin: {"bin", "lower", "upper", "count", "mean_predicted", "realised_rate"}.

    Bin k holds lower <= p < upper (the last one also p = 1.0); the edges are k / bins. Empty bins are kept
    with count 0 and None values."""
    p, y = _probabilities(prob, outcome)
    edges = np.arange(bins + 1) / bins
    index = np.minimum(np.searchsorted(edges, p, side="right") - 1, bins - 1)
    count = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=p, minlength=bins)
    realised = np.bincount(index, weights=y, minlength=bins)
    return [{"bin": k, "lower": rounded(edges[k]), "upper": rounded(edges[k + 1]), "count": int(count[k]),
             "mean_predicted": rounded(predicted[k] / count[k]) if count[k] else None,
             "realised_rate": rounded(realised[k] / count[k]) if count[k] else None} for k in range(bins)]


# ----------------------------------------------------------------------------- AUC and the paired bootstrap


def auc_score(labels, scores) -> float | None:
    """Rank-based ROC AUC (ties count one half; sklearn's roc_auc_score), unrounded; None with one class only."""
    y, s = _labels("labels", labels), _finite("scores", scores)
    _same_length(labels=y, scores=s)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    u_doubled = int(_doubled_average_ranks(s)[y == 1].sum()) - n1 * (n1 + 1)
    return u_doubled / (2 * n1 * n0)


def verdict(ci_low: float | None, ci_high: float | None) -> str | None:
    """The interval of model - baseline in words; None without an interval."""
    if ci_low is None or ci_high is None:
        return None
    return BEATS if ci_low > 0 else LOSES if ci_high < 0 else TIES


def bootstrap_indices(n: int, replicates: int, seed: int, chunk: int | None = None) -> Iterator[np.ndarray]:
    """Blocks of rows of default_rng(seed).integers(0, n, size=(replicates, n)), ``chunk`` replicates each."""
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, CHUNK_ELEMENTS // max(n, 1))
    for first in range(0, replicates, chunk):
        yield rng.integers(0, n, size=(min(chunk, replicates - first), n))


def _counts(indices: np.ndarray, n: int) -> np.ndarray:
    """(replicates, n) int64: how often each row was drawn in each replicate."""
    k = len(indices)
    flat = (indices + (np.arange(k, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=k * n).reshape(k, n)


def _score_runs(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the sort order of the scores, the first position of each run of equal scores in it)."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    return order, np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))


def _weighted_auc(counts: np.ndarray, y: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """AUC of each resample given as row counts (exact integer Mann-Whitney); NaN where a class is missing."""
    drawn = counts[:, order]
    positives = drawn * y[order]
    w1 = np.add.reduceat(positives, starts, axis=1)          # positives per run of equal scores
    w0 = np.add.reduceat(drawn - positives, starts, axis=1)  # negatives per run
    below = np.cumsum(w0, axis=1) - w0                        # negatives with a lower score
    u_doubled = (w1 * (2 * below + w0)).sum(axis=1)
    pairs_doubled = 2 * w1.sum(axis=1) * w0.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs_doubled > 0, u_doubled / np.maximum(pairs_doubled, 1), np.nan)


def _check_bootstrap(replicates: int, seed: int, confidence: float) -> None:
    if not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise InputError(f"replicates must be a whole number of 1 or more, got {replicates!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a whole number of 0 or more, got {seed!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _auc_differences(y, model, baseline, replicates, seed, chunk=None) -> np.ndarray:
    """Per replicate model AUC - baseline AUC on the same resample (NaN where the resample has one class)."""
    runs = _score_runs(model), _score_runs(baseline)
    parts = []
    for indices in bootstrap_indices(len(y), replicates, seed, chunk):
        counts = _counts(indices, len(y))
        parts.append(_weighted_auc(counts, y, *runs[0]) - _weighted_auc(counts, y, *runs[1]))
    return np.concatenate(parts)


def _sum_differences(model, baseline, replicates, seed, chunk=None) -> np.ndarray:
    """Per replicate sum(model) - sum(baseline) over the same resampled rows."""
    difference = model - baseline
    return np.concatenate([(_counts(indices, len(difference)) * difference).sum(axis=1)
                           for indices in bootstrap_indices(len(difference), replicates, seed, chunk)])


def _interval_result(metric: str, n: int, model, baseline, differences, replicates: int, seed: int,
                     confidence: float, reason: str | None) -> dict:
    """The bootstrap's result dict (keys in a fixed order)."""
    low = high = None
    used = 0
    if reason is None:
        finite = differences[np.isfinite(differences)]
        used = int(len(finite))
        if used:
            tail = round(50.0 * (1.0 - confidence), 10)
            low, high = (float(v) for v in np.percentile(finite, [tail, 100.0 - tail]))
        else:
            reason = "every resample held one class only"
    low, high = rounded(low), rounded(high)
    difference = None if model is None or baseline is None else model - baseline
    return {"metric": metric, "n": int(n), "model": rounded(model), "baseline": rounded(baseline),
            "difference": rounded(difference), "ci_low": low, "ci_high": high, "confidence": confidence,
            "replicates": int(replicates), "replicates_used": used, "seed": int(seed),
            "verdict": verdict(low, high), "reason": reason}


def paired_bootstrap_auc(labels, model_scores, baseline_scores, replicates: int = REPLICATES, seed: int = 0,
                         confidence: float = CONFIDENCE) -> dict:
    """Model AUC - baseline AUC on the same rows with its paired-bootstrap percentile interval.

    Returns {"metric": "auc", "n", "model", "baseline", "difference", "ci_low", "ci_high", "confidence",
    "replicates", "replicates_used", "seed", "verdict", "reason"}; figures None (with ``reason``) when there
    are no rows or the labels hold one class."""
    _check_bootstrap(replicates, seed, confidence)
    y = _labels("labels", labels)
    model, baseline = _finite("model_scores", model_scores), _finite("baseline_scores", baseline_scores)
    n = _same_length(labels=y, model_scores=model, baseline_scores=baseline)
    model_auc, baseline_auc = auc_score(y, model), auc_score(y, baseline)
    reason = "no rows" if n == 0 else "the labels hold one class only: AUC is undefined" if model_auc is None else None
    differences = _auc_differences(y, model, baseline, replicates, seed) if reason is None else np.zeros(0)
    return _interval_result("auc", n, model_auc, baseline_auc, differences, replicates, seed, confidence, reason)


def paired_bootstrap_sum(model_values, baseline_values, replicates: int = REPLICATES, seed: int = 0,
                         confidence: float = CONFIDENCE) -> dict:
    """sum(model) - sum(baseline) over paired rows (e.g. ``pnl_by_row`` net bps) with its percentile interval.

    Returns the keys of ``paired_bootstrap_auc`` with "metric": "sum"; None (with ``reason``) without rows."""
    _check_bootstrap(replicates, seed, confidence)
    model, baseline = _finite("model_values", model_values), _finite("baseline_values", baseline_values)
    n = _same_length(model_values=model, baseline_values=baseline)
    if n == 0:
        return _interval_result("sum", 0, None, None, np.zeros(0), replicates, seed, confidence, "no rows")
    differences = _sum_differences(model, baseline, replicates, seed)
    return _interval_result("sum", n, float(model.sum()), float(baseline.sum()), differences, replicates, seed,
                            confidence, None)
