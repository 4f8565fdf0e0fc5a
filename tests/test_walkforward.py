"""Walk-forward: one fold (gx1.walkforward) checked against counts done independently, and the fold table
(gx1.walkforward_summary) against statistics done by hand. The DVC side (fold stages, one fold rerun)
is in tests/test_dvc_workflow.py."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys

import numpy as np
import pytest

from gx1 import dataset, fold_data, walkforward, walkforward_summary
from gx1.bars import write_bars_parquet
from gx1.dataset import read_dataset, split_rows

START, DAYS = "2025-01-09", 2.0  # about 900 training rows: a small fold


@pytest.mark.slow  # trains one small fold: the fast tier (-m 'not slow') skips it
def test_fold_trains_only_before_its_start_and_replays_its_period(small_pipeline, tmp_path):
    """The fold runs on its own slice of the data (fold_data, as the DVC fold stage does); its training rows and
    replayed bars are counted independently on the whole dataset."""
    assert fold_data.main(["--data", str(small_pipeline["data"]), "--start", START, "--days", str(DAYS),
                           "--out", str(tmp_path / "slice.parquet")]) == 0
    out = tmp_path / "folds" / "jan09"
    assert walkforward.main(["--data", str(tmp_path / "slice.parquet"), "--start", START, "--days", str(DAYS),
                             "--out_dir", str(out), "--epochs", "1", "--num_threads", "2",
                             "--timing_dir", str(tmp_path / "timing")]) == 0
    row = json.loads((out / "fold.json").read_text())
    data = read_dataset(str(small_pipeline["data"]))
    time, eligible = data["time"].astype("datetime64[s]"), np.asarray(data["eligible"], dtype=bool)
    start, end = np.datetime64(START, "s"), np.datetime64(START, "s") + np.timedelta64(int(DAYS * 86400), "s")
    first_replayed = int(np.argmax(time >= start))
    horizon = json.loads((out / "contract" / "entry_v9_feature_meta.json").read_text())["contract"]["labels"]["horizon_bars"]
    # every training row's label horizon (bars i+1..i+horizon) ends before the fold's first bar
    assert row["train_samples"] == int(eligible[:first_replayed - horizon].sum()) > 500
    assert row["replayed_bars"] == int((eligible & (time >= start) & (time < end)).sum()) > 300
    meta = json.loads((out / "contract" / "entry_v9_feature_meta.json").read_text())
    assert meta["fit"]["train_end"] == "2025-01-09T00:00:00"  # the scalers saw the same rows, nothing later
    assert np.datetime64(meta["fit"]["last_time"].rstrip("Z")) < start
    replay = json.loads((out / "replay" / "replay.json").read_text())
    assert (replay["window"]["requested_start"], replay["window"]["requested_end"]) == ("2025-01-09T00:00:00",
                                                                                       "2025-01-11T00:00:00")
    assert not replay["window_overlaps_training"]
    assert row["direction_auc"] == replay["model_quality"]["direction_auc"] and row["candidates"] == replay["n_candidates"]
    assert not list(out.parent.glob(".jan09.staging-*"))  # the fold folder was swapped in whole
    # a DVC output: only byte-stable files (the wall clock, speed and run log went to --timing_dir)
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert not names & {"metrics.json", "run_log.txt"} and {"reproducible_metrics.json", "fold.json"} <= names


def fold_row(start: str, auc: float, trades: int | None, rank_ic: float | None = None) -> dict:
    return {"start": start, "end": start + "x", "train_samples": 10, "replayed_bars": 5, "candidates": 3,
            "direction_auc": auc, "direction_auc_baseline": 0.5, "direction_auc_lift": auc - 0.5,
            "direction_auc_lift_ci_low": auc - 0.55, "direction_auc_lift_ci_high": auc - 0.45, "direction_rank_ic": rank_ic,
            "early_move_auc": 0.6, "quality_corr": 0.1, "trades": trades, "goes_against": None, "mfe_mae": None,
            "net_pnl_bps": 10.0, "net_pnl_bps_baseline": 5.0, "net_pnl_lift_ci_low": -20.0, "net_pnl_lift_ci_high": 30.0}


def test_summary_orders_folds_and_averages_by_hand(tmp_path):
    folds = tmp_path / "folds"
    for name, row in {"b": fold_row("2025-02-01", 0.56, 4, 0.05), "a": fold_row("2025-01-01", 0.52, None, 0.01),
                      "c": fold_row("2025-03-01", 0.51, 2)}.items():
        (folds / name).mkdir(parents=True)
        (folds / name / "fold.json").write_text(json.dumps(row))
    assert walkforward_summary.main(["--folds_dir", str(folds), "--out", str(tmp_path / "s.json"),
                                     "--table", str(tmp_path / "t.tsv")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["folds"] == 3
    assert summary["direction_auc"] == {"mean": pytest.approx(statistics.fmean([0.52, 0.56, 0.51]), abs=1e-6),
                                        "std": pytest.approx(statistics.stdev([0.52, 0.56, 0.51]), abs=1e-6)}
    assert summary["trades"] == {"mean": 3.0, "std": pytest.approx(statistics.stdev([4, 2]))}  # the no-trade-figure fold left out
    assert "goes_against" not in summary  # no fold has one
    assert summary["rank_icir"] == pytest.approx(0.03 / statistics.stdev([0.01, 0.05]), abs=1e-6)  # fold c has no IC
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["start", "2025-01-01", "2025-02-01", "2025-03-01"]


def test_summary_of_no_folds_and_of_a_bad_fold(tmp_path):
    folds = tmp_path / "folds"
    folds.mkdir()
    assert walkforward_summary.main(["--folds_dir", str(folds), "--out", str(tmp_path / "s.json"),
                                     "--table", str(tmp_path / "t.tsv")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == {"folds": 0}
    assert (tmp_path / "t.tsv").read_text().splitlines()[0].startswith("start\tend\t")
    (folds / "x").mkdir()
    (folds / "x" / "fold.json").write_text('{"start": "2025-01-01"}')
    bad = subprocess.run([sys.executable, "-m", "gx1.walkforward_summary", "--folds_dir", str(folds), "--out",
                          str(tmp_path / "s2.json"), "--table", str(tmp_path / "t2.tsv")], capture_output=True, text=True)
    assert bad.returncode == 2 and "lacks" in bad.stderr and not (tmp_path / "s2.json").exists()


def test_summary_counts_only_the_folds_params_yaml_names(tmp_path):
    folds = tmp_path / "folds"
    for name, start in (("a", "2025-01-01"), ("old", "2024-12-01")):  # "old": a fold removed from params.yaml
        (folds / name).mkdir(parents=True)
        (folds / name / "fold.json").write_text(json.dumps(fold_row(start, 0.55, 1)))
    params = tmp_path / "params.yaml"
    params.write_text('walkforward:\n  epochs: 1\n  folds: {a: {start: "2025-01-01", days: 3}}\n')
    argv = ["-m", "gx1.walkforward_summary", "--folds_dir", str(folds), "--params", str(params),
            "--out", str(tmp_path / "s.json"), "--table", str(tmp_path / "t.tsv")]
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
    assert done.returncode == 0 and "left out" in done.stderr and "old" in done.stderr
    assert json.loads((tmp_path / "s.json").read_text())["folds"] == 1
    params.write_text('walkforward:\n  folds: {a: {start: "2025-01-01", days: 3}, b: {start: "2025-02-01", days: 3}}\n')
    missing = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
    assert missing.returncode == 2 and "['b']" in missing.stderr
    params.write_text("walkforward: [unclosed\n")
    broken = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
    assert broken.returncode == 2 and "not valid YAML" in broken.stderr and "Traceback" not in broken.stderr


def test_fold_data_ignores_bars_after_the_fold(small_pipeline, tmp_path):
    """A fold's slice (its DVC input) is byte-identical when bars after its end + tail change; a later fold's is not."""
    table = {name: values for name, values in read_dataset(str(small_pipeline["bars"])).items()}
    changed = {**table, **{k: np.where(np.arange(len(table[k])) >= 2000, table[k] * 1.01, table[k])
                           for k in ("open", "high", "low", "close")}}
    slices = {}
    for version, bars in (("old", table), ("new", changed)):
        write_bars_parquet(bars, tmp_path / f"xauusd_{version}.parquet")
        assert dataset.main(["--bars", str(tmp_path / f"xauusd_{version}.parquet"), "--out", str(tmp_path / f"{version}.data")]) == 0
        for fold, start in (("early", "2025-01-06"), ("late", "2025-01-12")):
            out = tmp_path / f"{version}-{fold}.parquet"
            assert fold_data.main(["--data", str(tmp_path / f"{version}.data"), "--start", start, "--days", "1",
                                   "--out", str(out)]) == 0
            slices[version, fold] = out.read_bytes()
    time = table["time"].astype("datetime64[s]")
    assert np.searchsorted(time, np.datetime64("2025-01-07")) + fold_data.DEFAULT_TAIL_BARS < 2000  # the early fold ends before
    assert slices["old", "early"] == slices["new", "early"]
    assert slices["old", "late"] != slices["new", "late"]
    early = read_dataset(str(tmp_path / "old-early.parquet"))
    whole = read_dataset(str(tmp_path / "old.data"))
    kept = len(early["time"])
    assert all(np.array_equal(early[c], whole[c][:kept], equal_nan=c != "instrument") for c in whole)
    assert kept == np.searchsorted(time, np.datetime64("2025-01-07")) + fold_data.DEFAULT_TAIL_BARS


def test_rolling_window_fold_trains_on_its_last_days_only(small_pipeline, tmp_path):
    """--train_days: the slice starts seq_len - 1 rows before the window (history only, not eligible); the fold's
    training rows and the scalers' fit rows are the whole dataset's eligible rows of those days, counted here."""
    from gx1 import contract
    out = tmp_path / "rolling.parquet"
    assert fold_data.main(["--data", str(small_pipeline["data"]), "--start", START, "--days", str(DAYS),
                           "--train_days", "3", "--out", str(out)]) == 0
    whole, part = read_dataset(str(small_pipeline["data"])), read_dataset(str(out))
    time = whole["time"].astype("datetime64[s]")
    window = int(np.searchsorted(time, np.datetime64("2025-01-06", "s")))  # START - 3 days
    first_replayed, lead_in = int(np.searchsorted(time, np.datetime64(START, "s"))), 29  # seq_len 30
    assert window > lead_in and np.array_equal(part["time"][:3], whole["time"][window - lead_in:window - lead_in + 3])
    assert not part["eligible"][:lead_in].any()
    kept = len(part["time"]) - lead_in
    assert np.array_equal(part["eligible"][lead_in:], whole["eligible"][window:window + kept])
    train, _, _ = split_rows(part, 0, 0, 0, 6, START)
    expected = np.flatnonzero(whole["eligible"][window:first_replayed - 6]) + window
    assert len(expected) > 300 and np.array_equal(part["time"][train], whole["time"][expected])
    assert train.min() >= lead_in  # every training row's 30-bar window lies inside the slice
    assert contract.main(["--data", str(out), "--out_dir", str(tmp_path / "contract"), "--train_end", START]) == 0
    meta = json.loads((tmp_path / "contract" / "entry_v9_feature_meta.json").read_text())
    assert meta["fit_rows"] == len(expected)
