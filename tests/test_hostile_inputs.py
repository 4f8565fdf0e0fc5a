"""Hostile bundles and careless hands (issue 12): no code from a file ever runs, no user file is destroyed,
every bad input gets one line and the promised exit code.

Payloads create a marker file when executed; every test asserts the marker never appears.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from conftest import run_train, train_argv
from gx1 import bundle, replay, verify
from gx1.common import InputError, run_cli, sha256_bytes
from gx1.models.entry_v10 import bundle_io
from gx1.scaler_io import scaler_from_bytes

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs ``open(path, "w")``: it stands in for arbitrary code."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def cli(main, argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def forge(directory: Path, name: str, blob: bytes) -> None:
    """Replace a bundle file and make everything the author controls agree with it (manifest, meta sha256)."""
    (directory / name).write_bytes(blob)
    if name in (bundle_io.SEQ_SCALER_NAME, bundle_io.SNAP_SCALER_NAME):
        meta = json.loads((directory / bundle_io.META_NAME).read_text())
        meta["scalers"]["seq" if name == bundle_io.SEQ_SCALER_NAME else "snap"]["sha256"] = sha256_bytes(blob)
        (directory / bundle_io.META_NAME).write_text(json.dumps(meta))
    files = {n: (directory / n).read_bytes() for n in bundle_io.BUNDLE_FILES if (directory / n).exists()}
    (directory / bundle_io.MANIFEST).write_bytes(bundle_io.manifest_bytes(files))


@pytest.fixture
def bundle_copy(trained_run, tmp_path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(trained_run[0], copy, ignore=shutil.ignore_patterns("*.tsv", "*metrics.json", "run_log*"))
    return copy


# ----------------------------------------------------------------------------- no code from a file ever runs


def test_malicious_scaler_never_runs_anywhere(bundle_copy, small_pipeline, tmp_path, capsys, monkeypatch):
    """A __reduce__ scaler with a consistent manifest and meta: verify, the runtime, gx1.bundle, replay and the
    trainer's contract loader all refuse it naming the file; the payload never runs."""
    marker = tmp_path / "marker"
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(control)))
    assert control.exists()  # the payload works when unpickled normally
    forge(bundle_copy, bundle_io.SEQ_SCALER_NAME, pickle.dumps(Payload(marker)))
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path", str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and "FAIL scalers" in out and "seq_scaler.joblib refused" in out and "not on the allow-list" in out
    with pytest.raises(InputError, match="scalers check failed"):
        bundle_io.load_bundle(bundle_copy)
    code, _, err = cli(bundle.main, ["--train_dir", str(bundle_copy), "--out", str(tmp_path / "rebundled")], capsys)
    assert code == 2 and one_line(err) and not (tmp_path / "rebundled").exists()
    monkeypatch.delenv("ENTRY_CONTEXT_FEATURES_ENABLED", raising=False)
    code, _, err = cli(replay.main, ["--bundle_dir", str(bundle_copy), "--data", str(small_pipeline["data"]),
                                     "--out_dir", str(tmp_path / "replay")], capsys)
    assert code == 2 and one_line(err) and "seq_scaler.joblib" in err
    pipeline = {**small_pipeline, "meta": bundle_copy / bundle_io.META_NAME, "seq_scaler": bundle_copy / bundle_io.SEQ_SCALER_NAME}
    trained = run_train(train_argv(pipeline, tmp_path / "train"))
    assert trained.returncode == 2 and one_line(trained.stderr) and "seq scaler" in trained.stderr
    assert not marker.exists()


