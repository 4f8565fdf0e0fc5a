"""Training: the plan's command, byte-exact reproducibility, resume, guards, metrics."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import dataset_with_label_config, run_train, train_argv

KILL = {"GX1_FAULT_KILL_AFTER_EPOCH": "1"}


@pytest.fixture(scope="module")
def reference_run(trained_run):
    out, result, _ = trained_run
    return out, result


def test_outputs_and_metadata(reference_run):
    out, result = reference_run
    for name in ("model_state_dict.pt", "feature_contract_hash.txt", "train_config.json", "bundle_metadata.json",
                 "run_log.txt", "metrics.json", "train_steps.tsv", "train_epochs.tsv", "manifest.json"):
        assert (out / name).is_file(), name
    assert not (out.parent / f"{out.name}.checkpoints").exists()  # removed once the run finished
    meta = json.loads((out / "bundle_metadata.json").read_text())
    assert meta["model_variant"] == "v10_ctx" and meta["supports_context_features"] is True
    assert meta["expected_ctx_cat_dim"] == 5 and meta["expected_ctx_cont_dim"] == 2
    assert meta["feature_contract_hash"] == (out / "feature_contract_hash.txt").read_text().strip()
    assert f"feature contract hash {meta['feature_contract_hash']}" in result.stdout
    config = json.loads((out / "train_config.json").read_text())
    assert (config["seq_len"], config["batch_size"], config["learning_rate"]) == (30, 64, 1e-4)
    assert config["limit_samples"] == 1200 and config["epochs"] == 2
    # each fact once, no machine paths: the model config lives in bundle_metadata.json only
    assert not {"model", "out_dir", "data", "report_dir", "num_threads"} & set(config)
    assert meta["model_config"]["seq_len"] == 30 and "seq_len" not in meta
    size = (out / "model_state_dict.pt").stat().st_size
    assert 2.5e6 < size < 4e6
    # the run log holds the console lines
    assert result.stdout.strip().splitlines() == (out / "run_log.txt").read_text().strip().splitlines()


def test_metrics_fields(reference_run):
    out, _ = reference_run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("first_step_losses", "last_step_losses", "mean_grad_norm", "dataset_len", "eligibility_rate",
                "total_wall_clock_s", "avg_throughput_samples_per_s", "per_epoch", "peak_memory_mb", "success_criteria"):
        assert key in metrics, key
    assert set(metrics["first_step_losses"]) == {"loss", "loss_direction", "loss_early_move", "loss_quality"}
    assert set(metrics["success_criteria"]) == {"loss_decreases_or_stabilises", "no_nan_inf", "eligibility_rate_in_range"}
    assert len(metrics["per_epoch"]) == 2
    for key in ("loss_mean", "loss_direction_mean", "grad_norm_mean", "grad_norm_p95", "grad_norm_max", "y_dir_mean",
                "wall_clock_s", "throughput_samples_per_s"):
        assert key in metrics["per_epoch"][0], key
    steps = (out / "train_steps.tsv").read_text().splitlines()
    assert steps[0].split("\t")[0] == "step" and len(steps) == 1 + metrics["steps"]
    assert metrics["dataset_len"] == metrics["eligible_rows"] and metrics["rows_used"] == 1200


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_same_arguments_same_bytes_other_seed_other_bytes(small_pipeline, reference_run, tmp_path):
    out, _ = reference_run  # 2 threads; again with 1 (as when another run shares the cores): the tracked bytes agree
    again = run_train(train_argv(small_pipeline, tmp_path / "again") + ["--num_threads", "1"])
    assert again.returncode == 0, again.stderr
    for name in ("model_state_dict.pt", "bundle_metadata.json", "golden_sample.json", "feature_contract_hash.txt",
                 "reproducible_metrics.json", "train_epochs.tsv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    assert (tmp_path / "again" / "train_config.json").read_bytes() == (out / "train_config.json").read_bytes()
    other = run_train(train_argv(small_pipeline, tmp_path / "other", "--seed", "7"))
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "other" / "model_state_dict.pt").read_bytes() != (out / "model_state_dict.pt").read_bytes()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_killed_run_resumes_to_identical_bytes(small_pipeline, reference_run, tmp_path):
    out, _ = reference_run
    killed = run_train(train_argv(small_pipeline, tmp_path / "run"), extra_env=KILL)
    assert killed.returncode == 137
    assert len(list((tmp_path / "run.checkpoints").glob("*.pt"))) == 1  # outside the out_dir: survives `dvc repro`
    assert not (tmp_path / "run" / "model_state_dict.pt").exists()
    assert "fault injection" in (tmp_path / "run" / "run_log.txt.partial").read_text()  # flushed line by line
    resumed = run_train(train_argv(small_pipeline, tmp_path / "run"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert (tmp_path / "run" / "model_state_dict.pt").read_bytes() == (out / "model_state_dict.pt").read_bytes()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_checkpoints_belong_to_one_run_and_fail_closed(small_pipeline, tmp_path):
    """Another run's checkpoint is never resumed (named by the fingerprint of every result-changing field);
    a damaged checkpoint of this run is refused with one line, nothing deleted."""
    from gx1.training.config import RESULT_NEUTRAL_FIELDS, TrainConfig
    killed = run_train(train_argv(small_pipeline, tmp_path / "run", "--epochs", "2"), extra_env=KILL)
    assert killed.returncode == 137
    [checkpoint] = (tmp_path / "run.checkpoints").glob("*.pt")
    other = run_train(train_argv(small_pipeline, tmp_path / "other", "--epochs", "1", "--learning_rate", "3e-4",
                                 "--checkpoint_dir", str(tmp_path / "run.checkpoints")))
    assert other.returncode == 0 and "resumed" not in other.stdout, other.stderr
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    damaged = run_train(train_argv(small_pipeline, tmp_path / "run", "--epochs", "2"))
    assert damaged.returncode == 2 and "delete it to start over" in damaged.stderr
    assert len(damaged.stderr.strip().splitlines()) == 1 and checkpoint.exists()
    # the fingerprint covers every field except an explicit list, so a new knob is covered without anyone remembering
    assert RESULT_NEUTRAL_FIELDS < {f for f in TrainConfig.__dataclass_fields__} and "learning_rate" not in RESULT_NEUTRAL_FIELDS


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
@pytest.mark.parametrize("column, head", [("y_quality", "quality"), ("ret_1", "direction")])
def test_nan_in_data_path_stops_with_exit_1(small_pipeline, tmp_path, column, head):
    table = pq.read_table(small_pipeline["data"])
    values = table.column(column).to_numpy().copy()
    eligible = np.flatnonzero(table.column("eligible").to_numpy(zero_copy_only=False))
    values[eligible[eligible < 1200]] = np.nan
    poisoned = tmp_path / "poisoned.parquet"
    table = table.set_column(table.column_names.index(column), column, pa.array(values))
    pq.write_table(table, poisoned)
    pipeline = {**small_pipeline, "data": poisoned}
    result = run_train(train_argv(pipeline, tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert "step 1" in result.stderr and head in result.stderr
    assert not (tmp_path / "out" / "model_state_dict.pt").exists()
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_a_failed_run_keeps_the_previous_bundle_and_log(small_pipeline, reference_run, tmp_path):
    """NaN data into an out_dir holding a good bundle: exit 1, every old file byte-identical, the new log beside it."""
    out, _ = reference_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    table = pq.read_table(small_pipeline["data"])
    values = table.column("ret_1").to_numpy().copy()
    values[:] = np.nan
    poisoned = tmp_path / "poisoned.parquet"
    pq.write_table(table.set_column(table.column_names.index("ret_1"), "ret_1", pa.array(values)), poisoned)
    result = run_train(train_argv({**small_pipeline, "data": poisoned}, copy))
    assert result.returncode == 1, result.stderr
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.name != "run_log.txt.partial"} == before
    assert "non-finite" in (copy / "run_log.txt.partial").read_text() or "step" in (copy / "run_log.txt.partial").read_text()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_out_dir_holding_the_inputs_or_foreign_files_is_refused_before_work(small_pipeline, tmp_path):
    contract_dir = tmp_path / "contract"
    shutil.copytree(small_pipeline["meta"].parent, contract_dir)
    before = {p.name: p.read_bytes() for p in contract_dir.iterdir()}
    pipeline = {**small_pipeline, "meta": contract_dir / "entry_v9_feature_meta.json",
                "seq_scaler": contract_dir / "seq_scaler.joblib", "snap_scaler": contract_dir / "snap_scaler.joblib"}
    result = run_train(train_argv(pipeline, contract_dir))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert {p.name: p.read_bytes() for p in contract_dir.iterdir()} == before
    foreign = tmp_path / "webapp"
    (foreign / "src").mkdir(parents=True)
    (foreign / "manifest.json").write_text("{}")
    result = run_train(train_argv(small_pipeline, foreign))
    assert result.returncode == 2 and "refusing to replace" in result.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["manifest.json", "src"]


@pytest.mark.slow  # a subprocess with torch
def test_dataset_of_another_contract_is_refused(small_pipeline, tmp_path):
    """A dataset built with another label horizon, trained with this meta: exit 2 naming both hashes."""
    other = dataset_with_label_config(small_pipeline["data"], tmp_path / "h8.parquet", horizon_bars=8)
    result = run_train(train_argv({**small_pipeline, "data": other}, tmp_path / "out"))
    assert result.returncode == 2 and "rebuild the contract" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_no_context_variant(small_pipeline, tmp_path):
    result = run_train(train_argv(small_pipeline, tmp_path / "out", "--epochs", "1"), context=None)
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "out" / "bundle_metadata.json").read_text())
    assert meta["model_variant"] == "v10" and meta["supports_context_features"] is False
    assert meta["expected_ctx_cat_dim"] == 0
    verify = [sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", str(tmp_path / "out"),
              "--expected_hash", meta["feature_contract_hash"]]
    plan_checks = subprocess.run(verify, capture_output=True, text=True)
    assert plan_checks.returncode == 1 and "FAIL supports_context_features" in plan_checks.stdout  # the plan's checks want v10_ctx
    no_context_checks = subprocess.run(verify + ["--expect_context", "false"], capture_output=True, text=True)
    assert no_context_checks.returncode == 0, no_context_checks.stdout


@pytest.mark.parametrize("argv_change, env_value, message", [
    (["--bogus_flag", "1"], "true", "unrecognized arguments"),
    (["--batch_size", "0"], "true", "--batch_size"),
    (["--epochs", "two"], "true", "--epochs"),
    (["--learning_rate", "-1"], "true", "--learning_rate"),
    (["--device", "tpu"], "true", "--device"),
    ([], "yes", "ENTRY_CONTEXT_FEATURES_ENABLED"),
    pytest.param(["--seq_len", "64"], "true", "seq_len", marks=pytest.mark.slow),  # checked after torch loads
    (["--seed", "-1"], "true", "--seed"),
    (["--seed", "1" * 25], "true", "--seed"),
    (["--num_threads", "100000000"], "true", "--num_threads"),
])
def test_bad_arguments_exit_2(small_pipeline, tmp_path, argv_change, env_value, message):
    argv = train_argv(small_pipeline, tmp_path / "out") + argv_change
    result = run_train(argv, context=env_value)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_failed_success_criterion_exits_1_after_metrics_without_bundle(small_pipeline, tmp_path):
    """The first 399 rows are warm-up: with 430 rows the eligibility rate is below the plan's 0.1."""
    argv = train_argv(small_pipeline, tmp_path / "out")
    argv[argv.index("--limit_samples") + 1] = "430"
    result = run_train(argv)
    assert result.returncode == 1, result.stderr
    assert "eligibility_rate_in_range" in result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json.failed").read_text())
    assert metrics["success_criteria"]["eligibility_rate_in_range"] is False and metrics["eligibility_rate"] < 0.1
    assert not (tmp_path / "out" / "model_state_dict.pt").exists() and not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.slow  # trains: the fast tier (-m 'not slow') skips it
