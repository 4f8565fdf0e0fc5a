"""gx1.evaluation against independent computations: hand-computed trades, plain-Python rank correlation and
bootstrap references, sklearn's roc_auc_score; None with a reason (never NaN) where a figure cannot be computed.

Run: python3 -m pytest -q -n 0 tests/test_evaluation.py
"""
from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gx1 import evaluation as ev
from gx1.common import InputError

DAY = "datetime64[ns]"


def as_json(result) -> str:
    return json.dumps(result, sort_keys=True, allow_nan=False)  # raises on any NaN or infinity


# ----------------------------------------------------------------------------- trades, by hand

# entry, exit, direction, spread (price units), exit time; commission 1 bps per round trip
TRADES = [
    (100.0, 101.0, +1, 0.02, "2025-01-02T10:00"),   # gross +100, spread 2, net  97
    (200.0, 202.0, -1, 0.10, "2025-01-02T15:00"),   # gross -100, spread 5, net -106
    (50.0, 50.25, +1, 0.005, "2025-01-03T09:00"),   # gross  +50, spread 1, net  48
    (400.0, 399.6, -1, 0.04, "2025-01-06T12:00"),   # gross  +10, spread 1, net   8
    (80.0, 79.6, +1, 0.008, "2025-01-06T13:00"),    # gross  -50, spread 1, net -52
]
WINDOW_DAYS = np.array(["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"], dtype="datetime64[D]")


def legs(trades=TRADES, commission=1.0):
    entry, exit_, side, spread, _ = zip(*trades)
    return ev.trade_returns(entry, exit_, side, spread, commission)


def exit_times(trades=TRADES):
    return np.array([t[4] for t in trades], dtype=DAY)


def test_per_trade_gross_spread_commission_and_net_bps_by_hand():
    result = legs()
    assert result["gross_bps"] == pytest.approx([100, -100, 50, 10, -50], abs=1e-9)
    assert result["spread_bps"] == pytest.approx([2, 5, 1, 1, 1], abs=1e-9)
    assert result["commission_bps"] == pytest.approx([1, 1, 1, 1, 1])
    assert result["net_bps"] == pytest.approx([97, -106, 48, 8, -52], abs=1e-9)
    assert legs(commission=0.0)["net_bps"] == pytest.approx([98, -105, 49, 9, -51], abs=1e-9)


def test_trade_totals_by_hand():
    result = legs()
    summary = ev.trade_summary(result["gross_bps"], result["net_bps"], exit_times(), 6, 100, WINDOW_DAYS)
    # net in exit order 97, -106, 48, 8, -52: cumulative 97, -9, 39, 47, -5; peak 97, deepest -9 -> drawdown 106
    # daily (exit day; 2025-01-07 has no exit): -9, 48, -44, 0 -> mean -1.25, deviations -7.75 49.25 -42.75 1.25,
    # sum of squares 4314.75, sample variance 4314.75 / 3 = 1438.25
    expected = {
        "n_trades": 5, "n_days": 4,
        "gross_pnl_bps": 10.0, "net_pnl_bps": -5.0,
        "hit_rate": 0.6,                                  # 97, 48, 8 of 5
        "profit_factor": round(153 / 158, 6),             # (97 + 48 + 8) / (106 + 52) = 0.968354
        "avg_win_bps": 51.0, "avg_loss_bps": -79.0,       # 153 / 3, -158 / 2
        "max_drawdown_bps": 106.0,
        "sharpe": round(-1.25 / math.sqrt(1438.25) * math.sqrt(252), 6),
        "sharpe_annualisation": "sqrt(252)",
        "exposure": 0.3,                                  # 5 trades x 6 bars of 100
        "turnover_per_day": 1.25,                         # 5 trades in 4 days
        "null_reasons": {},
    }
    assert summary == expected
    assert expected["sharpe"] == -0.523231  # -1.25 / 37.924260 * 15.874508, as a number
    order = [3, 0, 4, 2, 1]  # the trades in another order give the same totals (ordered by exit time)
    shuffled = ev.trade_summary(result["gross_bps"][order], result["net_bps"][order], exit_times()[order],
                                np.full(5, 6), 100, WINDOW_DAYS)
    assert shuffled == expected


