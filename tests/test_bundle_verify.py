"""Bundle assembly, verification and safe loading: a fresh bundle passes; each tamper fails exactly the checks it should.

One training run per module (subprocess, as the plan runs it); every tamper case works on a copy.
"""
from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from gx1 import bundle, verify
from gx1.common import InputError, run_cli
from gx1.contract import load_scaler
from gx1.dataset import read_dataset
from gx1.bundle import load_bundle
from gx1.models.entry_v10.inputs import build_model_inputs
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

REPO = Path(__file__).resolve().parents[1]
ALL_CHECKS = ["manifest", "supports_context_features", "expected_ctx_cat_dim", "expected_ctx_cont_dim",
              "feature_contract_hash", "model_variant", "contract", "model_config", "scalers", "weights", "golden_sample"]


@pytest.fixture(scope="module")
def trained(trained_run) -> tuple[Path, str]:
    """The shared training out_dir (the plan's command at test size) and the hash training printed."""
    out, _, printed_hash = trained_run
    return out, printed_hash


@pytest.fixture(scope="module")
def bundle_dir(trained, tmp_path_factory) -> Path:
    train_dir, _ = trained
    out = tmp_path_factory.mktemp("bundle_verify") / "bundle"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(bundle.main, ["--train_dir", str(train_dir), "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def run_verify(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(verify.main, argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def check_lines(stdout: str) -> dict[str, str]:
    """{check name: its PASS/FAIL line}."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"(PASS|FAIL) (\w+): ", line)
        if match:
            found[match.group(2)] = line
    return found


def failed_checks(stdout: str) -> set[str]:
    return {name for name, line in check_lines(stdout).items() if line.startswith("FAIL")}


def test_fresh_training_out_dir_and_bundle_pass(trained, bundle_dir, capsys):
    train_dir, printed_hash = trained
    for directory in (train_dir, bundle_dir):
        code, out, err = run_verify(["--bundle_dir", str(directory), "--expected_hash", printed_hash], capsys)
        assert code == 0, out + err
        assert list(check_lines(out)) == ALL_CHECKS and not failed_checks(out)
        for line in ("PASS supports_context_features: true", "PASS expected_ctx_cat_dim: 5", "PASS expected_ctx_cont_dim: 2",
                     'PASS model_variant: "v10_ctx"'):
            assert line in out.splitlines()
        assert f"PASS feature_contract_hash: {printed_hash}" in out
    # the bundle holds exactly the bundle files and the manifest, byte-identical to the training out_dir's
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted(bundle.BUNDLE_FILES + (bundle.MANIFEST,))
    for name in bundle.BUNDLE_FILES + (bundle.MANIFEST,):
        assert (bundle_dir / name).read_bytes() == (train_dir / name).read_bytes(), name


@pytest.mark.slow  # a subprocess with torch
def test_plan_verify_command_on_training_out_dir(trained):
    train_dir, printed_hash = trained
    result = subprocess.run([sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", str(train_dir),
                             "--expected_hash", printed_hash], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS ") == len(ALL_CHECKS) and "FAIL" not in result.stdout


def test_assembling_twice_gives_same_bytes_and_replaces(trained, bundle_dir, capsys):
    train_dir, _ = trained
    again = bundle_dir.parent / "again"
    for _ in range(2):  # the second run replaces the first bundle
        with pytest.raises(SystemExit) as exit_info:
            run_cli(bundle.main, ["--train_dir", str(train_dir), "--out", str(again)])
        assert exit_info.value.code == 0
        assert "bundle " in capsys.readouterr().out
        assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in bundle_dir.iterdir())
        for path in bundle_dir.iterdir():
            assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    assert not [p.name for p in again.parent.iterdir() if p.name.startswith(".")]  # no staging or old folders left


def test_report_is_deterministic_json(bundle_dir, trained, tmp_path, capsys):
    _, printed_hash = trained
    reports = []
    for name in ("a.json", "b.json"):
        code, _, _ = run_verify(["--bundle_dir", str(bundle_dir), "--expected_hash", printed_hash,
                                 "--report", str(tmp_path / name)], capsys)
        assert code == 0
        reports.append((tmp_path / name).read_bytes())
    assert reports[0] == reports[1]
    report = json.loads(reports[0])
    assert report["all_passed"] is True and report["n_failed"] == 0
    assert [c["name"] for c in report["checks"]] == ALL_CHECKS and all(c["passed"] for c in report["checks"])
    code, _, _ = run_verify(["--bundle_dir", str(bundle_dir), "--expected_hash", "0" * 16, "--report", str(tmp_path / "c.json")], capsys)
    failed = json.loads((tmp_path / "c.json").read_text())
    assert code == 1 and failed["all_passed"] is False and failed["n_failed"] == 1 and failed["failed"] == ["feature_contract_hash"]


def test_expected_hash_defaults_to_the_pipeline_meta(bundle_dir, small_pipeline, capsys):
    code, out, err = run_verify(["--bundle_dir", str(bundle_dir), "--feature_meta_path", str(small_pipeline["meta"])], capsys)
    assert code == 0, out + err


def test_wrong_expected_hash_fails_only_that_check(bundle_dir, trained, capsys):
    _, printed_hash = trained
    wrong = "0123456789abcdef"
    code, out, err = run_verify(["--bundle_dir", str(bundle_dir), "--expected_hash", wrong], capsys)
    assert code == 1 and failed_checks(out) == {"feature_contract_hash"}
    assert f"{printed_hash} (feature_contract_hash.txt and bundle_metadata.json) (expected {wrong})" in out
    assert "feature_contract_hash" in err


# --- tampering --------------------------------------------------------------------------------------

def flip_weight_byte(directory: Path) -> None:
    weights = bytearray((directory / bundle.WEIGHTS).read_bytes())
    weights[len(weights) // 2] ^= 0x01
    (directory / bundle.WEIGHTS).write_bytes(bytes(weights))


def truncate_weights(directory: Path) -> None:
    weights = (directory / bundle.WEIGHTS).read_bytes()
    (directory / bundle.WEIGHTS).write_bytes(weights[: len(weights) // 2])


def edit_json(directory: Path, name: str, edit) -> None:
    document = json.loads((directory / name).read_text())
    edit(document)
    (directory / name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def set_ctx_cat_dim(directory: Path) -> None:
    edit_json(directory, bundle.METADATA, lambda m: m.update(expected_ctx_cat_dim=4))


def remove_snap_scaler(directory: Path) -> None:
    (directory / bundle.SNAP_SCALER_NAME).unlink()


def narrow_seq_scaler(directory: Path) -> None:
    n_seq = len(json.loads((directory / bundle.META_NAME).read_text())["contract"]["seq_features"])
    scaler = StandardScaler().fit(np.random.default_rng(0).normal(size=(50, n_seq - 3)))
    joblib.dump(scaler, directory / bundle.SEQ_SCALER_NAME)


def reorder_seq_features(directory: Path) -> None:
    def swap(meta):
        features = meta["contract"]["seq_features"]
        features[0], features[1] = features[1], features[0]
    edit_json(directory, bundle.META_NAME, swap)


def change_golden_output(directory: Path) -> None:
    def nudge(golden):
        golden["outputs"][0][0] += 1e-3
    edit_json(directory, bundle.GOLDEN, nudge)


def add_unlisted_weights(directory: Path) -> None:
    (directory / "nested").mkdir()
    shutil.copyfile(directory / bundle.WEIGHTS, directory / "nested" / "extra.pt")


def add_training_extras(directory: Path) -> None:
    (directory / "metrics.json").write_text("{}\n")
    (directory / "notes.txt").write_text("not loadable\n")


def add_checkpoint_folder(directory: Path) -> None:
    (directory / "checkpoints").mkdir()
    shutil.copyfile(directory / bundle.WEIGHTS, directory / "checkpoints" / "last.pt")


def rewrite_manifest(directory: Path) -> None:
    """A manifest that matches whatever bytes are there now (as a forger would write it)."""
    files = {n: (directory / n).read_bytes() for n in bundle.BUNDLE_FILES if (directory / n).exists()}
    (directory / bundle.MANIFEST).write_bytes(bundle.manifest_bytes(files))


TAMPER_CASES = [
    # (id, tamper, rewrite the manifest afterwards, exactly the failing checks, text in the first failing check's line)
    ("weights_byte_flipped", flip_weight_byte, False, {"manifest", "weights", "golden_sample"}, "model_state_dict.pt sha256"),
    ("weights_truncated", truncate_weights, False, {"manifest", "weights", "golden_sample"}, "model_state_dict.pt sha256"),
    ("weights_truncated_manifest_rewritten", truncate_weights, True, {"weights", "golden_sample"}, "is not a torch archive"),
    ("ctx_cat_dim_edited", set_ctx_cat_dim, True, {"expected_ctx_cat_dim", "model_config"}, "4 (expected 5)"),
    ("ctx_cat_dim_edited_manifest_stale", set_ctx_cat_dim, False,
     {"manifest", "expected_ctx_cat_dim", "model_config", "weights", "golden_sample"}, "bundle_metadata.json sha256"),
    ("file_missing", remove_snap_scaler, False, {"manifest", "scalers"}, "snap_scaler.joblib is missing"),
    ("scaler_wrong_dimension", narrow_seq_scaler, True, {"scalers"}, "seq scaler n_features_in_"),
    ("meta_feature_reordered", reorder_seq_features, True, {"contract"}, "(expected all equal)"),
    ("golden_output_changed", change_golden_output, True, {"golden_sample"}, "max abs diff 1.00e-03"),
    ("unlisted_loadable_file", add_unlisted_weights, False, {"manifest"}, 'unlisted loadable file "nested/extra.pt"'),
    ("checkpoint_folder_flagged", add_checkpoint_folder, False, {"manifest"}, 'unlisted loadable file "checkpoints/last.pt"'),
    ("training_extras_allowed", add_training_extras, False, set(), 'other files: "metrics.json", "notes.txt"'),
]


@pytest.mark.parametrize("case, tamper, rewrite, failing, message", TAMPER_CASES, ids=[c[0] for c in TAMPER_CASES])
def test_tampered_bundle_fails_the_right_checks(bundle_dir, trained, tmp_path, capsys, case, tamper, rewrite, failing, message):
    _, printed_hash = trained
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    tamper(copy)
    if rewrite:
        rewrite_manifest(copy)
    code, out, err = run_verify(["--bundle_dir", str(copy), "--expected_hash", printed_hash], capsys)
    assert failed_checks(out) == failing, out
    first = next((check_lines(out)[name] for name in ALL_CHECKS if name in failing), check_lines(out)["manifest"])
    assert message in first, first
    if failing:
        assert code == 1 and all(name in err for name in failing), err
        with pytest.raises(InputError, match=r"^\w+ check failed: "):  # the runtime refuses it too
            load_bundle(copy)
    else:
        assert code == 0, err


class _CreatesMarker:
    """A pickle whose unpickling creates a file (stands in for arbitrary code)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_with_wrong_sha256_is_never_unpickled(bundle_dir, trained, tmp_path, capsys):
    _, printed_hash = trained
    control = tmp_path / "control_marker"
    joblib.load(io.BytesIO(pickle.dumps(_CreatesMarker(control))))
    assert control.exists()  # the payload works when unpickled
    marker = tmp_path / "marker"
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / bundle.SEQ_SCALER_NAME).write_bytes(pickle.dumps(_CreatesMarker(marker)))
    code, out, _ = run_verify(["--bundle_dir", str(copy), "--expected_hash", printed_hash], capsys)
    assert code == 1 and {"manifest", "scalers"} <= failed_checks(out)
    assert "seq_scaler.joblib did not match the manifest sha256: not loaded" in check_lines(out)["scalers"]
    with pytest.raises(InputError, match="manifest check failed: .*seq_scaler.joblib sha256"):
        load_bundle(copy)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(bundle.main, ["--train_dir", str(copy), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and not (tmp_path / "out").exists()
    assert not marker.exists()


def test_refuses_train_dir_that_fails_and_non_bundle_target(trained, tmp_path, capsys):
    train_dir, _ = trained
    copy = tmp_path / "train"
    shutil.copytree(train_dir, copy)
    flip_weight_byte(copy)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(bundle.main, ["--train_dir", str(copy), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "manifest check failed" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]  # nothing left behind
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(bundle.main, ["--train_dir", str(train_dir), "--out", str(occupied)])
    assert exit_info.value.code == 2 and "not a gx1 bundle" in capsys.readouterr().err
    assert (occupied / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("argv, message", [
    ([], "--bundle_dir"),
    (["--bundle_dir", "{bundle}", "--bogus", "1"], "unrecognized arguments"),
    (["--bundle_dir", "{bundle}", "--expected_hash", "93ab1d3"], "16 hex digits"),
    (["--bundle_dir", "{bundle}", "--expected_hash", "0" * 16, "--feature_meta_path", "x.json"], "not allowed with"),
    (["--bundle_dir", "{missing}", "--expected_hash", "0" * 16], "bundle directory not found"),
    (["--bundle_dir", "{bad_manifest}", "--expected_hash", "0" * 16], "not valid JSON"),
    (["--bundle_dir", "{bundle}"], "feature meta not found"),  # default meta path, run outside the repository
])
def test_bad_usage_exits_2_with_one_line(bundle_dir, tmp_path, monkeypatch, capsys, argv, message):
    bad_manifest = tmp_path / "bad_manifest"
    shutil.copytree(bundle_dir, bad_manifest)
    (bad_manifest / bundle.MANIFEST).write_text("{")
    paths = {"bundle": str(bundle_dir), "missing": str(tmp_path / "nope"), "bad_manifest": str(bad_manifest)}
    monkeypatch.chdir(tmp_path)
    code, out, err = run_verify([a.format(**paths) for a in argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "PASS" not in out


def test_runtime_reproduces_golden_sample_from_the_dataset(bundle_dir, small_pipeline):
    """The runtime data path (dataset -> bundle scalers -> model) gives the training-time golden outputs."""
    loaded = load_bundle(bundle_dir)
    golden = json.loads((bundle_dir / bundle.GOLDEN).read_text())
    data = read_dataset(str(small_pipeline["data"]))
    outputs = loaded.predict(loaded.model_inputs(data), np.array(golden["rows"]))
    np.testing.assert_allclose(outputs, np.array(golden["outputs"]), atol=1e-5, rtol=0)
    assert loaded.contract_hash == (bundle_dir / bundle.HASH_FILE).read_text().strip() and loaded.seq_len == 30


def test_bundle_without_context_reports_the_plan_checks_and_still_loads(small_pipeline, tmp_path, capsys):
    """A v10 bundle (written directly, untrained) is sound but not what the plan requires."""
    meta = json.loads(Path(small_pipeline["meta"]).read_text())
    contract = meta["contract"]
    seq_scaler = load_scaler(small_pipeline["seq_scaler"], meta["scalers"]["seq"]["sha256"], "seq scaler")
    snap_scaler = load_scaler(small_pipeline["snap_scaler"], meta["scalers"]["snap"]["sha256"], "snap scaler")
    data = read_dataset(str(small_pipeline["data"]))
    cfg = EntryV10Config(n_seq_features=len(contract["seq_features"]), n_snap_features=len(contract["snap_features"]),
                         use_context=False, d_model=32, n_layers=1, snap_hidden=32, fusion_hidden=32)
    torch.manual_seed(0)
    model = EntryV10Model(cfg).eval()
    out = tmp_path / "v10"
    out.mkdir()
    golden = bundle.golden_sample(model, build_model_inputs(data, contract, seq_scaler, snap_scaler, cfg.seq_len),
                                     np.flatnonzero(data["eligible"])[:4], data["time"])
    files = bundle.bundle_file_bytes(model, {}, *(Path(small_pipeline[k]).read_bytes() for k in ("meta", "seq_scaler", "snap_scaler")),
                                        golden, bundle.environment_facts(torch.device("cpu"), 1), {})
    bundle.write_bundle(out, files)
    code, stdout, _ = run_verify(["--bundle_dir", str(out), "--feature_meta_path", str(small_pipeline["meta"])], capsys)
    assert code == 1
    assert failed_checks(stdout) == {"supports_context_features", "expected_ctx_cat_dim", "expected_ctx_cont_dim", "model_variant"}
    assert "FAIL model_variant: \"v10\" (expected \"v10_ctx\")" in stdout
    assert load_bundle(out).metadata["model_variant"] == "v10"
