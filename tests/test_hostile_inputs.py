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
import stat
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

from bounds import InProcessBound, run_bounded
from conftest import TRAIN_MODULE, run_train, train_argv
from gx1 import bundle, replay, verify
from gx1.common import InputError, run_cli, sha256_bytes
from gx1.scaler_io import scaler_from_bytes

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs ``open(path, "w")``: it stands in for arbitrary code."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def cli(main, argv, capsys) -> tuple[int, str, str]:
    """Run a command's main in-process; every call asserts the hostile cases' time and memory bound (tests/bounds.py)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info, InProcessBound() as bound:
        run_cli(main, argv)
    bound.check()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def command_line(module: str, argv: list[str], **popen):
    """``python3 -m module argv`` from the repository root, its wall time and peak RSS within the bound."""
    result = run_bounded([sys.executable, "-m", module, *argv], cwd=REPO, **popen)
    result.check()
    return result


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def forge(directory: Path, name: str, blob: bytes) -> None:
    """Replace a bundle file and make everything the author controls agree with it (manifest, meta sha256)."""
    (directory / name).write_bytes(blob)
    if name in (bundle.SEQ_SCALER_NAME, bundle.SNAP_SCALER_NAME):
        meta = json.loads((directory / bundle.META_NAME).read_text())
        meta["scalers"]["seq" if name == bundle.SEQ_SCALER_NAME else "snap"]["sha256"] = sha256_bytes(blob)
        (directory / bundle.META_NAME).write_text(json.dumps(meta))
    files = {n: (directory / n).read_bytes() for n in bundle.BUNDLE_FILES if (directory / n).exists()}
    (directory / bundle.MANIFEST).write_bytes(bundle.manifest_bytes(files))


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
    forge(bundle_copy, bundle.SEQ_SCALER_NAME, pickle.dumps(Payload(marker)))
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path", str(bundle_copy / bundle.META_NAME)], capsys)
    assert code == 1 and "FAIL scalers" in out and "seq_scaler.joblib refused" in out and "not on the allow-list" in out
    with pytest.raises(InputError, match="scalers check failed"):
        bundle.load_bundle(bundle_copy)
    code, _, err = cli(bundle.main, ["--train_dir", str(bundle_copy), "--out", str(tmp_path / "rebundled")], capsys)
    assert code == 2 and one_line(err) and not (tmp_path / "rebundled").exists()
    monkeypatch.delenv("ENTRY_CONTEXT_FEATURES_ENABLED", raising=False)
    code, _, err = cli(replay.main, ["--bundle_dir", str(bundle_copy), "--data", str(small_pipeline["data"]),
                                     "--out_dir", str(tmp_path / "replay")], capsys)
    assert code == 2 and one_line(err) and "seq_scaler.joblib" in err
    pipeline = {**small_pipeline, "meta": bundle_copy / bundle.META_NAME, "seq_scaler": bundle_copy / bundle.SEQ_SCALER_NAME}
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
    scaler = scaler_from_bytes((bundle_copy / bundle.SNAP_SCALER_NAME).read_bytes(), "snap")
    edit(scaler)
    buffer = io.BytesIO()
    joblib.dump(scaler, buffer)
    forge(bundle_copy, bundle.SNAP_SCALER_NAME, buffer.getvalue())
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle.META_NAME)], capsys)
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
    manifest = json.loads((bundle_copy / bundle.MANIFEST).read_text())
    manifest["files"]["../../etc/passwd\nPASS weights: forged"] = {"sha256": "0" * 64, "bytes": 1}
    (bundle_copy / bundle.MANIFEST).write_text(json.dumps(manifest))
    code, out, err = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                       str(bundle_copy / bundle.META_NAME)], capsys)
    assert code == 1 and "FAIL manifest" in out
    assert not [line for line in out.splitlines() if "forged" in line and not line.startswith("FAIL manifest")]
    assert len(out.strip().splitlines()) == 11 and one_line(err)


def test_path_traversal_and_special_files_are_never_read(bundle_copy, tmp_path, capsys):
    """Listed names outside the bundle files are never opened; a bundle file that is a symlink (to a device that
    would never end) is refused without reading it."""
    (bundle_copy / bundle.GOLDEN).unlink()
    os.symlink("/dev/zero", bundle_copy / bundle.GOLDEN)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block forever
    manifest = json.loads((bundle_copy / bundle.MANIFEST).read_text())
    manifest["files"][f"../{fifo.name}"] = {"sha256": "0" * 64}
    (bundle_copy / bundle.MANIFEST).write_text(json.dumps(manifest))
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle.META_NAME)], capsys)
    assert code == 1 and "golden_sample.json is a symbolic link: gx1 reads only regular files" in out and "unknown listed file" in out


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
    metadata = json.loads((bundle_copy / bundle.METADATA).read_text())
    metadata["model_config"].update(change)
    forge(bundle_copy, bundle.METADATA, json.dumps(metadata).encode())
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle.META_NAME)], capsys)
    assert code == 1 and message in out.split("FAIL model_config")[1].splitlines()[0]
    assert {"model_config", "weights", "golden_sample"} <= {line.split()[1].rstrip(":") for line in out.splitlines()
                                                             if line.startswith("FAIL")}


def test_oversized_json_is_refused_unread(bundle_copy, capsys):
    (bundle_copy / bundle.GOLDEN).write_bytes(b"[" + b"0," * (9 << 20) + b"0]")
    code, out, _ = cli(verify.main, ["--bundle_dir", str(bundle_copy), "--feature_meta_path",
                                     str(bundle_copy / bundle.META_NAME)], capsys)
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
    metadata = json.loads((copy / bundle.METADATA).read_text())
    metadata[key] = value
    forge(copy, bundle.METADATA, json.dumps(metadata).encode())
    results = bundle.verify_bundle(copy, json.loads((copy / bundle.METADATA).read_text()).get("feature_contract_hash")
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
    result = command_line(module, argv, timeout=300, env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"})
    assert result.returncode == 2 and one_line(result.stderr) and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- issue 28: ownership, bounds, one line


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root``: file sha256, link target, or its kind: what a refused command must leave as it was."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            relative, info = path.relative_to(root).as_posix(), path.lstat()
            if path.is_symlink():
                state[relative] = f"-> {os.readlink(path)}"
            elif stat.S_ISREG(info.st_mode):
                state[relative] = sha256_bytes(path.read_bytes())
            else:
                state[relative] = "dir" if stat.S_ISDIR(info.st_mode) else "special"
    return state


def module_main(name: str):
    import importlib
    return importlib.import_module(name).main


def json_file(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1) + "\n")
    return path


def write_params(path: Path, sources: str) -> Path:
    path.write_text(f"data:\n  sources:\n{sources}")
    return path


SYNTHETIC_H1 = "{file: synthetic, interval_minutes: 60, year: 2025, last_year: 2025, seed: 1}"


def hostile_setup(case: str, tmp: Path, pipeline: dict, request) -> tuple[str, list[str], str]:
    """(module, argv, a fragment of the one line) for one output that is not the command's own to replace."""
    tmp.joinpath("notes.txt").write_text("mine\n")
    fake_bundle = tmp / "bundle"
    json_file(fake_bundle / "manifest.json", {"format": "gx1-bundle/2", "files": {}})
    json_file(fake_bundle / "golden_sample.json", {"rows": []})
    meta = json_file(tmp / "contract" / "entry_v9_feature_meta.json", {"contract": {}})
    replay_json = json_file(tmp / "a" / "replay.json", {"n_candidates": 1})
    if case == "sources_foreign_folder":  # a folder of the user's that happens to hold a sources.json
        json_file(tmp / "out" / "sources.json", {"mine": True})
        tmp.joinpath("out", "notes.txt").write_text("mine\n")
        return "gx1.sources", ["--params", str(write_params(tmp / "p.yaml", f"    XAUUSD: {SYNTHETIC_H1}\n")),
                               "--out_dir", str(tmp / "out")], "refusing to replace"
    if case == "walkforward_foreign_folder":
        json_file(tmp / "fold" / "fold.json", {"start": "x"})
        (tmp / "fold" / "precious.txt").write_text("mine\n")
        return "gx1.walkforward", ["--data", str(pipeline["data"]), "--start", "2025-01-10", "--days", "1",
                                   "--out_dir", str(tmp / "fold")], "refusing to replace"
    if case == "replay_user_files_with_its_names":
        for name in ("summary.json", "replay.json"):
            (tmp / "reports").mkdir(exist_ok=True)
            (tmp / "reports" / name).write_text("mine\n")
        real_bundle = request.getfixturevalue("trained_run")[0]  # a replay that would run to the end
        return "gx1.replay", ["--bundle_dir", str(real_bundle), "--data", str(pipeline["data"]),
                              "--out_dir", str(tmp / "reports")], "refusing to replace"
    if case == "replay_into_the_bundle":
        return "gx1.replay", ["--bundle_dir", str(fake_bundle), "--data", str(pipeline["data"]),
                              "--out_dir", str(fake_bundle / "replay")], "overlap"
    if case.startswith("verify_onto_"):
        target = {"verify_onto_manifest": fake_bundle / "manifest.json", "verify_onto_golden": fake_bundle / "golden_sample.json",
                  "verify_onto_meta": meta, "verify_onto_user_json": json_file(tmp / "mine.json", {"a": 1})}[case]
        return "gx1.verify", ["--bundle_dir", str(fake_bundle), "--feature_meta_path", str(meta), "--report", str(target)], \
            "refusing to overwrite" if case == "verify_onto_user_json" else "output"
    if case.startswith("compare_onto_"):
        target = tmp / "link.json"
        if case == "compare_onto_hard_link":
            os.link(replay_json, target)
        elif case == "compare_onto_symlink":
            os.symlink(replay_json, target)
        else:
            target = replay_json
        return "gx1.compare", ["--baseline", str(replay_json), "--candidate", str(replay_json), "--json", str(target)], \
            "is the input"
    if case == "contract_report_onto_its_meta":
        contract = tmp / "c"
        json_file(contract / "entry_v9_feature_meta.json", {"contract": {}, "feature_contract_hash": "x", "scalers": {}})
        return "gx1.contract", ["--data", str(pipeline["data"]), "--out_dir", str(contract), "--report",
                                str(contract / "entry_v9_feature_meta.json")], "refusing to overwrite"
    if case == "contract_over_a_foreign_scaler":
        (tmp / "c").mkdir()
        (tmp / "c" / "seq_scaler.joblib").write_bytes(b"my own pickle, not a scaler")
        return "gx1.contract", ["--data", str(pipeline["data"]), "--out_dir", str(tmp / "c")], "seq_scaler.joblib"
    if case == "dataset_out_onto_user_parquet":
        pq.write_table(pa.table({"x": [1, 2]}), tmp / "mine.parquet")
        return "gx1.dataset", ["--bars", str(pipeline["bars"]), "--out", str(tmp / "mine.parquet")], "refusing to overwrite"
    if case == "dataset_stats_onto_user_json":
        return "gx1.dataset", ["--bars", str(pipeline["bars"]), "--out", str(tmp / "d.parquet"), "--stats",
                               str(json_file(tmp / "mine.json", {"a": 1}))], "refusing to overwrite"
    if case == "bars_output_onto_user_csv":
        return "gx1.bars", ["--input", str(pipeline["bars"]), "--output", str(tmp / "notes.txt")], "refusing to overwrite"
    if case == "synth_out_onto_user_file":
        return "gx1.synth", ["--interval_minutes", "60", "--out", str(tmp / "notes.txt")], "refusing to overwrite"
    if case == "fold_data_onto_hard_link_of_data":
        os.link(pipeline["data"], tmp / "f.parquet")
        return "gx1.fold_data", ["--data", str(pipeline["data"]), "--start", "2025-01-10", "--out", str(tmp / "f.parquet")], \
            "is the input"
    if case == "headline_onto_its_input":
        train = json_file(tmp / "t.json", {"train_loss": 1.0})
        return "gx1.headline", ["--train", str(train), "--replay", str(json_file(tmp / "r.json", {"trades": 1})),
                                "--out", str(train)], "is the input"
    if case == "headline_onto_user_json":
        return "gx1.headline", ["--train", str(json_file(tmp / "t.json", {"train_loss": 1.0})), "--replay",
                                str(json_file(tmp / "r.json", {"trades": 1})), "--out",
                                str(json_file(tmp / "mine.json", {"a": 1}))], "refusing to overwrite"
    if case == "walkforward_summary_onto_a_fold":
        fold = json_file(tmp / "folds" / "a" / "fold.json", {"start": "2025-01-01"})
        return "gx1.walkforward_summary", ["--folds_dir", str(tmp / "folds"), "--out", str(fold), "--table",
                                           str(tmp / "t.tsv")], "lies inside"
    if case == "walkforward_summary_table_onto_user_file":
        (tmp / "folds").mkdir()
        return "gx1.walkforward_summary", ["--folds_dir", str(tmp / "folds"), "--out", str(tmp / "s.json"), "--table",
                                           str(tmp / "notes.txt")], "refusing to overwrite"
    if case == "seed_summary_onto_its_input":
        saved = json_file(tmp / "exp.json", [])
        os.symlink(saved, tmp / "link.json")
        return "gx1.seed_summary", ["--exp_show_json", str(saved), "--json", str(tmp / "link.json")], "is the input"
    raise AssertionError(case)