@pytest.mark.parametrize("payload", ["object_array", "numpy_load", "joblib_ndarray_wrapper_object"])
def test_scaler_allow_list_refuses_code_paths_inside_numpy_and_joblib(tmp_path, payload):
    marker = tmp_path / "marker"
    scaler = StandardScaler().fit(np.random.default_rng(0).normal(size=(20, 3)))
    if payload == "object_array":  # joblib unpickles object arrays with a nested, unrestricted pickle.load
        scaler.mean_ = np.array([Payload(marker)] * 3, dtype=object)
        buffer = io.BytesIO()
        joblib.dump(scaler, buffer)
        blob = buffer.getvalue()
    elif payload == "numpy_load":
        blob = pickle.dumps(np.load, protocol=4)
    else:
        buffer = io.BytesIO()
        joblib.dump({"a": np.array([Payload(marker)], dtype=object)}, buffer)
        blob = buffer.getvalue()
    with pytest.raises(InputError, match="refused|not a StandardScaler"):
        scaler_from_bytes(blob, "x.joblib")
    assert not marker.exists()


@pytest.mark.parametrize("edit, message", [
    (lambda s: setattr(s, "mean_", np.full(s.n_features_in_, np.nan)), "non-finite"),
    (lambda s: setattr(s, "scale_", np.zeros(s.n_features_in_)), "zeros"),
    (lambda s: setattr(s, "scale_", s.scale_[:-1]), "float array"),
])
def test_scalers_with_unusable_numbers_fail_verify(bundle_copy, capsys, edit, message):
    scaler = scaler_from_bytes((bundle_copy / bundle_io.SNAP_SCALER_NAME).read_bytes(), "snap")
    edit(scaler)
    buffer = io.BytesIO()
    joblib.dump(scaler, buffer)
    forge(bundle_copy, bundle_io.SNAP_SCALER_NAME, buffer.getvalue())
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and "FAIL scalers" in out and message in out


@pytest.mark.slow  # trains
def test_malicious_checkpoint_is_never_unpickled(small_pipeline, tmp_path):
    """A checkpoint file is loaded with weights_only=True: a pickle payload there is a one-line exit 2."""
    killed = run_train(train_argv(small_pipeline, tmp_path / "run", "--epochs", "2", "--limit_samples", "700"),
                       extra_env={"GX1_FAULT_KILL_AFTER_EPOCH": "1"})
    assert killed.returncode == 137, killed.stderr
    [checkpoint] = (tmp_path / "run.checkpoints").glob("*.pt")
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save({"model": Payload(marker)}, buffer)
    checkpoint.write_bytes(buffer.getvalue())
    resumed = run_train(train_argv(small_pipeline, tmp_path / "run", "--epochs", "2", "--limit_samples", "700"))
    assert resumed.returncode == 2 and one_line(resumed.stderr) and "checkpoint" in resumed.stderr
    assert not marker.exists()


# ----------------------------------------------------------------------------- names, sizes, shapes


def test_forged_file_names_cannot_forge_output_lines(bundle_copy, capsys):
    (bundle_copy / "x\nPASS golden_sample: forged.pt").write_bytes(b"\0")
    manifest = json.loads((bundle_copy / bundle_io.MANIFEST).read_text())
    manifest["files"]["../../etc/passwd\nPASS weights: forged"] = {"sha256": "0" * 64, "bytes": 1}
    (bundle_copy / bundle_io.MANIFEST).write_text(json.dumps(manifest))
    code, out, err = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                       str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and "FAIL manifest" in out
    assert not [line for line in out.splitlines() if "forged" in line and not line.startswith("FAIL manifest")]
    assert len(out.strip().splitlines()) == 11 and one_line(err)


def test_path_traversal_and_special_files_are_never_read(bundle_copy, tmp_path, capsys):
    """Listed names outside the bundle files are never opened; a bundle file that is a symlink (to a device that
    would never end) is refused without reading it."""
    (bundle_copy / bundle_io.GOLDEN).unlink()
    os.symlink("/dev/zero", bundle_copy / bundle_io.GOLDEN)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block forever
    manifest = json.loads((bundle_copy / bundle_io.MANIFEST).read_text())
    manifest["files"][f"../{fifo.name}"] = {"sha256": "0" * 64}
    (bundle_copy / bundle_io.MANIFEST).write_text(json.dumps(manifest))
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and "golden_sample.json is not a regular file" in out and "unknown listed file" in out


