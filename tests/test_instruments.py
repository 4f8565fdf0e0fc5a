"""Several instruments and years: sources, a multi-instrument dataset equal to its single-instrument parts,
splits at the same instants for every instrument, instruments in the contract, checked at replay."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from gx1 import contract, dataset, replay, sources
from gx1.bars import write_bars_parquet
from gx1.common import InputError, run_cli
from gx1.dataset import read_dataset, split_rows
from gx1.synth import INSTRUMENTS, generate_bars

BARS = 3500  # as conftest's small pipeline: past every warm-up window


def cli(main, argv, capsys):
    """(exit code, stderr) of a stage module run as its command line runs it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def instrument_files(tmp_path_factory):
    """XAUUSD bars equal to the small pipeline's (seed 7) and EURUSD bars over the same times."""
    root = tmp_path_factory.mktemp("instruments")
    gold = {k: v[:BARS] for k, v in generate_bars("XAUUSD", 2025, 2025, 7).items()}
    euro = {k: v[:BARS] for k, v in generate_bars("EURUSD", 2025, 2025, 8).items()}
    write_bars_parquet(gold, root / "gold.parquet")
    write_bars_parquet(euro, root / "euro.parquet")
    return root


@pytest.fixture(scope="module")
def datasets(instrument_files):
    root = instrument_files
    for name, specs in {"gold": ["XAUUSD=" + str(root / "gold.parquet")], "euro": ["EURUSD=" + str(root / "euro.parquet")],
                        "both": ["EURUSD=" + str(root / "euro.parquet"), "XAUUSD=" + str(root / "gold.parquet")]}.items():
        assert dataset.main(["--bars", *specs[:1], *[a for s in specs[1:] for a in ("--bars", s)],
                             "--out", str(root / f"{name}.data.parquet")]) == 0
    return {name: str(root / f"{name}.data.parquet") for name in ("gold", "euro", "both")}


def test_multi_instrument_dataset_is_the_concatenation_of_single_ones(datasets):
    both = read_dataset(datasets["both"])
    parts = [read_dataset(datasets[name]) for name in ("euro", "gold")]  # sorted by instrument: EURUSD, XAUUSD
    assert list(both) == list(parts[0])
    for column in both:
        expected = np.concatenate([part[column] for part in parts])
        assert both[column].dtype == expected.dtype and np.array_equal(both[column], expected, equal_nan=column != "instrument"), column
    assert json.loads(pq.read_schema(datasets["both"]).metadata[b"gx1.instruments"]) == ["EURUSD", "XAUUSD"]
    assert set(both["instrument"]) == {"EURUSD", "XAUUSD"}


def test_years_in_several_files_join_into_one_series(instrument_files, tmp_path, capsys):
    table = pq.read_table(instrument_files / "gold.parquet")
    whole = {name: table.column(name).to_numpy() for name in table.column_names}
    whole["time"] = whole["time"].astype("datetime64[ns]")
    cut = 2000
    write_bars_parquet({k: v[cut:] for k, v in whole.items()}, tmp_path / "xauusd_late.parquet")
    write_bars_parquet({k: v[:cut] for k, v in whole.items()}, tmp_path / "xauusd_early.parquet")
    assert dataset.main(["--bars", str(tmp_path), "--out", str(tmp_path / "joined.out")]) == 0  # a folder; names -> XAUUSD
    assert dataset.main(["--bars", "XAUUSD=" + str(instrument_files / "gold.parquet"), "--out", str(tmp_path / "one.out")]) == 0
    joined, one = read_dataset(str(tmp_path / "joined.out")), read_dataset(str(tmp_path / "one.out"))
    assert all(np.array_equal(joined[c], one[c], equal_nan=c != "instrument") for c in one)
    capsys.readouterr()
    write_bars_parquet({k: v[cut - 10:] for k, v in whole.items()}, tmp_path / "xauusd_late.parquet")  # overlaps by 10 bars
    code, err = cli(dataset.main, ["--bars", str(tmp_path / "xauusd_early.parquet"), "--bars",
                                   str(tmp_path / "xauusd_late.parquet"), "--out", str(tmp_path / "bad.out")], capsys)
    assert code == 2 and "overlap in time" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad.out").exists()


def test_instruments_of_different_intervals_are_refused(instrument_files, tmp_path, capsys):
    hourly = {k: v[:600] for k, v in generate_bars("EURUSD", 2025, 2025, 8, interval_minutes=60).items()}
    write_bars_parquet(hourly, tmp_path / "eurusd_h1.parquet")
    code, err = cli(dataset.main, ["--bars", str(instrument_files / "gold.parquet"), "--bars", str(tmp_path / "eurusd_h1.parquet"),
                                   "--out", str(tmp_path / "out.parquet")], capsys)
    assert code == 2 and "EURUSD H1" in err and "GOLD M5" in err, err