OWNERSHIP_CASES = [
    "sources_foreign_folder", "walkforward_foreign_folder", "replay_user_files_with_its_names", "replay_into_the_bundle",
    "verify_onto_manifest", "verify_onto_golden", "verify_onto_meta", "verify_onto_user_json", "compare_onto_input",
    "compare_onto_hard_link", "compare_onto_symlink", "contract_report_onto_its_meta", "contract_over_a_foreign_scaler",
    "dataset_out_onto_user_parquet", "dataset_stats_onto_user_json", "bars_output_onto_user_csv",
    "synth_out_onto_user_file", "fold_data_onto_hard_link_of_data", "headline_onto_its_input", "headline_onto_user_json",
    "walkforward_summary_onto_a_fold", "walkforward_summary_table_onto_user_file", "seed_summary_onto_its_input",
]


@pytest.mark.parametrize("case", OWNERSHIP_CASES)
def test_no_command_replaces_or_overwrites_what_is_not_its_own(small_pipeline, tmp_path, capsys, monkeypatch, request, case):
    """Issue 28, every command and output flag: a folder that is not the command's own earlier output, a file of
    another kind, one of the command's inputs (also through a hard link or symlink), a file inside a bundle or
    contract it reads: exit 2, one line, and not one byte under tmp_path changes."""
    module, argv, fragment = hostile_setup(case, tmp_path, small_pipeline, request)
    monkeypatch.setenv("ENTRY_CONTEXT_FEATURES_ENABLED", "true")
    before = tree(tmp_path)
    code, _, err = cli(module_main(module), argv, capsys)
    assert code == 2 and one_line(err) and fragment in err, err
    assert tree(tmp_path) == before