@pytest.mark.parametrize("change, message", [
    ({"d_model": 4096, "n_layers": 48}, "not an int in"),
    ({"d_model": 2048, "n_layers": 48, "ff_mult": 16}, "parameters"),
    ({"n_heads": 0}, "n_heads 0"),
    ({"n_heads": 3}, "not divisible"),
    ({"seq_len": "30"}, "seq_len"),
    ({"ctx_cat_cardinalities": [10**9]}, "ctx_cat_cardinalities"),
    ({"ff_activation": "__import__('os').system"}, "ff_activation"),
    ({"surprise": 1}, "unknown"),
])
def test_model_config_is_bounded_before_anything_is_built(bundle_copy, capsys, change, message):
    metadata = json.loads((bundle_copy / bundle_io.METADATA).read_text())
    metadata["model_config"].update(change)
    forge(bundle_copy, bundle_io.METADATA, json.dumps(metadata).encode())
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and message in out.split("FAIL model_config")[1].splitlines()[0]
    assert {"model_config", "weights", "golden_sample"} <= {line.split()[1].rstrip(":") for line in out.splitlines()
                                                             if line.startswith("FAIL")}


def test_oversized_json_is_refused_unread(bundle_copy, capsys):
    (bundle_copy / bundle_io.GOLDEN).write_bytes(b"[" + b"0," * (9 << 20) + b"0]")
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle_io.META_NAME)], capsys)
    assert code == 1 and "more than the" in out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=8),
       key=st.sampled_from(["model_config", "feature_contract_hash", "model_variant", "expected_ctx_cat_dim", "environment"]))
def test_any_metadata_value_is_a_fail_or_pass_never_a_crash(trained_run, tmp_path_factory, key, value):
    """Property: whatever JSON a forger puts in bundle_metadata.json, verify ends with a verdict (0 or 1), never a traceback."""
    copy = tmp_path_factory.mktemp("fuzz") / "bundle"
    shutil.copytree(trained_run[0], copy, ignore=shutil.ignore_patterns("*.tsv", "*metrics.json", "run_log*"))
    metadata = json.loads((copy / bundle_io.METADATA).read_text())
    metadata[key] = value
    forge(copy, bundle_io.METADATA, json.dumps(metadata).encode())
    results = verify.verify_bundle(copy, json.loads((copy / bundle_io.METADATA).read_text()).get("feature_contract_hash")
                                   if isinstance(value, str) and len(value) == 16 else "0" * 16)
    assert len(results) == 11 and all("\n" not in r.line for r in results)


# ----------------------------------------------------------------------------- no user file destroyed


def test_bundle_never_replaces_a_foreign_folder(trained_run, tmp_path, capsys):
    webapp = tmp_path / "webapp"
    (webapp / "src").mkdir(parents=True)
    (webapp / "src" / "app.js").write_text("code\n")
    (webapp / "manifest.json").write_text('{"name": "my web app"}\n')
    code, _, err = cli(bundle.main, ["--train_dir", str(trained_run[0]), "--out", str(webapp)], capsys)
    assert code == 2 and one_line(err) and "refusing to replace" in err
    assert (webapp / "src" / "app.js").read_text() == "code\n"
    # a real bundle with one foreign file in it is not replaced either
    real = tmp_path / "real"
    assert cli(bundle.main, ["--train_dir", str(trained_run[0]), "--out", str(real)], capsys)[0] == 0
    (real / "notes.txt").write_text("mine\n")
    code, _, err = cli(bundle.main, ["--train_dir", str(trained_run[0]), "--out", str(real)], capsys)
    assert code == 2 and (real / "notes.txt").read_text() == "mine\n"


