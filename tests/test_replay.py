"""Replay: model outputs equal the training-time path, entry quality equals brute force, refusals exit 2.

Run: python -m pytest -q tests/test_replay.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from conftest import dataset_with_label_config
from gx1 import compare, replay
from gx1.common import run_cli
from gx1.contract import build_contract, contract_hash
from gx1.dataset import read_dataset, split_rows
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

ENV = "ENTRY_CONTEXT_FEATURES_ENABLED"
LOOSE = ["--dir_threshold", "0.5", "--early_threshold", "0", "--days", "3",  # every eligible bar is a candidate
         "--commission_bps", "1.5"]


@pytest.fixture(scope="module")
def bundle_dir(trained_run):
    return trained_run[0]


def run_replay(argv: list[str], monkeypatch, capsys, context: str | None = "true") -> tuple[int, str]:
    """Run the CLI in-process through run_cli; return (exit code, stderr)."""
    if context is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, context)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(replay.main, argv)
    return exit_info.value.code, capsys.readouterr().err


def read_tsv(path) -> dict[str, np.ndarray]:
    lines = path.read_text().splitlines()
    header, body = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    return {name: np.array([fields[i] for fields in body], dtype=str) for i, name in enumerate(header)}


@pytest.fixture(scope="module")
def default_run(small_pipeline, bundle_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("replay_default")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, "true")
        assert replay.main(["--bundle_dir", str(bundle_dir), "--data", str(small_pipeline["data"]), "--out_dir", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def loose_run(small_pipeline, bundle_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("replay_loose")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, "true")
        assert replay.main(["--bundle_dir", str(bundle_dir), "--data", str(small_pipeline["data"]),
                            "--out_dir", str(out), *LOOSE]) == 0
    return out


def reference_outputs(data: dict, bundle_dir, rows: np.ndarray) -> np.ndarray:
    """The training-time data path rebuilt independently of the code it checks: plain numpy scaling
    ((x - mean) / scale with the scalers' numbers) and window stacking, then the model."""
    meta = json.loads((bundle_dir / "entry_v9_feature_meta.json").read_text())
    metadata = json.loads((bundle_dir / "bundle_metadata.json").read_text())
    config = EntryV10Config(**metadata["model_config"])
    contract = meta["contract"]
    seq_scaler, snap_scaler = (joblib.load(bundle_dir / f"{kind}_scaler.joblib") for kind in ("seq", "snap"))  # our own files
    seq = (np.column_stack([data[n] for n in contract["seq_features"]]).astype(np.float32)
           - seq_scaler.mean_.astype(np.float32)) / seq_scaler.scale_.astype(np.float32)
    snap = (np.column_stack([data[n] for n in contract["snap_features"]]).astype(np.float32)
            - snap_scaler.mean_.astype(np.float32)) / snap_scaler.scale_.astype(np.float32)
    windows = np.stack([seq[row - config.seq_len + 1:row + 1] for row in rows])
    ctx_cat = np.column_stack([data[c["name"]] for c in contract["ctx_cat_features"]]).astype(np.int64)[rows]
    ctx_cont = np.column_stack([data[n] for n in contract["ctx_cont_features"]]).astype(np.float32)[rows]
    model = EntryV10Model(config)
    model.load_state_dict(torch.load(bundle_dir / "model_state_dict.pt", weights_only=True))
    model.eval()
    with torch.no_grad():
        return model(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (windows, snap[rows], ctx_cat, ctx_cont))).numpy()


def test_every_eligible_bar_matches_training_path(small_pipeline, bundle_dir, default_run):
    data = read_dataset(str(small_pipeline["data"]))
    time = data["time"]
    in_window = time > time[-1] - np.timedelta64(7, "D")
    rows = np.flatnonzero(in_window & data["eligible"].astype(bool))
    assert len(rows) > 500
    expected = reference_outputs(data, bundle_dir, rows)
    got = read_tsv(default_run / "outputs.tsv")
    np.testing.assert_array_equal(got["row"].astype(np.int64), rows)
    np.testing.assert_array_equal(got["time"], np.datetime_as_string(time[rows], unit="s").astype(object) + "Z")
    outputs = np.column_stack([got[c].astype(np.float32) for c in ("direction_logit", "early_move_logit", "quality")])
    np.testing.assert_array_equal(outputs, expected)
    p_dir = 1.0 / (1.0 + np.exp(-expected[:, 0].astype(np.float64)))
    np.testing.assert_allclose(got["p_dir"].astype(np.float64), p_dir, rtol=1e-10)
    summary = json.loads((default_run / "replay.json").read_text())
    assert summary["bars_replayed"] == int(in_window.sum()) and summary["eligible_bars"] == len(rows)
    assert summary["bundle"]["model_variant"] == "v10_ctx"
    assert summary["bundle"]["feature_contract_hash"] == (bundle_dir / "feature_contract_hash.txt").read_text().strip()