def test_sources_never_deletes_the_bars_it_reads_from_its_own_folder(tmp_path, capsys):
    """The issue's case: bars dropped into the data stage's folder and listed there; the next run refuses (one line)
    instead of replacing the folder with them in it."""
    params = write_params(tmp_path / "p.yaml", f"    XAUUSD: {SYNTHETIC_H1}\n")
    out = tmp_path / "sources"
    from gx1 import sources
    assert cli(sources.main, ["--params", str(params), "--out_dir", str(out)], capsys)[0] == 0
    shutil.copy(out / "XAUUSD.parquet", out / "eurusd_mine.parquet")
    write_params(params, f"    XAUUSD: {SYNTHETIC_H1}\n    EURUSD: {{file: {out / 'eurusd_mine.parquet'}, interval_minutes: 60}}\n")
    before = tree(tmp_path)
    code, _, err = cli(sources.main, ["--params", str(params), "--out_dir", str(out)], capsys)
    assert code == 2 and one_line(err) and "lies inside the output folder" in err, err
    assert tree(tmp_path) == before
    (out / "eurusd_mine.parquet").unlink()  # with the user's file gone, the folder is the command's own again
    write_params(params, f"    XAUUSD: {SYNTHETIC_H1}\n")
    assert cli(sources.main, ["--params", str(params), "--out_dir", str(out)], capsys)[0] == 0
    (out / "notes.txt").write_text("mine\n")
    before = tree(tmp_path)
    code, _, err = cli(sources.main, ["--params", str(params), "--out_dir", str(out)], capsys)
    assert code == 2 and one_line(err) and "notes.txt" in err and tree(tmp_path) == before


