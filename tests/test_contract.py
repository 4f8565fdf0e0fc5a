"""Feature contract: meta, scalers fitted on eligible rows, and the contract hash."""
from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

from gx1 import contract
from gx1.common import InputError
from gx1.dataset import build_dataset, dataset_stats, read_dataset
from gx1.features import LabelConfig
from gx1.synth import generate_gold_bars


def independent_hash(contract_part: dict) -> str:
    text = json.dumps(contract_part, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_hash_is_sha256_of_canonical_contract(small_pipeline):
    meta = json.loads(small_pipeline["meta"].read_text())
    assert contract.contract_hash(meta) == independent_hash(meta["contract"]) == meta["feature_contract_hash"]


def test_same_inputs_same_bytes_and_hash(small_pipeline, tmp_path):
    assert contract.main(["--data", str(small_pipeline["data"]), "--out_dir", str(tmp_path)]) == 0
    for name in ("entry_v9_feature_meta.json", "seq_scaler.joblib", "snap_scaler.joblib"):
        assert (tmp_path / name).read_bytes() == (small_pipeline["meta"].parent / name).read_bytes(), name


@pytest.mark.parametrize("change", ["rename", "remove", "reorder", "rename_snap", "cardinality"])
def test_hash_changes_with_the_feature_set(small_pipeline, change):
    meta = json.loads(small_pipeline["meta"].read_text())
    edited = copy.deepcopy(meta)
    seq = edited["contract"]["seq_features"]
    if change == "rename":
        seq[0] = seq[0] + "_v2"
    elif change == "remove":
        seq.pop()
    elif change == "reorder":
        seq[0], seq[1] = seq[1], seq[0]
    elif change == "rename_snap":
        edited["contract"]["snap_features"][3] = "something_else"
    else:
        edited["contract"]["ctx_cat_features"][0]["cardinality"] += 1
    assert contract.contract_hash(edited) != contract.contract_hash(meta)


def test_refitted_scalers_keep_the_hash(small_pipeline, tmp_path):
    data = read_dataset(str(small_pipeline["data"]))
    half = {k: v[: len(v) // 2] for k, v in data.items()}
    label_config = json.loads(small_pipeline["meta"].read_text())["label_config"]
    meta_full, seq_full, _ = contract.fit_contract(data, label_config, 300, ["XAUUSD"])
    meta_half, seq_half, _ = contract.fit_contract(half, label_config, 300, ["XAUUSD"])
    assert seq_full != seq_half and meta_full["scalers"] != meta_half["scalers"]
    assert contract.contract_hash(meta_full) == contract.contract_hash(meta_half)


def test_scalers_fitted_on_eligible_rows_only(small_pipeline):
    meta = json.loads(small_pipeline["meta"].read_text())
    scaler = contract.load_scaler(small_pipeline["seq_scaler"], meta["scalers"]["seq"]["sha256"], "seq scaler")
    data = read_dataset(str(small_pipeline["data"]))
    eligible = data["eligible"]
    first = meta["contract"]["seq_features"][0]
    assert scaler.mean_[0] == pytest.approx(np.mean(data[first][eligible].astype(np.float64)), rel=1e-9)
    assert scaler.mean_[0] != pytest.approx(np.nanmean(data[first].astype(np.float64)), rel=1e-9)


def test_scaler_with_other_bytes_is_not_unpickled(small_pipeline, tmp_path):
    meta = json.loads(small_pipeline["meta"].read_text())
    tampered = tmp_path / "seq_scaler.joblib"
    tampered.write_bytes(small_pipeline["seq_scaler"].read_bytes() + b"\0")
    with pytest.raises(InputError, match="sha256"):
        contract.load_scaler(tampered, meta["scalers"]["seq"]["sha256"], "seq scaler")


def test_default_year_eligibility_rate_in_range():
    stats = dataset_stats(build_dataset(generate_gold_bars(2025), LabelConfig()))
    assert stats["rows"] > 65_000
    assert 0.1 < stats["eligibility_rate"] < 0.99


def test_dataset_cli_reports_rows_and_rate(small_pipeline, capsys):
    stats = json.loads((small_pipeline["root"] / "dataset.json").read_text())
    data = read_dataset(str(small_pipeline["data"]))
    assert stats["rows"] == len(data["time"]) and stats["eligible_rows"] == int(data["eligible"].sum())
    assert stats["eligibility_rate"] == pytest.approx(stats["eligible_rows"] / stats["rows"], abs=1e-6)


def test_bar_interval_is_part_of_the_contract(small_pipeline):
    """The same features on H1 bars are another contract: a bundle records which interval it was trained on."""
    label_config = json.loads(small_pipeline["meta"].read_text())["label_config"]
    m5 = contract.contract_hash({"contract": contract.build_contract(label_config, 300, ["XAUUSD"])})
    h1 = contract.contract_hash({"contract": contract.build_contract(label_config, 3600, ["XAUUSD"])})
    assert m5 != h1 and contract.dataset_contract(str(small_pipeline["data"]))["bar_interval_seconds"] == 300
    assert contract.contract_hash(json.loads(small_pipeline["meta"].read_text())) == m5


@pytest.mark.slow
def test_scalers_never_see_the_held_out_period(small_pipeline, tmp_path):
    """Issue 14.5: with --holdout_days / --train_end the scalers are fitted on the training rows only. Rewriting
    every feature of the held-out rows (and the embargoed rows before them) changes no scaler byte, while the
    same rewrite before the cut does; the meta records the fit window; the trainer refuses a contract fitted
    on rows it holds out, and trains on one that is not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from conftest import run_train, train_argv
    from gx1.dataset import read_dataset, split_rows

    table = pq.read_table(small_pipeline["data"])
    data = read_dataset(str(small_pipeline["data"]))
    cut = "2025-01-12T00:00:00"
    train_rows, _, counts = split_rows(data, 0, 0, 0, 6, cut)
    first_held_out = len(data["time"]) - counts["holdout_rows"]
    assert 0 < counts["holdout_rows"] < len(data["time"]) and train_rows.max() + 6 < first_held_out

    def contract_of(path, out, *flags):
        assert contract.main(["--data", str(path), "--out_dir", str(out), *flags]) == 0
        return {name: (out / name).read_bytes() for name in ("seq_scaler.joblib", "snap_scaler.joblib")}

    def rewritten(path, rows):
        columns = {name: table.column(name).to_numpy().copy() for name in table.column_names}
        for name in contract.build_contract(json.loads(table.schema.metadata[b"gx1.label_config"]), 300, ["XAUUSD"])["seq_features"]:
            columns[name][rows] = columns[name][rows] * 7.0 + 3.0
        pq.write_table(pa.table(columns).replace_schema_metadata(table.schema.metadata), path)
        return path

    after = rewritten(tmp_path / "after.parquet", slice(train_rows.max() + 1, None))  # embargo + held-out rows
    before = rewritten(tmp_path / "before.parquet", slice(100, 400))
    fitted = contract_of(small_pipeline["data"], tmp_path / "c0", "--train_end", cut)
    assert contract_of(after, tmp_path / "c1", "--train_end", cut) == fitted
    assert contract_of(before, tmp_path / "c2", "--train_end", cut) != fitted
    assert contract_of(after, tmp_path / "c3") != fitted  # without the cut the rewrite does reach the scalers
    meta = json.loads((tmp_path / "c0" / "entry_v9_feature_meta.json").read_text())
    assert meta["fit"]["train_end"] == cut and meta["fit_rows"] == len(train_rows)
    assert meta["fit"]["last_time"] == f"{data['time'][train_rows[-1]].astype('datetime64[s]')}Z"

    def paths(out):
        return {"data": small_pipeline["data"], "meta": out / "entry_v9_feature_meta.json",
                "seq_scaler": out / "seq_scaler.joblib", "snap_scaler": out / "snap_scaler.joblib"}

    refused = run_train(train_argv(paths(tmp_path / "c3"), tmp_path / "run_refused", "--train_end", cut, "--epochs", "1"))
    assert refused.returncode == 2 and "--train_end 2025-01-12T00:00:00" in refused.stderr, refused.stderr
    assert not (tmp_path / "run_refused").exists()
    trained = run_train(train_argv(paths(tmp_path / "c0"), tmp_path / "run", "--train_end", cut, "--epochs", "1"))
    assert trained.returncode == 0, trained.stderr
    config = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert config["train_end"] == cut


def test_split_rows_train_end_embargo_and_holdout():
    """Rows before train_end only, the last `horizon` of them embargoed; with holdout_days too, whichever cut
    comes first; an empty train_end is no limit."""
    from gx1.dataset import split_rows
    time = np.datetime64("2025-03-03T00:00") + np.arange(2000) * np.timedelta64(5, "m")
    data = {"time": time.astype("datetime64[ns]"), "eligible": np.ones(2000, dtype=bool)}
    cut = str(time[1500])
    rows, _, counts = split_rows(data, 0, 0, 0, 6, cut)
    assert counts["holdout_rows"] == 500 and rows.max() == 1500 - 6 - 1  # label of row r uses bars r+1..r+6 < 1500
    rows_h, _, counts_h = split_rows(data, 0, 1.0, 0, 6, cut)  # the last day starts at row 1712: the cut comes first
    assert counts_h["holdout_rows"] == 500 and np.array_equal(rows, rows_h)
    rows_e, _, counts_e = split_rows(data, 0, 0, 0, 6, "")
    assert counts_e["holdout_rows"] == 0 and len(rows_e) == 2000
    rows_late, _, counts_late = split_rows(data, 0, 1.0, 0, 6, str(time[1900]))  # now the holdout comes first
    assert counts_late["holdout_rows"] == 2000 - 1712 and rows_late.max() == 1712 - 6 - 1