def brute_force_quality(high, low, close, atr, row, side, n_bars):
    if row + n_bars >= len(close):
        return None
    entry = close[row]
    highest = max(high[row + 1:row + n_bars + 1])
    lowest = min(low[row + 1:row + n_bars + 1])
    mfe, mae = (highest - entry, entry - lowest) if side > 0 else (entry - lowest, highest - entry)
    return mae / entry * 1e4, mfe / entry * 1e4, mae / atr[row], mfe / atr[row], mae > mfe


def test_entry_quality_equals_brute_force_on_hand_made_table():
    close = np.array([100.0, 101.0, 99.0, 102.0, 100.5, 98.0, 103.0, 101.0])
    high = close + np.array([0.5, 1.0, 2.5, 0.2, 0.3, 1.0, 0.1, 0.4])
    low = close - np.array([0.4, 3.0, 0.2, 1.5, 0.1, 0.6, 2.0, 0.3])
    atr = np.array([2.0, 2.0, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0], dtype=np.float32)
    rows, sides = np.array([0, 1, 2, 3, 4, 5]), np.array([1, -1, 1, 1, -1, 1])
    got = replay.entry_quality(high, low, close, atr, rows, sides, 3)
    # by hand: long at 100 over bars 1..3: highest 102.2, lowest 98 -> MFE 2.2, MAE 2.0
    assert got["mfe_bps"][0] == pytest.approx(220.0) and got["mae_bps"][0] == pytest.approx(200.0)
    assert got["mfe_atr"][0] == pytest.approx(1.1) and not got["goes_against_us"][0]
    # long at 102 over bars 4..6: highest 103.1, lowest 97.4 -> MFE 1.1 < MAE 4.6: goes against us
    assert got["mae_bps"][3] == pytest.approx(4.6 / 102 * 1e4) and got["goes_against_us"][3]
    for i, (row, side) in enumerate(zip(rows, sides)):
        expected = brute_force_quality(high, low, close, atr, row, side, 3)
        if expected is None:
            assert not got["complete"][i] and np.isnan(got["mae_bps"][i]) and not got["goes_against_us"][i]
            continue
        assert got["complete"][i]
        for key, value in zip(("mae_bps", "mfe_bps", "mae_atr", "mfe_atr"), expected[:4]):
            assert got[key][i] == pytest.approx(value, rel=1e-12), (i, key)
        assert bool(got["goes_against_us"][i]) == expected[4]
    assert got["complete"].tolist() == [True, True, True, True, True, False]  # row 5 + 3 bars runs past the end
    assert got["goes_against_us"].tolist() == [False, False, False, True, False, False]
    stats = replay.quality_summary(got)
    assert stats["mae_bps_mean"] == pytest.approx(np.mean(got["mae_bps"][:5]), abs=1e-6)
    assert stats["mfe_atr_median"] == pytest.approx(np.median(got["mfe_atr"][:5]), abs=1e-6)
    assert stats["mfe_mae_ratio"] == pytest.approx(stats["mfe_bps_mean"] / stats["mae_bps_mean"], rel=1e-5)


def test_position_rules_one_at_a_time_then_cooldown():
    candidates = np.array([10, 11, 16, 17, 18, 19, 25, 26, 40])
    # hold 6, cooldown 2: after an entry at t the next one is at t + 9 at the earliest
    assert replay.select_trades(candidates, 6, 2).tolist() == [0, 5, 8]
    assert replay.select_trades(candidates, 1, 0).tolist() == [0, 2, 4, 6, 8]
    assert replay.select_trades(np.array([], dtype=np.int64), 6, 6).tolist() == []
    sides = replay.candidate_sides(np.array([0.6, 0.4, 0.5, 0.7, 0.3]), np.array([0.5, 0.9, 0.9, 0.49, 0.5]), 0.55, 0.5)
    assert sides.tolist() == [1, -1, 0, 0, -1]