def replay_report() -> dict:
    """A replay.json with every figure gx1.compare reads."""
    from gx1.compare import FIGURES
    report: dict = {}
    for figure in FIGURES:
        *parents, last = figure.key.split(".")
        node = report
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = 1.0
    return report


def test_every_command_still_replaces_its_own_earlier_output(small_pipeline, tmp_path, capsys, monkeypatch):
    """The other side of ownership: a second run over the first run's outputs succeeds, for each command here."""
    from gx1 import bars, compare as compare_module, contract, dataset, fold_data, headline, seed_summary, synth
    runs = [
        (synth.main, ["--interval_minutes", "60", "--out", str(tmp_path / "s.parquet")]),
        (bars.main, ["--input", str(tmp_path / "s.parquet"), "--output", str(tmp_path / "b.parquet")]),
        (dataset.main, ["--bars", "XAUUSD=" + str(small_pipeline["bars"]), "--out", str(tmp_path / "d.parquet"),
                        "--stats", str(tmp_path / "d.json")]),
        (contract.main, ["--data", str(tmp_path / "d.parquet"), "--out_dir", str(tmp_path / "c"), "--report",
                         str(tmp_path / "c.json")]),
        (fold_data.main, ["--data", str(tmp_path / "d.parquet"), "--start", "2025-01-10", "--out", str(tmp_path / "f.parquet")]),
        (headline.main, ["--train", str(json_file(tmp_path / "t.json", {"train_loss": 1.0})), "--replay",
                         str(json_file(tmp_path / "r.json", {"trades": 1})), "--out", str(tmp_path / "h.json")]),
        (compare_module.main, ["--baseline", str(json_file(tmp_path / "a.json", replay_report())), "--candidate",
                               str(tmp_path / "a.json"), "--json", str(tmp_path / "cmp.json")]),
        (seed_summary.main, ["--exp_show_json", str(json_file(tmp_path / "e.json", [{"experiments": [{"revs": [
            {"name": "x", "data": {"metrics": {"m.json": {"data": {"auc": 0.5}}}}}]}]}])), "--json", str(tmp_path / "ss.json")]),
    ]
    for main, argv in runs:
        for attempt in range(2):
            code, _, err = cli(main, argv, capsys)
            assert code == 0, (main.__module__, attempt, err)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["entry_v9_feature_meta.json", "seq_scaler.joblib",
                                                                    "snap_scaler.joblib"]


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)) + "data: {sources: *i}\n"