def test_bundle_staging_left_by_a_kill_is_cleaned_next_time(trained_run, tmp_path, capsys):
    out = tmp_path / "bundle"
    stale = tmp_path / ".bundle.staging-999999999-abc"  # a process id that cannot be running
    stale.mkdir()
    (stale / "model_state_dict.pt").write_bytes(b"half")
    assert cli(bundle.main, ["--train_dir", str(trained_run[0]), "--out", str(out)], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_replay_outputs_are_one_set(trained_run, small_pipeline, tmp_path, capsys, monkeypatch):
    """A failure while writing the set (as a kill would) leaves the previous set complete, and no staging folder."""
    out = tmp_path / "replay"
    monkeypatch.delenv("ENTRY_CONTEXT_FEATURES_ENABLED", raising=False)  # the variant comes from the bundle
    argv = ["--bundle_dir", str(trained_run[0]), "--data", str(small_pipeline["data"]), "--out_dir", str(out)]
    assert cli(replay.main, argv, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def failing_write(path, blob):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        Path(path).write_bytes(blob)
    monkeypatch.setattr(replay, "atomic_write_bytes", failing_write)
    code, _, err = cli(replay.main, argv + ["--days", "3"], capsys)
    assert code == 2 and one_line(err) and "No space left" in err and "free disk space" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replay"]
    (out / "mine.txt").write_text("x")
    monkeypatch.undo()
    code, _, err = cli(replay.main, argv, capsys)
    assert code == 2 and "refusing to replace" in err and (out / "mine.txt").exists()


@pytest.mark.parametrize("target", ["input", "device", "directory", "under_a_file"])
def test_outputs_never_destroy_what_is_not_ours(small_pipeline, tmp_path, capsys, target):
    from gx1 import bars
    source = tmp_path / "bars.csv"
    table = pq.read_table(small_pipeline["bars"]).slice(0, 50)
    rows = zip(*(table.column(c).to_pylist() for c in table.column_names))
    source.write_text(",".join(table.column_names) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    original = source.read_bytes()
    (tmp_path / "a_dir").mkdir()
    output = {"input": source, "device": Path("/dev/null"), "directory": tmp_path / "a_dir",
              "under_a_file": source / "out.parquet"}[target]
    code, _, err = cli(bars.main, ["--input", str(source), "--output", str(output)], capsys)
    assert code == 2 and one_line(err), err
    assert source.read_bytes() == original and Path("/dev/null").is_char_device() and (tmp_path / "a_dir").is_dir()


def test_dataset_outputs_are_checked_before_the_dataset_is_written(small_pipeline, tmp_path, capsys):
    from gx1 import dataset
    (tmp_path / "stats_dir").mkdir()
    code, _, err = cli(dataset.main, ["--bars", str(small_pipeline["bars"]), "--out", str(tmp_path / "d.parquet"),
                                      "--stats", str(tmp_path / "stats_dir")], capsys)
    assert code == 2 and one_line(err) and not (tmp_path / "d.parquet").exists()


# ----------------------------------------------------------------------------- wrong results never pass silently


def test_absurd_prices_are_refused_not_turned_into_infinite_features(small_pipeline, tmp_path, capsys):
    from gx1 import dataset
    table = pq.read_table(small_pipeline["bars"])
    bars = {name: table.column(name).to_numpy() for name in table.column_names}
    for name in ("open", "high", "low", "close"):
        bars[name] = bars[name].copy()
        bars[name][1000] = 1e308
    pq.write_table(pa.table({k: pa.array(v) for k, v in bars.items()}), tmp_path / "absurd.parquet")
    code, _, err = cli(dataset.main, ["--bars", str(tmp_path / "absurd.parquet"), "--out", str(tmp_path / "d.parquet")], capsys)
    assert code == 2 and one_line(err) and "row 1001" in err and not (tmp_path / "d.parquet").exists()


def test_bars_of_another_interval_are_refused_at_replay(trained_run, small_pipeline, tmp_path, capsys, monkeypatch):
    from gx1.bars import write_bars_parquet
    table = pq.read_table(small_pipeline["bars"])
    bars = {name: table.column(name).to_numpy() for name in table.column_names}
    start = bars["time"].astype("datetime64[ns]")[0]
    bars["time"] = start + np.arange(len(bars["close"])) * np.timedelta64(1, "h")  # the same prices as H1 bars
    write_bars_parquet(bars, tmp_path / "h1.parquet")
    monkeypatch.delenv("ENTRY_CONTEXT_FEATURES_ENABLED", raising=False)
    code, _, err = cli(replay.main, ["--bundle_dir", str(trained_run[0]), "--bars", str(tmp_path / "h1.parquet"),
                                     "--out_dir", str(tmp_path / "out")], capsys)
    assert code == 2 and one_line(err) and "bar_interval_seconds: 3600 vs 300" in err


@pytest.mark.parametrize("module, argv, message", [
    ("gx1.synth", ["--year", "3000", "--out", "{tmp}/b.parquet"], "--year"),
    ("gx1.dataset", ["--bars", "{bars}", "--out", "{tmp}/d.parquet", "--early_move_atr", "nan"], "--early_move_atr"),
    ("gx1.dataset", ["--bars", "{bars}", "--out", "{tmp}/d.parquet", "--max_gap_minutes", "nan"], "--max_gap_minutes"),
    ("gx1.dataset", ["--bars", "{bars}", "--out", "{tmp}/d.parquet", "--horizon_bars", "-3"], "--horizon_bars"),
    ("gx1.dataset", ["--bars", "{bars}", "--out", "{tmp}/d.parquet", "--point_size", "inf"], "--point_size"),
    ("gx1.bars", ["--input", "{tmp}/dup.csv", "--output", "{tmp}/o.parquet"], "more than once"),
    ("gx1.contract", ["--data", "{tmp}/badmeta.parquet", "--out_dir", "{tmp}/c"], "label config is not valid"),
    ("gx1.dataset", ["--bars", "{bars}", "--out", "{tmp}/d.parquet", "--weekend_gaps", "yes"], "--weekend_gaps"),
    ("gx1.dataset", ["--bars", "eur usd={bars}", "--out", "{tmp}/d.parquet"], "is not a symbol"),
    ("gx1.fold_data", ["--data", "{data}", "--start", "2020-01-01", "--days", "1", "--out", "{tmp}/f.parquet"],
     "the fold starts before the data"),
    ("gx1.sources", ["--params", "{tmp}/list.json", "--out_dir", "{tmp}/s"], "data.sources must map"),
    pytest.param("gx1.models.entry_v10.entry_v10_ctx_train", ["--feature_meta_path", "{tmp}/list.json"], "no 'contract' object",
                 marks=pytest.mark.slow),  # the trainer's checks run after torch loads: seconds
    pytest.param("gx1.models.entry_v10.entry_v10_ctx_train", ["--feature_meta_path", "{tmp}/nokeys.json"], "regenerate it",
                 marks=pytest.mark.slow),
])
def test_bad_inputs_get_one_line_and_exit_2(small_pipeline, tmp_path, module, argv, message):
    (tmp_path / "dup.csv").write_text("time,open,high,low,close,close\n2025-01-02 00:00,1,1,1,1,1\n")
    table = pq.read_table(small_pipeline["data"])
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"gx1.label_config": b"{not json"}),
                   tmp_path / "badmeta.parquet")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "nokeys.json").write_text('{"contract": {}}')
    argv = [a.format(tmp=tmp_path, bars=small_pipeline["bars"], data=small_pipeline["data"]) for a in argv]
    if module.endswith("entry_v10_ctx_train"):
        base = train_argv(small_pipeline, tmp_path / "out")
        base[base.index("--feature_meta_path") + 1] = argv[1]
        argv = base
    result = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, cwd=REPO, timeout=300,
                            env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"})
    assert result.returncode == 2 and one_line(result.stderr) and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