def test_trades_and_reports_agree_with_brute_force(small_pipeline, loose_run):
    data = read_dataset(str(small_pipeline["data"]))
    summary = json.loads((loose_run / "replay.json").read_text())
    outputs, trades = read_tsv(loose_run / "outputs.tsv"), read_tsv(loose_run / "trades.tsv")
    assert summary["n_candidates"] == summary["eligible_bars"] == len(outputs["row"])
    assert summary["n_trades_created"] == len(trades["row"]) > 10
    assert summary["n_long"] + summary["n_short"] == summary["n_trades_created"]
    trade_rows = trades["row"].astype(np.int64)
    assert (np.diff(trade_rows) >= 6 + 6 + 1).all()
    sides = np.where(trades["side"] == "long", 1, -1)
    p_dir = trades["p_dir"].astype(float)
    assert ((p_dir >= 0.5) == (sides > 0)).all()
    brute = [brute_force_quality(data["high"], data["low"], data["close"], data["atr"], row, side, 6)
             for row, side in zip(trade_rows, sides)]
    assert all(b is not None for b in brute)
    brute = np.array([b[:4] for b in brute]), np.array([b[4] for b in brute])
    for i, key in enumerate(("mae_bps", "mfe_bps", "mae_atr", "mfe_atr")):
        np.testing.assert_allclose(trades[key].astype(float), brute[0][:, i], atol=1e-6)
        assert summary["entry_quality"][f"{key}_mean"] == pytest.approx(brute[0][:, i].mean(), abs=1e-6)
        assert summary["entry_quality"][f"{key}_median"] == pytest.approx(np.median(brute[0][:, i]), abs=1e-6)
    assert summary["goes_against_us_rate"] == pytest.approx(brute[1].mean(), abs=1e-6)
    cumulative = read_tsv(loose_run / "cumulative.tsv")
    assert len(cumulative["bar"]) == summary["bars_replayed"]
    assert int(cumulative["cumulative_candidates"][-1]) == summary["n_candidates"]
    assert int(cumulative["cumulative_trades"][-1]) == summary["n_trades_created"]
    assert len(read_tsv(loose_run / "trades_mae_mfe.tsv")["trade"]) == summary["n_trades_created"]


def test_replay_from_bars_equals_replay_from_dataset(small_pipeline, bundle_dir, loose_run, tmp_path, monkeypatch, capsys):
    code, err = run_replay(["--bundle_dir", str(bundle_dir), "--bars", str(small_pipeline["bars"]),
                            "--out_dir", str(tmp_path), *LOOSE], monkeypatch, capsys)
    assert code == 0, err
    for name in ("replay.json", "outputs.tsv", "trades.tsv", "trades_mae_mfe.tsv", "cumulative.tsv"):
        assert (tmp_path / name).read_bytes() == (loose_run / name).read_bytes(), name


def test_window_without_trades_reports_zeros(small_pipeline, bundle_dir, tmp_path, monkeypatch, capsys):
    code, err = run_replay(["--bundle_dir", str(bundle_dir), "--data", str(small_pipeline["data"]), "--out_dir", str(tmp_path),
                            "--days", "1", "--dir_threshold", "0.999"], monkeypatch, capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "replay.json").read_text())
    assert summary["eligible_bars"] > 0
    assert (summary["n_candidates"], summary["n_trades_created"], summary["n_long"], summary["n_short"]) == (0, 0, 0, 0)
    assert summary["goes_against_us_rate"] is None and set(summary["entry_quality"].values()) == {None}
    assert len((tmp_path / "trades.tsv").read_text().splitlines()) == 1


def _mismatched_dataset(small_pipeline, tmp_path):
    return dataset_with_label_config(small_pipeline["data"], tmp_path / "other_contract.parquet", horizon_bars=8)