def brute_force_split(data, holdout_days, val_days, horizon, train_end):
    """The split rule row by row (no shared code): a row trains if eligible, before every cut, and none of the
    next `horizon` rows of its own instrument is held out or in validation."""
    time = data["time"].astype("datetime64[ns]").astype(np.int64)
    day = 86_400 * 10**9
    held = [(train_end and t >= np.datetime64(train_end, "ns").astype(np.int64)) or
            (holdout_days and t > time.max() - holdout_days * day) for t in time]
    last_used = max(t for t, h in zip(time, held) if not h)
    val = [not h and bool(val_days) and t > last_used - val_days * day for t, h in zip(time, held)]
    train = []
    for i in range(len(time)):
        ahead = [j for j in range(i + 1, min(i + horizon, len(time) - 1) + 1) if data["instrument"][j] == data["instrument"][i]]
        if data["eligible"][i] and not held[i] and not val[i] and not any(held[j] or val[j] for j in ahead):
            train.append(i)
    return np.array(train), np.flatnonzero(np.array(val) & data["eligible"])


@pytest.mark.parametrize("holdout_days, val_days, train_end", [(1.0, 0, ""), (0, 1.0, "2025-01-14T06:00:00"), (2.0, 1.5, "")])
def test_split_is_by_time_for_every_instrument_with_the_embargo_inside_each(datasets, holdout_days, val_days, train_end):
    data = read_dataset(datasets["both"])
    train, val, counts = split_rows(data, 0, holdout_days, val_days, 6, train_end)
    expected_train, expected_val = brute_force_split(data, holdout_days, val_days, 6, train_end)
    assert np.array_equal(train, expected_train) and np.array_equal(val, expected_val)
    assert counts["train_samples"] == len(train) and {"EURUSD", "XAUUSD"} == set(data["instrument"][train])


def test_contract_records_the_instruments(datasets):
    gold, euro, both = (contract.dataset_contract(datasets[name]) for name in ("gold", "euro", "both"))
    assert (gold["instruments"], euro["instruments"], both["instruments"]) == (["XAUUSD"], ["EURUSD"], ["EURUSD", "XAUUSD"])
    hashes = {contract.contract_hash({"contract": c}) for c in (gold, euro, both)}
    assert len(hashes) == 3  # the same features, labels and interval: only the instruments differ


@pytest.mark.slow  # trains the shared run (conftest) and replays it three times
def test_replay_checks_and_chooses_the_instrument(trained_run, datasets, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ENTRY_CONTEXT_FEATURES_ENABLED", raising=False)
    bundle = str(trained_run[0])  # trained on the small pipeline: XAUUSD, the same bars as datasets["gold"]
    base = ["--bundle_dir", bundle, "--days", "2"]
    code, err = cli(replay.main, [*base, "--data", datasets["both"], "--out_dir", str(tmp_path / "a")], capsys)
    assert code == 2 and "holds 2 instruments (EURUSD, XAUUSD): choose one with --instrument" in err, err
    code, err = cli(replay.main, [*base, "--data", datasets["euro"], "--out_dir", str(tmp_path / "b")], capsys)
    assert code == 2 and "instrument EURUSD is not one" in err and "--any_instrument" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "b").exists()
    assert cli(replay.main, [*base, "--data", datasets["euro"], "--any_instrument", "--out_dir", str(tmp_path / "c")], capsys)[0] == 0
    assert cli(replay.main, [*base, "--data", datasets["both"], "--instrument", "XAUUSD", "--out_dir", str(tmp_path / "d")],
               capsys)[0] == 0
    assert cli(replay.main, [*base, "--data", datasets["gold"], "--out_dir", str(tmp_path / "e")], capsys)[0] == 0
    for name in ("outputs.tsv", "trades.tsv"):  # XAUUSD picked out of two instruments = XAUUSD alone
        assert (tmp_path / "d" / name).read_bytes() == (tmp_path / "e" / name).read_bytes(), name
    assert json.loads((tmp_path / "d" / "replay.json").read_text())["instrument"] == "XAUUSD"


