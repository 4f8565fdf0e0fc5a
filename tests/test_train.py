"""Training: the plan's command, byte-exact reproducibility, resume, guards, metrics."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import train_argv

TRAIN_MODULE = "gx1.models.entry_v10.entry_v10_ctx_train"


def run_train(argv, context="true", extra_env=None):
    env = {**os.environ, **(extra_env or {})}
    env.pop("ENTRY_CONTEXT_FEATURES_ENABLED", None)
    if context is not None:
        env["ENTRY_CONTEXT_FEATURES_ENABLED"] = context
    return subprocess.run([sys.executable, "-m", TRAIN_MODULE, *argv], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def reference_run(small_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "ref"
    result = run_train(train_argv(small_pipeline, out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_outputs_and_metadata(reference_run):
    out, result = reference_run
    for name in ("model_state_dict.pt", "feature_contract_hash.txt", "train_config.json", "bundle_metadata.json",
                 "run_log.txt", "metrics.json", "train_steps.tsv", "train_epochs.tsv", "manifest.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    meta = json.loads((out / "bundle_metadata.json").read_text())
    assert meta["model_variant"] == "v10_ctx" and meta["supports_context_features"] is True
    assert meta["expected_ctx_cat_dim"] == 5 and meta["expected_ctx_cont_dim"] == 2
    assert meta["feature_contract_hash"] == (out / "feature_contract_hash.txt").read_text().strip()
    assert f"feature contract hash {meta['feature_contract_hash']}" in result.stdout
    config = json.loads((out / "train_config.json").read_text())
    assert (config["seq_len"], config["batch_size"], config["learning_rate"]) == (30, 64, 1e-4)
    assert config["num_threads"] == 2 and config["limit_samples"] == 1200 and config["model"]["d_model"] > 0
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


def test_same_arguments_same_bytes_other_seed_other_bytes(small_pipeline, reference_run, tmp_path):
    out, _ = reference_run
    again = run_train(train_argv(small_pipeline, tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    for name in ("model_state_dict.pt", "bundle_metadata.json", "golden_sample.json", "feature_contract_hash.txt"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    configs = [json.loads((d / "train_config.json").read_text()) for d in (out, tmp_path / "again")]
    assert configs[0].pop("out_dir") != configs[1].pop("out_dir") and configs[0] == configs[1]
    other = run_train(train_argv(small_pipeline, tmp_path / "other", "--seed", "7"))
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "other" / "model_state_dict.pt").read_bytes() != (out / "model_state_dict.pt").read_bytes()


def test_killed_run_resumes_to_identical_bytes(small_pipeline, reference_run, tmp_path):
    out, _ = reference_run
    killed = run_train(train_argv(small_pipeline, tmp_path / "run"), extra_env={"GX1_TEST_KILL_AFTER_EPOCH": "1"})
    assert killed.returncode == 137
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "run" / "model_state_dict.pt").exists()
    resumed = run_train(train_argv(small_pipeline, tmp_path / "run"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert (tmp_path / "run" / "model_state_dict.pt").read_bytes() == (out / "model_state_dict.pt").read_bytes()


def test_resume_with_other_arguments_is_refused(small_pipeline, tmp_path):
    killed = run_train(train_argv(small_pipeline, tmp_path / "run"), extra_env={"GX1_TEST_KILL_AFTER_EPOCH": "1"})
    assert killed.returncode == 137
    refused = run_train(train_argv(small_pipeline, tmp_path / "run", "--learning_rate", "3e-4"))
    assert refused.returncode == 2 and "learning_rate" in refused.stderr


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


def test_no_context_variant(small_pipeline, tmp_path):
    result = run_train(train_argv(small_pipeline, tmp_path / "out", "--epochs", "1"), context=None)
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "out" / "bundle_metadata.json").read_text())
    assert meta["model_variant"] == "v10" and meta["supports_context_features"] is False
    assert meta["expected_ctx_cat_dim"] == 0
    verify = [sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", str(tmp_path / "out"),
              "--expected_hash", meta["feature_contract_hash"]]
    plan_checks = subprocess.run(verify, capture_output=True, text=True)
    assert plan_checks.returncode == 1 and "FAIL supports_context_features" in plan_checks.stdout  # §5A wants v10_ctx
    no_context_checks = subprocess.run(verify + ["--expect_context", "false"], capture_output=True, text=True)
    assert no_context_checks.returncode == 0, no_context_checks.stdout


@pytest.mark.parametrize("argv_change, env_value, message", [
    (["--bogus_flag", "1"], "true", "unrecognized arguments"),
    (["--batch_size", "0"], "true", "--batch_size"),
    (["--epochs", "two"], "true", "--epochs"),
    (["--learning_rate", "-1"], "true", "--learning_rate"),
    (["--device", "tpu"], "true", "--device"),
    ([], "yes", "ENTRY_CONTEXT_FEATURES_ENABLED"),
    (["--seq_len", "64"], "true", "seq_len"),
])
def test_bad_arguments_exit_2(small_pipeline, tmp_path, argv_change, env_value, message):
    argv = train_argv(small_pipeline, tmp_path / "out") + argv_change
    result = run_train(argv, context=env_value)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_failed_success_criterion_exits_1_after_metrics_without_bundle(small_pipeline, tmp_path):
    """The first 399 rows are warm-up: with 430 rows the eligibility rate is below the plan's 0.1."""
    argv = train_argv(small_pipeline, tmp_path / "out")
    argv[argv.index("--limit_samples") + 1] = "430"
    result = run_train(argv)
    assert result.returncode == 1, result.stderr
    assert "eligibility_rate_in_range" in result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["success_criteria"]["eligibility_rate_in_range"] is False and metrics["eligibility_rate"] < 0.1
    assert not (tmp_path / "out" / "model_state_dict.pt").exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_validation_auc_matches_the_saved_model(small_pipeline, tmp_path):
    """The last epoch's validation AUC equals sklearn's AUC of the bundle's own predictions on the validation rows."""
    from sklearn.metrics import roc_auc_score

    from gx1.dataset import read_dataset
    from gx1.models.entry_v10.entry_v10_ctx_train import TrainConfig, split_rows
    from gx1.runtime import load_bundle

    result = run_train(train_argv(small_pipeline, tmp_path / "out", "--val_days", "1", "--epochs", "1"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    data = read_dataset(str(small_pipeline["data"]))
    config = TrainConfig(data="", out_dir="", feature_meta_path="", seq_scaler_path="", snap_scaler_path="",
                         limit_samples=1200, val_days=1)
    train_rows, val_rows, _ = split_rows(data, config, horizon=6)
    assert metrics["val_samples"] == len(val_rows) > 50 and train_rows.max() + 6 < val_rows.min()  # embargo
    bundle = load_bundle(tmp_path / "out")
    logits = bundle.predict(bundle.model_inputs(data), val_rows)[:, 0]
    expected = roc_auc_score(data["y_dir"][val_rows], logits)
    assert metrics["per_epoch"][-1]["val_direction_auc"] == pytest.approx(expected, abs=1e-9)