def _tampered_bundle(bundle_dir, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(bundle_dir, copy)
    weights = bytearray((copy / "model_state_dict.pt").read_bytes())
    weights[-100] ^= 0xFF
    (copy / "model_state_dict.pt").write_bytes(bytes(weights))
    return copy


@pytest.mark.parametrize("case, context, message", [
    ("context_contradicts", "false", "supports_context_features=true"),
    ("context_invalid", "yes", ENV),
    ("contract_mismatch", "true", "feature contract mismatch"),
    ("tampered_bundle", "true", "failed verification"),
    ("empty_window", "true", "contains no bars"),
    ("no_eligible_bar", "true", "none is eligible"),
    ("days_and_start", "true", "alternatives"),
    ("negative_commission", "true", "--commission_bps"),
])
def test_refusals_exit_2_with_one_line(small_pipeline, bundle_dir, tmp_path, monkeypatch, capsys, case, context, message):
    bundle, data, extra = bundle_dir, small_pipeline["data"], []
    if case == "contract_mismatch":
        data = _mismatched_dataset(small_pipeline, tmp_path)
    elif case == "tampered_bundle":
        bundle = _tampered_bundle(bundle_dir, tmp_path)
    elif case == "empty_window":
        extra = ["--start", "2030-01-01"]
    elif case == "no_eligible_bar":
        first = np.datetime_as_string(read_dataset(str(data), columns=["time"])["time"][0], unit="s")
        extra = ["--start", first, "--end", str(np.datetime64(first) + np.timedelta64(2, "h"))]
    elif case == "days_and_start":
        extra = ["--days", "3", "--start", "2025-01-05"]
    elif case == "negative_commission":
        extra = ["--commission_bps", "-1"]
    out = tmp_path / "out"
    code, err = run_replay(["--bundle_dir", str(bundle), "--data", str(data), "--out_dir", str(out), *extra],
                           monkeypatch, capsys, context)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "replay.json").exists()
    if case == "contract_mismatch":
        label_config = json.loads(pq.read_schema(data).metadata[b"gx1.label_config"])
        interval = int(pq.read_schema(data).metadata[b"gx1.bar_interval_seconds"])
        instruments = json.loads(pq.read_schema(data).metadata[b"gx1.instruments"])
        data_hash = contract_hash({"contract": build_contract(label_config, interval, instruments)})
        bundle_hash = (bundle_dir / "feature_contract_hash.txt").read_text().strip()
        assert data_hash != bundle_hash and data_hash in err and bundle_hash in err


