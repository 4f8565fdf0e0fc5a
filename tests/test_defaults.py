"""One source of defaults: params.yaml's values equal the dataclasses' defaults, except the differences named here,
and dvc.yaml passes on every knob params.yaml sets.

    python3 -m pytest -q tests/test_defaults.py
"""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from gx1.features import LabelConfig
from gx1.replay_config import POLICY_FLAGS, ReplayConfig
from gx1.training.config import TrainConfig, knob_defaults
from gx1.walkforward import FOLD_SETS, REPLAY_KNOBS, TRAIN_KNOBS

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]

# params.yaml value != TrainConfig default, on purpose: knob -> why
TRAIN_DIFFERENCES = {
    "epochs": "the pipeline trains 2 full-year epochs; a bare command line 1 (quick by default)",
    "log_every": "the pipeline logs every 100 steps (a full year is ~100k steps); a bare command line every 50",
    "holdout_days": "the pipeline holds out the replay week (7 days); the plan's bare command line trains on all rows",
}
# params.yaml keys that are no TrainConfig knob: key -> where the value goes
PIPELINE_ONLY = {
    "reproducibility": "GX1_REPRODUCIBILITY in every stage's environment (gx1.cpu)",
    "context_features": "ENTRY_CONTEXT_FEATURES_ENABLED (TrainConfig.context_features_enabled, from the environment; "
                        "the bare command line trains v10, the pipeline v10_ctx)",
    "data": "the data stage (gx1.sources)", "dataset": "the dataset stage (LabelConfig, checked below)",
    "replay": "the replay stage (ReplayConfig, checked below)", "walkforward": "the fold stages",
}
# TrainConfig knobs the pipeline does not set in params.yaml: knob -> its fixed value in dvc.yaml's train command
FIXED_IN_DVC_YAML = {"num_workers": "0", "device": "cpu"}


def test_params_equal_the_training_defaults_except_the_named_differences():
    defaults = knob_defaults()
    top = {k: v for k, v in PARAMS.items() if k not in PIPELINE_ONLY}
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
def test_dvc_yaml_passes_every_knob_params_sets(stage):
    cmd = STAGES[stage].get("do", STAGES[stage])["cmd"]
    flags = dict(re.findall(r"--(\w+) (\S+)", cmd))
    knobs = set(knob_defaults()) & set(PARAMS) - ({"holdout_days", "log_every", "limit_samples", "val_days", "nproc_per_node"}
                                                   if stage == "fold" else set())
    assert {k for k in knobs if flags.get(k) != f"${{{k}}}"} == (set() if stage == "train" else {"epochs"})
    if stage == "train":
        assert {k: flags[k] for k in FIXED_IN_DVC_YAML} == FIXED_IN_DVC_YAML
    else:  # a fold trains walkforward.epochs epochs
        assert flags["epochs"] == "${walkforward.epochs}"


def test_train_config_fields_are_flags_and_knobs():
    from gx1.models.entry_v10.entry_v10_ctx_train import build_parser
    flags = {a.dest for a in build_parser()._actions} - {"help"}
    assert flags == {f.name for f in fields(TrainConfig) if not f.metadata.get("env")}
