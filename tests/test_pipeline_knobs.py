"""The knobs stage (gx1.pipeline_knobs): params.yaml's training knobs reach the train and fold stages through
reports/knobs/{train,fold}.json, a new TrainConfig knob needs no change to dvc.yaml, and a bad key or value is
refused with one line and nothing written.

    python3 -m pytest -q tests/test_pipeline_knobs.py
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gx1 import pipeline_knobs
from gx1.common import InputError, run_cli
from gx1.models.entry_v10.entry_v10_ctx_train import parse_args
from gx1.training import config
from gx1.walkforward import TRAIN_KNOBS

REPO = Path(__file__).resolve().parents[1]
PATHS = ["--data", "d.parquet", "--out_dir", "out", "--feature_meta_path", "m.json", "--seq_scaler_path", "s.joblib",
         "--snap_scaler_path", "n.joblib"]


def write_params(tmp_path: Path, **changes) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_stage(params: Path, out_dir: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(pipeline_knobs.main, ["--params", str(params), "--out_dir", str(out_dir)])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.err


def test_the_stage_writes_typed_knobs_that_the_trainer_reads_back(tmp_path, capsys):
    params = write_params(tmp_path, epochs=5, learning_rate="3e-4", holdout_days=3)  # "3e-4": YAML reads a string
    code, _ = run_stage(params, tmp_path / "knobs", capsys)
    assert code == 0
    train = json.loads((tmp_path / "knobs/train.json").read_text())
    assert (train["epochs"], train["learning_rate"], train["holdout_days"]) == (5, 3e-4, 3.0)
    assert isinstance(train["holdout_days"], float)
    cfg = parse_args(["--knobs", str(tmp_path / "knobs/train.json"), *PATHS])
    assert (cfg.epochs, cfg.learning_rate, cfg.holdout_days, cfg.seq_len) == (5, 3e-4, 3.0, train["seq_len"])
    assert parse_args(["--knobs", str(tmp_path / "knobs/train.json"), *PATHS, "--epochs", "7"]).epochs == 7  # flag wins
    assert parse_args(PATHS).epochs == config.knob_defaults()["epochs"]  # no file: the defaults
    fold = json.loads((tmp_path / "knobs/fold.json").read_text())
    assert "epochs" not in fold and "holdout_days" not in fold and fold["learning_rate"] == 3e-4
    assert config.read_knob_file(str(tmp_path / "knobs/fold.json"), TRAIN_KNOBS) == fold


def test_the_same_knobs_give_the_same_bytes_whatever_else_changes(tmp_path, capsys):
    first = write_params(tmp_path)
    assert run_stage(first, tmp_path / "a", capsys)[0] == 0
    other = yaml.safe_load(first.read_text())
    other["replay"]["dir_threshold"] = 0.6
    other["walkforward"]["epochs"] = 3
    first.write_text(yaml.safe_dump(other))
    assert run_stage(first, tmp_path / "b", capsys)[0] == 0
    for name in ("train.json", "fold.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_new_training_knob_reaches_both_stages(monkeypatch):
    """What a field added to TrainConfig gets without any change to dvc.yaml or the knobs stage."""
    field = config.knob(0.1, "dropout of a hypothetical new layer", low=0.0, high=1.0)
    field.name = "dropout"
    monkeypatch.setitem(config.KNOB_FIELDS, "dropout", field)  # what a new TrainConfig field puts there
    params = {**yaml.safe_load((REPO / "params.yaml").read_text()), "dropout": 0.25}
    knobs = pipeline_knobs.split_knobs(params, "params.yaml")
    assert knobs["train"]["dropout"] == 0.25 and knobs["fold"]["dropout"] == 0.25
    with pytest.raises(InputError, match="dropout must be in"):
        pipeline_knobs.split_knobs({**params, "dropout": 2}, "params.yaml")


@pytest.mark.parametrize("changes, message", [
    ({"epoch": 5}, "top-level key 'epoch' is no training knob"),  # a typo in a hand edit
    ({"epochs": True}, "epochs must be a plain int"),
    ({"epochs": 2.5}, "epochs not a int"),
    ({"epochs": 0}, "epochs must be in"),
    ({"learning_rate": "fast"}, "learning_rate not a float"),
    ({"seed": [1, 2]}, "seed must be a plain int"),
    ({"device": "gpu"}, "device must be one of cpu, cuda, auto"),
    ({"train_end": "yesterday"}, "train_end not an ISO date"),
])
def test_a_bad_key_or_value_is_refused_with_one_line_and_nothing_written(tmp_path, capsys, changes, message):
    code, err = run_stage(write_params(tmp_path, **changes), tmp_path / "knobs", capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "knobs").exists()


@pytest.mark.parametrize("content, message", [
    ('["epochs", 5]', "is not a JSON object"),
    ('{"holdout_days": 7}', "'holdout_days' is not one of the knobs it may set"),  # a fold sets it itself
    ('{"epochs": "5"}', None),  # a number as text is read as the flag reads it
    ('{"seq_len": -1}', "seq_len must be in"),
])
def test_a_walkforward_knobs_file_is_checked(tmp_path, content, message):
    path = tmp_path / "fold.json"
    path.write_text(content)
    if message is None:
        assert config.read_knob_file(str(path), TRAIN_KNOBS) == {"epochs": 5}
    else:
        with pytest.raises(InputError, match=message):
            config.read_knob_file(str(path), TRAIN_KNOBS)