def test_equity_curve_and_daily_pnl_by_hand():
    result = legs()
    times, curve = ev.equity_curve(result["net_bps"][::-1], exit_times()[::-1])
    assert list(times) == list(exit_times())
    assert curve == pytest.approx([97, -9, 39, 47, -5])
    days, per_day = ev.daily_pnl(result["net_bps"], exit_times(), WINDOW_DAYS[:1])  # exit days are added
    assert [str(d) for d in days] == ["2025-01-02", "2025-01-03", "2025-01-06"]
    assert per_day == pytest.approx([-9, 48, -44])
    assert ev.max_drawdown([-3.0, 5.0, 1.0, 2.0]) == 4.0  # from 5 to 1 (the start at 0 -> -3 is only 3)
    assert ev.max_drawdown([-3.0, -1.0]) == 3.0  # the curve starts at 0 before the first trade
    assert ev.max_drawdown([]) == 0.0


def test_a_trade_netting_zero_is_neither_a_hit_nor_a_loss():
    summary = ev.trade_summary([1.0, 3.0, 0.0], [0.0, 2.0, -1.0], exit_times()[:3], 6, 100, [])
    assert (summary["hit_rate"], summary["avg_win_bps"], summary["avg_loss_bps"], summary["profit_factor"]) == \
        (round(1 / 3, 6), 2.0, -1.0, 2.0)


def test_no_trades_gives_none_with_a_reason_never_nan():
    summary = ev.trade_summary([], [], np.array([], dtype=DAY), 6, 100, WINDOW_DAYS)
    assert summary["n_trades"] == 0 and summary["net_pnl_bps"] == 0.0 and summary["gross_pnl_bps"] == 0.0
    assert summary["exposure"] == 0.0 and summary["turnover_per_day"] == 0.0 and summary["max_drawdown_bps"] == 0.0
    for figure in ("hit_rate", "profit_factor", "avg_win_bps", "avg_loss_bps", "sharpe"):
        assert summary[figure] is None and summary["null_reasons"][figure] == "no trades"
    as_json(summary)
    nothing = ev.trade_summary([], [], [], 6, 0, [])
    assert nothing["exposure"] is None and nothing["null_reasons"]["exposure"] == "no bars in the window"
    assert nothing["turnover_per_day"] is None and nothing["null_reasons"]["turnover_per_day"] == "no days"
    as_json(nothing)


def test_figures_without_losers_one_day_or_no_variation_are_none_with_reasons():
    winners = [TRADES[0], TRADES[2]]  # nets 97 and 48 on two days
    result = legs(winners)
    summary = ev.trade_summary(result["gross_bps"], result["net_bps"], exit_times(winners), [6, 3], 18, [])
    assert summary["profit_factor"] is None and "no losing trade" in summary["null_reasons"]["profit_factor"]
    assert summary["avg_loss_bps"] is None and summary["avg_win_bps"] == 72.5 and summary["hit_rate"] == 1.0
    assert summary["exposure"] == 0.5 and summary["n_days"] == 2 and summary["turnover_per_day"] == 1.0
    assert summary["sharpe"] == round(72.5 / statistics.stdev([97, 48]) * math.sqrt(252), 6)
    one_day = ev.trade_summary(result["gross_bps"], result["net_bps"], exit_times(winners)[[0, 0]], 6, 100, [])
    assert one_day["sharpe"] is None and one_day["null_reasons"]["sharpe"] == "fewer than 2 days (1)"
    flat = ev.trade_summary([5.0, 5.0], [4.0, 4.0], exit_times(winners), 6, 100, [])
    assert flat["sharpe"] is None and flat["null_reasons"]["sharpe"] == "the daily net PnL does not vary"
    assert flat["avg_loss_bps"] is None and flat["null_reasons"]["avg_loss_bps"] == "no losing trade"
    as_json([summary, one_day, flat])


