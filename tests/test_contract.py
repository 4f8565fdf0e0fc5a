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
    meta_full, seq_full, _ = contract.fit_contract(data, label_config, 300)
    meta_half, seq_half, _ = contract.fit_contract(half, label_config, 300)
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
    m5 = contract.contract_hash({"contract": contract.build_contract(label_config, 300)})
    h1 = contract.contract_hash({"contract": contract.build_contract(label_config, 3600)})
    assert m5 != h1 and contract.dataset_contract(str(small_pipeline["data"]))["bar_interval_seconds"] == 300
    assert contract.contract_hash(json.loads(small_pipeline["meta"].read_text())) == m5