@pytest.mark.parametrize("text, fragment", [
    pytest.param(LAUGHS, "aliases", id="billion_laughs"),  # 9^9 list items from 10 lines
    pytest.param("data:\n  sources:\n    XAUUSD: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than", id="deep"),
    pytest.param("data:\n  sources:\n    XAUUSD: {file: synthetic}\n    XAUUSD: {file: eurusd.csv}\n", "appears twice",
                 id="same_instrument_twice"),
    pytest.param(f"data:\n  sources:\n    1: {SYNTHETIC_H1}\n    '1': {SYNTHETIC_H1}\n", "must be text", id="1_and_'1'"),
    pytest.param("data:\n  sources:\n    XAUUSD: {file: synthetic, interval_minutes: 1, year: 1971, last_year: 2261, seed: 1}\n",
                 "more than the 10,000,000", id="synthetic_1971_2261_M1"),
    pytest.param("data:\n  sources:\n    XAUUSD: {file: synthetic, interval_minutes: 5, year: 1971, last_year: 2261, seed: 1}\n",
                 "bar slots", id="synthetic_1971_2261_M5"),
])
def test_params_are_read_bounded(tmp_path, text, fragment):
    """Aliases, depth, a key twice, 1 and '1', a synthetic request past the limit: one line, exit 2, in seconds and
    nothing written (a subprocess: the unbounded reader would take the test's memory with it)."""
    (tmp_path / "params.yaml").write_text(text)
    before = tree(tmp_path)
    result = command_line("gx1.sources", ["--params", str(tmp_path / "params.yaml"), "--out_dir", str(tmp_path / "out")])
    assert result.returncode == 2 and one_line(result.stderr) and fragment in result.stderr, result.stderr[-2000:]
    assert tree(tmp_path) == before


def test_synth_refuses_a_request_past_its_limit_before_allocating(tmp_path, capsys):
    from gx1 import synth
    code, _, err = cli(synth.main, ["--year", "1971", "--last_year", "2261", "--interval_minutes", "1",
                                    "--out", str(tmp_path / "b.parquet")], capsys)
    assert code == 2 and one_line(err) and "bar slots" in err and not (tmp_path / "b.parquet").exists()


def typed_bars_parquet(path: Path, pipeline: dict, column: str, kind: str) -> Path:
    table = pq.read_table(pipeline["bars"]).slice(0, 300)
    values = table.column(column).to_pylist()
    replaced = pa.array([True] * len(values)) if kind == "bool" else pa.array([str(v) for v in values])
    pq.write_table(table.set_column(table.column_names.index(column), column, replaced), path)
    return path