@pytest.mark.parametrize("commission", [-0.5, -1, float("nan"), "abc"])
def test_a_negative_or_non_numeric_commission_is_one_line_input_error(commission):
    with pytest.raises(InputError) as caught:
        legs(commission=commission)
    assert "commission_bps" in str(caught.value) and "\n" not in str(caught.value)


def test_bad_trade_inputs_are_input_errors():
    with pytest.raises(InputError, match="direction"):
        ev.trade_returns([100.0], [101.0], [2], [0.1], 0)
    with pytest.raises(InputError, match="lengths differ"):
        ev.trade_returns([100.0, 1.0], [101.0], [1], [0.1], 0)
    with pytest.raises(InputError, match="non-finite"):
        ev.trade_returns([100.0], [np.nan], [1], [0.1], 0)
    with pytest.raises(InputError, match="spread"):
        ev.trade_returns([100.0], [101.0], [1], [-0.1], 0)
    with pytest.raises(InputError, match="hold_bars"):
        ev.trade_summary([1.0, 2.0], [1.0, 2.0], exit_times()[:2], [6, 6, 6], 100, [])


def test_helpers_forward_return_pnl_by_row_and_trading_days():
    close = np.array([100.0, 101.0, 99.0, 102.0])
    assert ev.forward_return_bps(close, [0, 1, 2], 2) == pytest.approx([-100.0, (102 / 101 - 1) * 1e4, np.nan],
                                                                      nan_ok=True)
    assert list(ev.pnl_by_row(5, [1, 3, 3], [2.0, -1.0, 0.5])) == [0.0, 2.0, 0.0, -0.5, 0.0]
    times = np.array(["2025-01-02T23:55", "2025-01-03T00:00", "2025-01-03T10:00"], dtype=DAY)
    assert [str(d) for d in ev.trading_days(times)] == ["2025-01-02", "2025-01-03"]


# ----------------------------------------------------------------------------- rank IC, by a plain reference


def reference_ranks(xs):
    return [sum(v < x for v in xs) + (sum(v == x for v in xs) + 1) / 2 for x in xs]


def reference_spearman(xs, ys):
    pairs = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    a = reference_ranks([p[0] for p in pairs])
    b = reference_ranks([p[1] for p in pairs])
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((u - mean_a) * (v - mean_b) for u, v in zip(a, b))
    return cov / math.sqrt(sum((u - mean_a) ** 2 for u in a) * sum((v - mean_b) ** 2 for v in b))


def tied_data(seed, n=90):
    rng = np.random.default_rng(seed)
    score = np.round(rng.normal(size=n), 1)                     # many ties
    forward = np.round(0.4 * score + rng.normal(size=n), 1)
    forward[rng.choice(n, 5, replace=False)] = np.nan          # past the end of the data
    return score, forward


def test_average_ranks_equal_the_plain_reference():
    values = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 7.5]
    assert list(ev.average_ranks(values)) == reference_ranks(values) == [5.0, 1.5, 5.0, 3.0, 5.0, 1.5, 7.0]
    score, _ = tied_data(0)
    assert list(ev.average_ranks(score)) == reference_ranks(list(score))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_ic_equals_a_plain_spearman_with_ties_and_missing_returns(seed):
    score, forward = tied_data(seed)
    result = ev.rank_ic(score, forward)
    assert result["n"] == 85 and result["reason"] is None
    assert result["ic"] == pytest.approx(reference_spearman(list(score), list(forward)), abs=1e-6)