def test_synthetic_instruments_differ_and_years_chain():
    gold, euro = generate_bars("XAUUSD", 2025, 2025, 1), generate_bars("EURUSD", 2025, 2025, 1)
    assert np.array_equal(gold["time"], euro["time"]) and not np.allclose(gold["close"] / gold["close"][0],
                                                                           euro["close"] / euro["close"][0])
    assert 1.0 < euro["close"].mean() < 1.5 and np.all(np.round(euro["close"], 5) == euro["close"])
    two = generate_bars("EURUSD", 2024, 2025, 1)
    first_2025 = np.searchsorted(two["time"], np.datetime64("2025-01-01"))
    assert abs(two["open"][first_2025] / two["close"][first_2025 - 1] - 1) < 0.01  # the series carries on
    assert np.array_equal(two["close"][:first_2025], generate_bars("EURUSD", 2024, 2024, 1)["close"])
    with pytest.raises(InputError, match="unknown synthetic instrument"):
        generate_bars("DOGEUSD", 2025)
    assert set(INSTRUMENTS) >= {"XAUUSD", "EURUSD"}


def write_params(path, entries: dict) -> str:
    import yaml
    path.write_text(yaml.safe_dump({"data": {"sources": entries}}))
    return str(path)


def test_sources_stage_writes_every_instrument_and_refuses_bad_entries(instrument_files, tmp_path, capsys):
    params = write_params(tmp_path / "params.yaml", {
        "XAUUSD": {"file": "synthetic", "interval_minutes": 60, "year": 2024, "last_year": 2025, "seed": 3},
        "EURUSD": {"file": [str(instrument_files / "euro.parquet")], "interval_minutes": 5}})
    out = tmp_path / "sources"
    code, _ = cli(sources.main, ["--params", params, "--out_dir", str(out)], capsys)
    assert code == 0
    manifest = json.loads((out / "sources.json").read_text())
    assert manifest["XAUUSD"]["interval"] == "H1" and manifest["XAUUSD"]["first_time"].startswith("2024-01-01")
    assert manifest["XAUUSD"]["last_time"].startswith("2025-12-31") and manifest["EURUSD"]["bars"] == BARS
    assert (out / "EURUSD.parquet").read_bytes() == (instrument_files / "euro.parquet").read_bytes()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for entries, message in [
        ({"EURUSD": {"file": str(instrument_files / "euro.parquet"), "interval_minutes": 60}},
         "the bars are M5 (5 minutes) but interval_minutes is 60"),
        ({"XAUUSD": {"file": "synthetic", "interval_minutes": 5, "year": 2025, "seed": 1}}, "a synthetic source takes"),
        ({"eur usd": {"file": "x.csv", "interval_minutes": 5}}, "is not a symbol"),
        ({"DOGEUSD": {"file": "synthetic", "interval_minutes": 5, "year": 2025, "last_year": 2025, "seed": 1}},
         "no synthetic profile for DOGEUSD"),
        ({"XAUUSD": {"file": "synthetic", "interval_minutes": 5, "year": 2025, "last_year": 99999, "seed": 1}},
         "last_year 99999 must be a whole number in 1971..2261"),
        ({"EURUSD": {"file": str(tmp_path / "missing.csv"), "interval_minutes": 5}}, "missing.csv"),
    ]:
        code, err = cli(sources.main, ["--params", write_params(tmp_path / "bad.yaml", entries), "--out_dir", str(out)], capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (entries, err)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing lost


@pytest.mark.slow  # trains one small fold on two instruments
def test_walkforward_fold_over_two_instruments_replays_each(datasets, tmp_path):
    from gx1 import walkforward
    out = tmp_path / "fold"
    assert walkforward.main(["--data", datasets["both"], "--start", "2025-01-09", "--days", "2", "--out_dir", str(out),
                             "--epochs", "1", "--num_threads", "2", "--timing_dir", str(tmp_path / "timing")]) == 0
    row = json.loads((out / "fold.json").read_text())
    replays = {name: json.loads((out / "replay" / name / "replay.json").read_text()) for name in ("EURUSD", "XAUUSD")}
    assert {r["instrument"] for r in replays.values()} == {"EURUSD", "XAUUSD"}
    assert row["replayed_bars"] == sum(r["eligible_bars"] for r in replays.values())
    assert row["trades"] == sum(r["n_trades_created"] for r in replays.values())
    aucs = [r["model_quality"]["direction_auc"] for r in replays.values()]
    assert row["direction_auc"] == pytest.approx(sum(aucs) / 2) and row["instruments"]["EURUSD"]["direction_auc"] == aucs[0]
    trained = json.loads((out / "train" / "reproducible_metrics.json").read_text())
    data = read_dataset(datasets["both"])
    train, _, _ = split_rows(data, 0, 0, 0, 6, "2025-01-09")
    assert trained["dataset_len"] == len(train) and set(data["instrument"][train]) == {"EURUSD", "XAUUSD"}