@pytest.mark.slow  # a subprocess with torch
def test_cli_refuses_context_mismatch_in_a_subprocess(small_pipeline, bundle_dir, tmp_path):
    env = {**os.environ, ENV: "false"}
    result = subprocess.run([sys.executable, "-m", "gx1.replay", "--bundle_dir", str(bundle_dir), "--data",
                             str(small_pipeline["data"]), "--out_dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and f"set {ENV}=true" in result.stderr, result.stderr


def test_compare_prints_the_5b_table(default_run, loose_run, tmp_path, capsys):
    out_json = tmp_path / "comparison.json"
    assert compare.main(["--baseline", str(default_run / "replay.json"), "--candidate", str(loose_run / "replay.json"),
                         "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    for metric, expectation in (("n_candidates", "similar or lower"), ("n_trades_created", "similar"),
                                ("goes_against_us_rate", "similar or better"), ("mae_bps_mean", "similar or better")):
        line = next(line for line in printed.splitlines() if line.startswith(metric))
        assert expectation in line, line
    report = json.loads(out_json.read_text())
    by_metric = {row["metric"]: row for row in report["rows"]}
    assert by_metric["n_candidates"]["verdict"] == "CHECK"  # every eligible bar vs (almost) none
    assert by_metric["n_trades_created"]["candidate"] > 0


def test_default_window_is_the_training_holdout(small_pipeline, default_run):
    data = read_dataset(str(small_pipeline["data"]))
    train_rows, _, counts = split_rows(data, limit_samples=0, holdout_days=7, val_days=0, horizon=6)
    summary = json.loads((default_run / "replay.json").read_text())
    assert counts["holdout_rows"] == summary["bars_replayed"]  # --days 7 replays exactly what holdout_days 7 kept out
    first_window_row = len(data["time"]) - summary["bars_replayed"]
    assert train_rows.max() + 6 < first_window_row  # no training label reaches into the replay week


def test_model_quality_equals_sklearn_on_the_written_outputs(small_pipeline, default_run):
    """replay.json's out-of-sample figures recomputed independently from outputs.tsv and the dataset's labels."""
    from sklearn.metrics import roc_auc_score
    data = read_dataset(str(small_pipeline["data"]))
    got = read_tsv(default_run / "outputs.tsv")
    rows = got["row"].astype(np.int64)
    quality = json.loads((default_run / "replay.json").read_text())["model_quality"]
    assert quality["rows"] == len(rows)
    assert quality["direction_auc"] == pytest.approx(roc_auc_score(data["y_dir"][rows], got["direction_logit"].astype(float)), abs=1e-6)
    assert quality["early_move_auc"] == pytest.approx(roc_auc_score(data["y_early"][rows], got["early_move_logit"].astype(float)), abs=1e-6)
    assert quality["quality_corr"] == pytest.approx(np.corrcoef(got["quality"].astype(float), data["y_quality"][rows])[0, 1], abs=1e-5)
    assert quality["baseline_direction_auc"] == pytest.approx(roc_auc_score(data["y_dir"][rows], data["ema_slope_12_atr"][rows]), abs=1e-6)
    headline = json.loads((default_run / "summary.json").read_text())
    assert headline["direction_auc"] == quality["direction_auc"] and headline["direction_auc_baseline"] == quality["baseline_direction_auc"]
    assert json.loads((default_run / "replay.json").read_text())["window_overlaps_training"] is False  # limit_samples 1200


def test_compare_says_when_a_window_is_in_sample_or_a_side_has_no_trades(default_run):
    report = json.loads((default_run / "replay.json").read_text())
    in_sample = {**report, "window_overlaps_training": True}
    idle = {**report, "n_trades_created": 0}
    notes = compare.compare(in_sample, idle, compare.Tolerances(), ("smoke", "fullyear"))["notes"]
    assert any("smoke's bundle was trained on bars of its replay window" in note for note in notes), notes
    assert any(note.startswith("fullyear made no trades") for note in notes), notes


def _reference_trades(close, spread, rows, sides, hold, cooldown, commission):
    """Plain-Python trading of ``sides`` (per eligible row) by the replay's rule: (net bps per trade, gross bps)."""
    net, gross, next_allowed = [], [], None
    for row, side in zip(rows.tolist(), sides.tolist()):
        if side == 0 or (next_allowed is not None and row < next_allowed):
            continue
        next_allowed = row + hold + cooldown + 1
        if row + hold >= len(close):
            continue
        g = side * (close[row + hold] - close[row]) / close[row] * 1e4
        gross.append(g)
        net.append(g - spread[row] / close[row] * 1e4 - commission)
    return net, gross


def _reference_percentile(values):
    """Average ranks (ties share the mean of their positions) / (n + 1), by sorting in plain Python."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return [r / (len(values) + 1) for r in ranks]


def test_net_of_cost_trading_of_model_and_baseline_equals_a_plain_computation(small_pipeline, loose_run):
    """Model and baseline (ema_slope_12_atr's window percentile, the same rule) traded by hand: gross and net PnL,
    hit rate and trade counts in replay.json, the equity curve's end, the headline."""
    data = read_dataset(str(small_pipeline["data"]))
    summary = json.loads((loose_run / "replay.json").read_text())
    outputs = read_tsv(loose_run / "outputs.tsv")
    rows = outputs["row"].astype(np.int64)
    close, spread = data["close"].astype(float).tolist(), data["spread"].astype(float).tolist()
    hold, cooldown = summary["policy"]["hold_bars"], summary["policy"]["cooldown_bars"]
    assert summary["costs"]["commission_bps_round_trip"] == 1.5
    p_early = outputs["p_early"].astype(float)
    percentile = np.array(_reference_percentile([float(data["ema_slope_12_atr"][r]) for r in rows]))
    for name, p_dir in (("model", outputs["p_dir"].astype(float)), ("baseline", percentile)):
        sides = np.where(p_early >= 0, np.where(p_dir >= 0.5, 1, np.where(p_dir <= 0.5, -1, 0)), 0)
        net, gross = _reference_trades(close, spread, rows, sides, hold, cooldown, 1.5)
        figures = summary["trading"][name]
        assert figures["n_trades"] == len(net) > 10, name
        assert figures["net_pnl_bps"] == pytest.approx(sum(net), abs=1e-5), name
        assert figures["gross_pnl_bps"] == pytest.approx(sum(gross), abs=1e-5), name
        assert figures["hit_rate"] == pytest.approx(sum(n > 0 for n in net) / len(net), abs=1e-6), name
        equity = read_tsv(loose_run / "equity.tsv")[f"{name}_net_bps"].astype(float)
        assert equity[-1] == pytest.approx(sum(net), abs=1e-4) and len(equity) == summary["bars_replayed"]
    assert summary["trading"]["model"]["n_trades"] == summary["n_trades_created"]
    headline = json.loads((loose_run / "summary.json").read_text())
    assert headline["net_pnl_bps"] == summary["trading"]["model"]["net_pnl_bps"]
    lift = summary["lift"]["direction_auc"]
    assert headline["direction_auc_lift"] == lift["difference"] and lift["ci_low"] <= lift["difference"] <= lift["ci_high"]
    assert lift["model"] == summary["model_quality"]["direction_auc"]
    assert lift["baseline"] == summary["model_quality"]["baseline_direction_auc"]
    assert "NaN" not in (loose_run / "replay.json").read_text()