def test_rank_ic_per_group_pooled_and_icir_against_the_reference():
    score, forward = tied_data(4, n=120)
    group = np.repeat(["2025-03", "2025-01", "2025-02"], 40)
    forward[group == "2025-02"] = np.round(forward[group == "2025-02"] - 0.5 * score[group == "2025-02"], 1)
    table = ev.rank_ic_table(score, forward, group)
    assert [row["group"] for row in table["per_group"]] == ["2025-01", "2025-02", "2025-03"]
    expected = {}
    for name in ("2025-01", "2025-02", "2025-03"):
        rows = group == name
        expected[name] = reference_spearman(list(score[rows]), list(forward[rows]))
    for row in table["per_group"]:
        assert row["ic"] == pytest.approx(expected[row["group"]], abs=1e-6)
        assert row["n"] == int((np.isfinite(forward) & (group == row["group"])).sum())
    assert table["pooled"]["ic"] == pytest.approx(reference_spearman(list(score), list(forward)), abs=1e-6)
    ics = list(expected.values())
    assert table["groups_with_ic"] == 3
    assert table["mean_ic"] == pytest.approx(statistics.mean(ics), abs=1e-6)
    assert table["std_ic"] == pytest.approx(statistics.stdev(ics), abs=1e-6)
    assert table["icir"] == pytest.approx(statistics.mean(ics) / statistics.stdev(ics), abs=1e-6)
    assert table["null_reasons"] == {}
    as_json(table)