def test_validation_auc_matches_the_saved_model(small_pipeline, tmp_path):
    """The last epoch's validation figures (direction and early-move AUC, quality correlation) equal sklearn's and
    numpy's on the bundle's own predictions for the validation rows."""
    from sklearn.metrics import roc_auc_score

    from gx1.dataset import read_dataset
    from gx1.bundle import load_bundle
    from gx1.dataset import split_rows

    result = run_train(train_argv(small_pipeline, tmp_path / "out", "--val_days", "1", "--epochs", "1",
                                  "--report_dir", str(tmp_path / "reports")))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    data = read_dataset(str(small_pipeline["data"]))
    train_rows, val_rows, _ = split_rows(data, limit_samples=1200, holdout_days=0, val_days=1, horizon=6)
    assert metrics["val_samples"] == len(val_rows) > 50 and train_rows.max() + 6 < val_rows.min()  # embargo
    bundle = load_bundle(tmp_path / "out")
    outputs = np.asarray(bundle.predict(bundle.model_inputs(data), val_rows), dtype=np.float64)
    last = metrics["per_epoch"][-1]
    assert last["val_direction_auc"] == pytest.approx(roc_auc_score(data["y_dir"][val_rows], outputs[:, 0]), abs=1e-9)
    assert last["val_early_move_auc"] == pytest.approx(roc_auc_score(data["y_early"][val_rows], outputs[:, 1]), abs=1e-9)
    corr = np.corrcoef(outputs[:, 2], np.asarray(data["y_quality"][val_rows], dtype=np.float64))[0, 1]
    assert last["val_quality_corr"] == pytest.approx(corr, abs=1e-6)
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())  # the headline dvc metrics diff lists
    assert {k: summary[k] for k in ("val_direction_auc", "val_early_move_auc", "val_quality_corr")} == \
        {k: round(last[k], 6) for k in ("val_direction_auc", "val_early_move_auc", "val_quality_corr")}