@pytest.mark.parametrize("case", ["bool_close", "text_open", "bool_volume", "text_spread", "one_token_line", "passwd_line",
                                  "many_columns_missing_close", "directory", "fifo", "device"])
@pytest.mark.parametrize("command", ["gx1.bars", "gx1.sources"])
def test_bars_inputs_are_numbers_in_regular_files_and_never_quoted(small_pipeline, tmp_path, command, case):
    """Price, volume and spread must be numbers (a boolean is not a price of 1.0); a file that is not a table is
    never quoted; a column list is bounded; a directory, a named pipe or a device is one line saying so (never a
    read that blocks, never "file not found")."""
    secret = "root:x:0:0:SECRET-TOKEN:/root:/bin/bash"
    source = tmp_path / "bars.parquet"
    if case in ("bool_close", "text_open", "bool_volume", "text_spread"):
        column = {"bool_close": "close", "text_open": "open", "bool_volume": "volume", "text_spread": "spread"}[case]
        typed_bars_parquet(source, small_pipeline, column, case.split("_")[0])
        fragment = "not numbers"
    elif case in ("one_token_line", "passwd_line"):
        source = tmp_path / "bars.csv"
        source.write_text(("SECRET-TOKEN" if case == "one_token_line" else secret) + "\n")
        fragment = "not a bars table"
    elif case == "many_columns_missing_close":
        source = tmp_path / "bars.csv"
        source.write_text(",".join(["time", "open", "high", "low"] + [f"c{i}_" + "x" * 50 for i in range(40)]) + "\n"
                          + ",".join(["1"] * 44) + "\n")
        fragment = "(+"
    elif case == "directory":
        source = tmp_path / "a_folder.csv"
        source.mkdir()
        fragment = "is a directory"
    elif case == "fifo":
        source = tmp_path / "pipe.csv"
        os.mkfifo(source)
        fragment = "named pipe"
    else:
        source, fragment = Path("/dev/zero"), "is a device"
    if command == "gx1.bars":
        argv = ["--input", str(source), "--output", str(tmp_path / "out.parquet")]
    else:
        params = write_params(tmp_path / "p.yaml", f"    XAUUSD: {{file: '{source}', interval_minutes: 5}}\n")
        argv = ["--params", str(params), "--out_dir", str(tmp_path / "out")]
    before = tree(tmp_path)
    result = command_line(command, argv)
    assert result.returncode == 2 and one_line(result.stderr) and fragment in result.stderr, result.stderr[-2000:]
    assert "SECRET-TOKEN" not in result.stderr and len(result.stderr) < 1000
    assert tree(tmp_path) == before


@pytest.mark.parametrize("module, argv", [
    ("gx1.dataset", ["--bars", "{fifo}", "--out", "{tmp}/d.parquet"]),
    ("gx1.contract", ["--data", "{fifo}", "--out_dir", "{tmp}/c"]),
    ("gx1.fold_data", ["--data", "{fifo}", "--start", "2025-01-10", "--out", "{tmp}/f.parquet"]),
    ("gx1.walkforward", ["--data", "{fifo}", "--start", "2025-01-10", "--out_dir", "{tmp}/fold"]),
    ("gx1.replay", ["--bundle_dir", "{tmp}/bundle", "--data", "{fifo}", "--out_dir", "{tmp}/r"]),
    ("gx1.seed_summary", ["--exp_show_json", "{fifo}"]),
    pytest.param(TRAIN_MODULE, ["--data", "{fifo}"], marks=pytest.mark.slow),  # torch loads first: seconds
])
def test_a_named_pipe_as_input_is_one_line_not_a_hang(small_pipeline, tmp_path, module, argv):
    fifo = tmp_path / "data.parquet"
    os.mkfifo(fifo)
    argv = [a.format(fifo=fifo, tmp=tmp_path) for a in argv]
    if module == TRAIN_MODULE:
        argv = train_argv({**small_pipeline, "data": fifo}, tmp_path / "out")
    before = tree(tmp_path)
    result = command_line(module, argv, env={**os.environ, "ENTRY_CONTEXT_FEATURES_ENABLED": "true"})
    assert result.returncode == 2 and one_line(result.stderr) and "named pipe" in result.stderr, result.stderr[-2000:]
    assert tree(tmp_path) == before


