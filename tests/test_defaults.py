"""One source of defaults: params.yaml's values equal the dataclasses' defaults, except the differences named here,
and every knob params.yaml sets reaches the train and fold stages through the knobs stage, none through dvc.yaml.

    python3 -m pytest -q tests/test_defaults.py
"""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from gx1.features import LabelConfig
from gx1.pipeline_knobs import FOLD_SETS, PIPELINE_KEYS, TRAIN_STAGE_ONLY, split_knobs
from gx1.replay_config import POLICY_FLAGS, ReplayConfig
from gx1.training.config import TrainConfig, knob_defaults
from gx1.walkforward import REPLAY_KNOBS, TRAIN_KNOBS

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]

# params.yaml value != TrainConfig default, on purpose: knob -> why
TRAIN_DIFFERENCES = {
    "epochs": "the pipeline trains 2 full-year epochs; a bare command line 1 (quick by default)",
    "log_every": "the pipeline logs every 100 steps (a full year is ~100k steps); a bare command line every 50",
    "holdout_days": "the pipeline holds out the replay week (7 days); the plan's bare command line trains on all rows",
}
# TrainConfig knobs the pipeline does not set in params.yaml: knob -> its fixed value in dvc.yaml's train command
FIXED_IN_DVC_YAML = {"num_workers": "0", "device": "cpu"}


def test_params_equal_the_training_defaults_except_the_named_differences():
    defaults = knob_defaults()
    top = {k: v for k, v in PARAMS.items() if k not in PIPELINE_KEYS}
    assert set(top) | set(FIXED_IN_DVC_YAML) | {"train_end"} == set(defaults), "a knob without a place: name it here"
    differ = {k for k, v in top.items() if v != defaults[k] or isinstance(v, bool) != isinstance(defaults[k], bool)}
    assert differ == set(TRAIN_DIFFERENCES), {k: (top[k], defaults[k]) for k in differ}


def test_replay_and_label_params_equal_the_dataclass_defaults():
    replay_defaults = ReplayConfig(bundle_dir="")
    assert set(PARAMS["replay"]) == set(POLICY_FLAGS)
    assert {k: getattr(replay_defaults, k) for k in POLICY_FLAGS} == PARAMS["replay"]
    labels = LabelConfig()
    assert {k: getattr(labels, k) for k in PARAMS["dataset"]} == PARAMS["dataset"]
    assert labels.seq_len == PARAMS["seq_len"]


def test_walkforward_passes_every_knob_it_does_not_set_itself():
    assert set(TRAIN_KNOBS) | set(FOLD_SETS) == set(knob_defaults())
    assert set(REPLAY_KNOBS) == set(POLICY_FLAGS) | {"instrument"}


@pytest.mark.parametrize("stage", ["train", "fold"])
def test_no_knob_goes_through_dvc_yaml_but_its_knobs_file(stage):
    body = STAGES[stage].get("do", STAGES[stage])
    knobs_file = f"reports/knobs/{stage}.json"
    assert f"--knobs {knobs_file}" in body["cmd"] and knobs_file in body["deps"]
    assert STAGES["knobs"]["outs"] == ["reports/knobs/train.json", "reports/knobs/fold.json"]
    named = set(re.findall(r"\$\{(\w+)\}", body["cmd"])) | {p for p in body["params"] if isinstance(p, str)}
    assert named & set(knob_defaults()) == set(), "pass a training knob through its knobs file, not dvc.yaml"
    if stage == "train":
        flags = dict(re.findall(r"--(\w+) (\S+)", body["cmd"]))
        assert {k: flags[k] for k in FIXED_IN_DVC_YAML} == FIXED_IN_DVC_YAML
    else:  # a fold trains walkforward.epochs epochs
        assert "--epochs ${walkforward.epochs}" in body["cmd"]


def test_the_knobs_stage_alone_tracks_the_whole_params_file():
    assert STAGES["knobs"]["params"] == [{"params.yaml": None}]
    whole = [name for name, body in STAGES.items() if {"params.yaml": None} in body.get("do", body).get("params", [])]
    assert whole == ["knobs"], "a stage tracking all of params.yaml reruns on every change"


def test_the_knob_files_hold_what_params_yaml_sets():
    knobs = split_knobs(PARAMS, "params.yaml")
    assert set(knobs["train"]) == set(knob_defaults()) & set(PARAMS)
    assert set(knobs["fold"]) == set(knobs["train"]) - set(FOLD_SETS) - set(TRAIN_STAGE_ONLY)
    assert set(knobs["fold"]) <= set(TRAIN_KNOBS)
    for name, value in knobs["train"].items():
        assert value == PARAMS[name] and type(value) is type(knob_defaults()[name]), name


def test_train_config_fields_are_flags_and_knobs():
    from gx1.models.entry_v10.entry_v10_ctx_train import build_parser
    flags = {a.dest for a in build_parser()._actions} - {"help", "knobs"}
    assert flags == {f.name for f in fields(TrainConfig) if not f.metadata.get("env")}