def test_rank_ic_none_with_reasons():
    assert ev.rank_ic([], []) == {"ic": None, "n": 0,
                                  "reason": "fewer than 2 rows with a finite score and forward return (0)"}
    assert ev.rank_ic([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["reason"] == "the score is constant"
    assert ev.rank_ic([1.0, 2.0, 3.0], [np.nan, 2.0, 2.0])["reason"] == "the forward return is constant"
    score, forward = tied_data(5, n=40)
    one = ev.rank_ic_table(score, forward, np.zeros(40, dtype=int))
    assert one["per_group"][0]["group"] == 0 and one["mean_ic"] == one["pooled"]["ic"]
    assert one["icir"] is None and one["null_reasons"]["icir"] == "fewer than 2 groups with an IC (1)"
    empty = ev.rank_ic_table([], [], np.array([], dtype=int))
    assert empty["per_group"] == [] and empty["mean_ic"] is None and "mean_ic" in empty["null_reasons"]
    as_json([one, empty])


# ----------------------------------------------------------------------------- calibration, by hand


def test_brier_score_by_hand():
    # (0.1 - 0)^2 + (0.8 - 1)^2 + (0.35 - 1)^2 + (1 - 1)^2 = 0.01 + 0.04 + 0.4225 + 0 = 0.4725, / 4
    assert ev.brier_score([0.1, 0.8, 0.35, 1.0], [0, 1, 1, 1]) == {"brier": 0.118125, "n": 4, "reason": None}
    assert ev.brier_score([], []) == {"brier": None, "n": 0, "reason": "no rows"}
    with pytest.raises(InputError, match="prob"):
        ev.brier_score([1.2], [1])
    with pytest.raises(InputError, match="outcome"):
        ev.brier_score([0.5], [2])


def test_reliability_table_by_hand_with_edges_and_empty_bins():
    prob = [0.0, 0.05, 0.1, 0.15, 0.3, 0.95, 1.0, 0.99]
    outcome = [0, 0, 1, 0, 1, 1, 1, 0]
    table = ev.reliability_table(prob, outcome)
    assert [row["bin"] for row in table] == list(range(10))
    assert [(row["lower"], row["upper"]) for row in table][:3] == [(0.0, 0.1), (0.1, 0.2), (0.2, 0.3)]
    filled = {row["bin"]: (row["count"], row["mean_predicted"], row["realised_rate"]) for row in table if row["count"]}
    assert filled == {0: (2, 0.025, 0.0),          # 0.0, 0.05
                      1: (2, 0.125, 0.5),          # 0.1 (the lower edge belongs to the bin), 0.15
                      3: (1, 0.3, 1.0),            # 0.3 exactly
                      9: (3, 0.98, 0.666667)}      # 0.95, 1.0 (the last bin is closed), 0.99: 2.94 / 3, 2 / 3
    for row in table:
        if row["bin"] not in filled:
            assert row["count"] == 0 and row["mean_predicted"] is None and row["realised_rate"] is None
    empty = ev.reliability_table([], [])
    assert [row["count"] for row in empty] == [0] * 10
    as_json([table, empty])


# ----------------------------------------------------------------------------- AUC against sklearn


@pytest.mark.parametrize("seed,n,levels", [(0, 50, 0), (1, 400, 0), (2, 300, 4), (3, 7, 2), (4, 1000, 20)])
def test_auc_equals_sklearn_with_ties(seed, n, levels):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = rng.normal(size=n) + 0.5 * labels
    if levels:  # heavy ties
        scores = np.floor(scores * levels / 3)
    assert ev.auc_score(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auc_of_one_class_is_none():
    assert ev.auc_score([1, 1, 1], [0.1, 0.2, 0.3]) is None
    assert ev.auc_score([], []) is None


# ----------------------------------------------------------------------------- the paired bootstrap


def reference_auc(labels, scores):
    positives = [s for s, y in zip(scores, labels) if y == 1]
    negatives = [s for s, y in zip(scores, labels) if y == 0]
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in positives for q in negatives)
    return wins / (len(positives) * len(negatives))


def reference_bootstrap(n, replicates, seed, statistic):
    """One replicate at a time: draw n row indices, evaluate the statistic on them (None = no value)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(replicates):
        indices = [int(i) for i in rng.integers(0, n, size=n)]
        values.append(statistic(indices))
    return values


def small_case(seed=7, n=25, positives=4):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=int)
    labels[rng.choice(n, positives, replace=False)] = 1
    model = np.round(rng.normal(size=n) + labels, 1)
    baseline = np.round(rng.normal(size=n), 1)
    return labels, model, baseline


def test_bootstrap_auc_equals_a_plain_loop_reference():
    labels, model, baseline = small_case()
    replicates, seed = 300, 3

    def difference(indices):
        y = [labels[i] for i in indices]
        m, b = reference_auc(y, [model[i] for i in indices]), reference_auc(y, [baseline[i] for i in indices])
        return None if m is None else m - b
    expected = reference_bootstrap(len(labels), replicates, seed, difference)
    got = ev._auc_differences(labels, model, baseline, replicates, seed)
    assert [None if math.isnan(v) else pytest.approx(v, abs=1e-12) for v in got] == expected
    kept = [v for v in expected if v is not None]
    assert 0 < replicates - len(kept) < 20  # resamples without a positive were left out, as in the reference
    result = ev.paired_bootstrap_auc(labels, model, baseline, replicates=replicates, seed=seed)
    low, high = np.percentile(kept, [2.5, 97.5])
    assert result["replicates_used"] == len(kept) and result["replicates"] == replicates
    assert result["ci_low"] == pytest.approx(low, abs=1e-6) and result["ci_high"] == pytest.approx(high, abs=1e-6)
    assert result["model"] == pytest.approx(roc_auc_score(labels, model), abs=1e-6)
    assert result["baseline"] == pytest.approx(roc_auc_score(labels, baseline), abs=1e-6)
    assert result["difference"] == pytest.approx(roc_auc_score(labels, model) - roc_auc_score(labels, baseline),
                                                 abs=1e-6)
    assert result["verdict"] == ev.verdict(result["ci_low"], result["ci_high"])


def test_bootstrap_sum_equals_a_plain_loop_reference():
    rng = np.random.default_rng(11)
    model = np.where(rng.random(40) < 0.3, np.round(rng.normal(5, 20, 40), 3), 0.0)
    baseline = np.where(rng.random(40) < 0.3, np.round(rng.normal(0, 20, 40), 3), 0.0)
    expected = reference_bootstrap(40, 250, 9, lambda idx: sum(model[i] for i in idx) - sum(baseline[i] for i in idx))
    got = ev._sum_differences(model, baseline, 250, 9)
    assert list(got) == pytest.approx(expected, abs=1e-9)
    result = ev.paired_bootstrap_sum(model, baseline, replicates=250, seed=9)
    low, high = np.percentile(expected, [2.5, 97.5])
    assert result["ci_low"] == pytest.approx(low, abs=1e-6) and result["ci_high"] == pytest.approx(high, abs=1e-6)
    assert result["model"] == pytest.approx(model.sum(), abs=1e-6)
    assert result["difference"] == pytest.approx(model.sum() - baseline.sum(), abs=1e-6)
    assert result["metric"] == "sum" and result["replicates_used"] == 250 and result["reason"] is None


def test_bootstrap_is_byte_stable_for_a_seed_and_differs_for_another(monkeypatch):
    labels, model, baseline = small_case(seed=1, n=200, positives=90)
    runs = [as_json([ev.paired_bootstrap_auc(labels, model, baseline, seed=seed),
                     ev.paired_bootstrap_sum(model, baseline, seed=seed)]) for seed in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    monkeypatch.setattr(ev, "CHUNK_ELEMENTS", 7 * 200)  # 7 replicates a chunk instead of all at once: same bytes
    assert as_json([ev.paired_bootstrap_auc(labels, model, baseline, seed=5),
                    ev.paired_bootstrap_sum(model, baseline, seed=5)]) == runs[0]
    result = json.loads(runs[0])[0]
    assert result["replicates"] == 1000 and result["confidence"] == 0.95
    for key in ("model", "baseline", "difference", "ci_low", "ci_high"):
        assert result[key] == round(result[key], 6)


def test_bootstrap_verdicts_for_a_clear_winner_and_loser():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 300)
    informed, noise = labels + rng.normal(0, 0.8, 300), rng.normal(size=300)
    assert ev.paired_bootstrap_auc(labels, informed, noise, replicates=200)["verdict"] == "beats the baseline"
    assert ev.paired_bootstrap_auc(labels, noise, informed, replicates=200)["verdict"] == "loses to the baseline"
    same = ev.paired_bootstrap_auc(labels, informed, informed, replicates=50)
    assert same["verdict"] == "ties with the baseline" and same["ci_low"] == same["ci_high"] == 0.0
    pnl = ev.paired_bootstrap_sum(np.full(50, 3.0) + rng.normal(size=50), np.zeros(50), replicates=200)
    assert pnl["verdict"] == "beats the baseline"


def test_verdict_words():
    assert ev.verdict(0.001, 0.05) == "beats the baseline"
    assert ev.verdict(-0.05, -0.001) == "loses to the baseline"
    assert ev.verdict(-0.01, 0.02) == "ties with the baseline"
    assert ev.verdict(0.0, 0.02) == "ties with the baseline"  # the lower bound must be above 0
    assert ev.verdict(-0.02, 0.0) == "ties with the baseline"
    assert ev.verdict(None, 0.1) is None


def test_bootstrap_without_rows_or_with_one_class_is_none_with_a_reason():
    empty_auc = ev.paired_bootstrap_auc([], [], [])
    empty_sum = ev.paired_bootstrap_sum([], [])
    one_class = ev.paired_bootstrap_auc([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    for result, reason in ((empty_auc, "no rows"), (empty_sum, "no rows"),
                           (one_class, "the labels hold one class only: AUC is undefined")):
        assert result["reason"] == reason and result["verdict"] is None and result["replicates_used"] == 0
        assert all(result[k] is None for k in ("model", "baseline", "difference", "ci_low", "ci_high"))
    as_json([empty_auc, empty_sum, one_class])
    with pytest.raises(InputError, match="replicates"):
        ev.paired_bootstrap_sum([1.0], [0.0], replicates=0)
    with pytest.raises(InputError, match="lengths differ"):
        ev.paired_bootstrap_auc([0, 1], [0.1, 0.2], [0.1])