def test_contract_files_are_swapped_in_as_one_set(small_pipeline, tmp_path, capsys, monkeypatch):
    """A failure while the new meta is put in place (after the new scalers) leaves the old meta and the old scalers,
    never new scalers beside the old meta."""
    from gx1 import contract
    out = tmp_path / "c"
    assert cli(contract.main, ["--data", str(small_pipeline["data"]), "--out_dir", str(out)], capsys)[0] == 0
    before = tree(out)
    real_replace, failed = os.replace, []

    def failing_replace(source, destination, *args, **kwargs):
        if Path(destination) == out / contract.META_NAME and not failed:
            failed.append(destination)
            raise OSError(28, "No space left on device", str(destination))
        return real_replace(source, destination, *args, **kwargs)
    monkeypatch.setattr(os, "replace", failing_replace)
    code, _, err = cli(contract.main, ["--data", str(small_pipeline["data"]), "--out_dir", str(out), "--holdout_days", "3"],
                       capsys)
    assert failed and code == 2 and one_line(err) and "No space left" in err
    assert tree(out) == before  # the old set, complete; no staging folder left
    monkeypatch.undo()
    assert cli(contract.main, ["--data", str(small_pipeline["data"]), "--out_dir", str(out), "--holdout_days", "3"],
               capsys)[0] == 0
    meta = json.loads((out / contract.META_NAME).read_text())
    new_seq = sha256_bytes((out / contract.SEQ_SCALER_NAME).read_bytes())
    assert meta["scalers"]["seq"]["sha256"] == new_seq != before[contract.SEQ_SCALER_NAME]


@pytest.mark.slow  # a subprocess with torch (and, without the check, a whole training run)
@pytest.mark.parametrize("flag", ["--out_dir", "--report_dir"])
def test_trainer_never_replaces_a_folder_of_user_files_with_its_names(small_pipeline, tmp_path, flag):
    """User files named summary.json, metrics.json, run_log.txt are not training reports: refused before training,
    nothing written anywhere (no checkpoint, no partial log)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("summary.json", "metrics.json", "run_log.txt"):
        (mine / name).write_text("mine\n")
    argv = train_argv(small_pipeline, mine) if flag == "--out_dir" else \
        train_argv(small_pipeline, tmp_path / "out", "--report_dir", str(mine))
    before = tree(tmp_path)
    result = run_train(argv)
    assert result.returncode == 2 and one_line(result.stderr) and "refusing to replace" in result.stderr, result.stderr[-2000:]
    assert tree(tmp_path) == before


def test_the_plans_tee_into_the_out_dir_is_accepted_and_nothing_else(tmp_path):
    """The plan's `mkdir -p out && train ... | tee out/run_log.txt`: when training checks its out_dir, tee has just
    created an empty run_log.txt there, which training may replace; a run_log.txt with content, or beside any other
    file, is the user's and is refused."""
    from gx1.training.run_inputs import OUTPUT_COMMAND, bundle_only as _bundle_only
    from gx1.outputs import folder_problem
    out = tmp_path / "out"
    out.mkdir()
    (out / "run_log.txt").write_bytes(b"")
    assert folder_problem(out, OUTPUT_COMMAND, _bundle_only) is None
    (out / "run_log.txt").write_text("my notes\n")
    assert "refusing to replace" in folder_problem(out, OUTPUT_COMMAND, _bundle_only)
    (out / "run_log.txt").write_bytes(b"")
    (out / "notes.txt").write_bytes(b"")
    assert "refusing to replace" in folder_problem(out, OUTPUT_COMMAND, _bundle_only)


def test_a_folder_marker_is_byte_stable_and_names_only_the_command_and_its_files(tmp_path, capsys):
    """The marker is the same bytes wherever and whenever the same output is written (no time, no absolute path),
    lists exactly the files swapped in, and DVC ignores it (.dvcignore): a folder out's hash does not change."""
    from gx1 import sources
    from gx1.outputs import MARKER
    params = write_params(tmp_path / "p.yaml", f"    XAUUSD: {SYNTHETIC_H1}\n")
    for name in ("a", "b"):
        assert cli(sources.main, ["--params", str(params), "--out_dir", str(tmp_path / name)], capsys)[0] == 0
    marker = (tmp_path / "a" / MARKER).read_bytes()
    assert marker == (tmp_path / "b" / MARKER).read_bytes()
    assert json.loads(marker) == {"command": "gx1.sources", "files": ["XAUUSD.parquet", "sources.json"]}
    assert MARKER in (REPO / ".dvcignore").read_text().split()
